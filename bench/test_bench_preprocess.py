"""Preprocessing a 1080p frame into a 640×640 fp16 letterboxed input, trtpipe against its
peers in one run (host time per frame, synchronised), and the full GPU-time suite.

    python -m pytest bench/test_bench_preprocess.py --benchmark-only   # pytest-benchmark
    python -m bench.preprocess                                         # CUDA-event GPU times

The GPU cases need a CUDA GPU, PyTorch and CuPy and skip otherwise; the CPU cases run anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from bench import preprocess as suite


@pytest.mark.parametrize("threads", [None, 1], ids=["all cores", "1 thread"])
def test_trtpipe_cpu_path(benchmark, threads):
    from trtpipe.preprocess import Preprocessor

    frame = suite.host_frames("bgr8", 1)[0]
    pre = Preprocessor(size=(suite.DST, suite.DST), dtype="float16", device="cpu", threads=threads)
    out = pre.empty(1)
    benchmark(pre, frame, out, "bgr8")


def test_opencv_cpu_chain(benchmark):
    cv2 = pytest.importorskip("cv2")
    run = suite.opencv_pipeline(cv2, "bgr8", "float16")
    blob = benchmark(run, [suite.host_frames("bgr8", 1)[0]])
    assert blob.shape == (1, 3, suite.DST, suite.DST)


def test_cpu_suite_compares_with_opencv_in_the_same_run():
    pytest.importorskip("cv2")
    series = suite.collect_cpu(quick=True)
    for case in suite.CPU_CASES:
        impls = {s.impl for s in series if s.case == suite.cpu_case_name(case)}
        assert {"trtpipe", "trtpipe 1 thread", "OpenCV CPU", "OpenCV CPU 1 thread"} <= impls
    assert all(np.all(s.samples_us > 0) for s in series)
    assert len(suite.cpu_targets(series)) == 2 * len(suite.CPU_CASES)


def _gpu_or_skip():
    torch = pytest.importorskip("torch")
    pytest.importorskip("cupy")
    from trtpipe import _core

    if not _core.build_info()["with_cuda"] or not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU and a CUDA-enabled trtpipe._core")
    return torch


@pytest.fixture(scope="module")
def setup():
    torch = _gpu_or_skip()
    from trtpipe.preprocess import Preprocessor

    frame = suite.host_frames("bgr8", 1)[0]
    pre = Preprocessor(size=(suite.DST, suite.DST), dtype="float16", device="cuda")
    return torch, frame, pre, torch.cuda.Stream()


@pytest.mark.parametrize("source", ["device", "pinned host", "pageable host"])
def test_trtpipe(benchmark, setup, source):
    torch, frame, pre, stream = setup
    out = pre.empty(1, stream=stream.cuda_stream)
    if source == "device":
        image = torch.from_numpy(frame).cuda()
    elif source == "pinned host":
        image = suite._pinned_copy(torch, frame)
    else:
        image = frame

    def run():
        pre(image, out, "bgr8", stream=stream.cuda_stream)
        stream.synchronize()

    benchmark(run)


def test_pytorch_op_chain_from_device(benchmark, setup):
    torch, frame, _, stream = setup
    chain = suite.TorchChain(torch, "bgr8", "float16")
    image = torch.from_numpy(frame).cuda()[None]
    out = torch.empty((1, 3, suite.DST, suite.DST), dtype=torch.float16, device="cuda")

    def run():
        with torch.cuda.stream(stream):
            chain(image, out)
        stream.synchronize()

    benchmark(run)


def test_opencv_cpu(benchmark, setup):
    cv2 = pytest.importorskip("cv2")
    _, frame, _, _ = setup
    run = suite.opencv_pipeline(cv2, "bgr8", "float16")
    blob = benchmark(run, [frame])
    assert blob.shape == (1, 3, suite.DST, suite.DST)


def test_gpu_time_suite_writes_the_report(setup):
    """The CUDA-event suite in quick mode; the table lands in $TRTPIPE_BENCH_OUT."""
    series = suite.collect(quick=True)
    out_dir = Path(os.environ.get("TRTPIPE_BENCH_OUT", "bench/results"))
    path = suite.write_report(series, out_dir, "## preprocess (quick)")
    assert path.exists()
    cases = {s.case for s in series}
    for case in suite.CASES:
        impls = {s.impl for s in series if s.case == case.name}
        assert {"trtpipe", "PyTorch op chain"} <= impls
    assert all(np.all(s.samples_us > 0) for s in series)
    assert len(cases) >= len(suite.CASES)
