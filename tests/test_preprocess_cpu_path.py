"""The fast CPU path (per-geometry taps, row fills, whole-row float16, several threads) against
the per-pixel CPU reference: the same bits for every encoding, geometry, layout, dtype and
thread count."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import preprocess_oracle as oracle
from trtpipe import _core
from trtpipe.errors import InputError
from trtpipe.preprocess import ENCODINGS, Preprocessor

RNG = np.random.default_rng(20261202)


def raw_frame(encoding: str, width: int, height: int, extra_step: int = 0, rng=RNG):
    row = width * oracle.BYTES_PER_PIXEL[encoding]
    rows = height * 3 // 2 if encoding == "nv12" else height
    data = rng.integers(0, 256, size=(rows, row), dtype=np.uint8)
    return oracle.pack(data, row + extra_step), row + extra_step


def assert_same_bits(pre: Preprocessor, buf, encoding, width, height, step, batch=1, index=0):
    """Fast path and reference write the same bytes into their slot and leave the others."""
    fast = np.full(pre.output_shape(batch), -3.0, dtype=pre.dtype)
    ref = np.full(pre.output_shape(batch), -3.0, dtype=pre.dtype)
    args = dict(width=width, height=height, step=step, batch_index=index)
    lb_fast = pre(buf, fast, encoding, **args)
    lb_ref = pre.reference(buf, ref, encoding, **args)
    assert lb_fast == lb_ref
    np.testing.assert_array_equal(fast.view(np.uint8), ref.view(np.uint8))
    assert not np.all(fast[index] == -3.0)  # the slot was written


@st.composite
def cpu_case(draw):
    encoding = draw(st.sampled_from(ENCODINGS))
    width, height = draw(st.integers(1, 90)), draw(st.integers(1, 70))
    if encoding in (*oracle.YUV422, "nv12"):
        width += width % 2
    if encoding == "nv12":
        height += height % 2
    options = dict(
        size=(draw(st.integers(1, 80)), draw(st.integers(1, 80))),
        layout=draw(st.sampled_from(["NCHW", "NHWC"])),
        dtype=draw(st.sampled_from(["float32", "float16"])),
        channel_order=draw(st.sampled_from(["RGB", "BGR"])),
        resize=draw(st.sampled_from(["letterbox", "stretch"])),
        interpolation=draw(st.sampled_from(["bilinear", "nearest"])),
        pad_value=draw(st.integers(0, 255)),
        scale=draw(st.sampled_from([1.0, 1 / 255, 1e-7, 300.0])),
        mean=draw(st.lists(st.floats(-2.0, 2.0), min_size=3, max_size=3)),
        std=draw(st.lists(st.sampled_from([0.229, 1.0, 0.01, -3.0]), min_size=3, max_size=3)),
        threads=draw(st.integers(1, 4)),
    )
    batch = draw(st.integers(1, 3))
    return (encoding, width, height, draw(st.integers(0, 9)), options, batch,
            draw(st.integers(0, batch - 1)), draw(st.integers(0, 2**31)))  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cpu_case())
def test_fast_path_is_the_reference_bit_for_bit(case):
    encoding, width, height, extra, options, batch, index, seed = case
    buf, step = raw_frame(encoding, width, height, extra, np.random.default_rng(seed))
    pre = Preprocessor(device="cpu", **options)
    with np.errstate(over="ignore"):
        assert_same_bits(pre, buf, encoding, width, height, step, batch, index)


@pytest.mark.parametrize("encoding", ["bgr8", "rgba8", "mono8", "yuyv", "nv12"])
@pytest.mark.parametrize(
    ("src", "dst", "resize"),
    [
        ((1920, 1080), (640, 640), "letterbox"),  # exact 3:1, one tap per axis
        ((1920, 1080), (640, 640), "stretch"),  # two taps per row
        ((640, 480), (1000, 1000), "letterbox"),  # upscale, two taps per axis
    ],
)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_full_size_frames_on_several_threads(encoding, src, dst, resize, threads):
    buf, step = raw_frame(encoding, *src, extra_step=64)
    for dtype, layout in (("float16", "NCHW"), ("float32", "NHWC")):
        pre = Preprocessor(
            size=dst, dtype=dtype, layout=layout, resize=resize, device="cpu", threads=threads
        )
        assert_same_bits(pre, buf, encoding, *src, step, batch=2, index=1)


def test_a_preprocessor_serves_frames_of_changing_sizes():
    """Taps are kept per frame size: more sizes than are kept, and back again."""
    pre = Preprocessor(size=(64, 48), device="cpu", threads=2)
    sizes = [(40 + 7 * i, 30 + 5 * i) for i in range(11)]
    for width, height in sizes + sizes[::-1]:
        buf, step = raw_frame("rgb8", width, height)
        assert_same_bits(pre, buf, "rgb8", width, height, step)


def test_calls_from_several_threads_at_once_are_each_right():
    pre = Preprocessor(size=(320, 320), dtype="float16", device="cpu", threads=2)
    frames = [RNG.integers(0, 256, size=(480, 640, 3), dtype=np.uint8) for _ in range(4)]
    want = []
    for frame in frames:
        ref = pre.empty(1)
        pre.reference(frame, ref)
        want.append(ref)
    got = [pre.empty(1) for _ in frames]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(5):
                pre(frames[i], got[i])
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(len(frames))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.view(np.uint16), w.view(np.uint16))


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2", 100_000])
def test_bad_thread_counts_raise_input_error(threads):
    with pytest.raises(InputError, match=r"threads: expected None .* or an int in 1\.\.256"):
        Preprocessor(device="cpu", threads=threads)
    with pytest.raises(InputError, match=r"threads: expected 0 .* or more, given -2"):
        _core.CpuPreprocessor(Preprocessor(device="cpu")._options, -2)


def test_thread_count_defaults_to_the_usable_cores_up_to_eight():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    pre = Preprocessor(device="cpu")
    assert pre._cpu_path().threads == min(cores or 1, 8)
    assert Preprocessor(device="cpu", threads=3)._cpu_path().threads == 3


def test_reference_refuses_gpu_outputs_and_bad_input_like_the_fast_path():
    pre = Preprocessor(size=(16, 16), device="cpu")
    out = pre.empty(1)
    for run in (pre, pre.reference):
        with pytest.raises(InputError, match="step: expected at least"):
            run(np.zeros(100, np.uint8), out, "bgr8", width=10, height=3, step=20)
        with pytest.raises(InputError, match="out: expected dtype float32, given float16"):
            run(np.zeros((4, 4, 3), np.uint8), np.zeros(out.shape, np.float16))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_runs_its_own_workers():
    """A data-loader pattern: a Preprocessor used in the parent, then in a forked child."""
    import select
    import signal

    pre = Preprocessor(size=(320, 320), device="cpu", threads=2)
    image = RNG.integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    want, got = pre.empty(1), pre.empty(1)
    pre.reference(image, want)
    pre(image, got)  # the parent's workers are running now
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's cleanup
        verdict = b"?"
        try:
            for _ in range(3):
                out = pre.empty(1)
                pre(image, out)
            verdict = b"1" if np.array_equal(out, want) else b"0"
        finally:
            os.write(write_end, verdict)
            os._exit(0)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], 60.0)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    verdict = os.read(read_end, 1) if ready else b"hung"
    os.close(read_end)
    os.waitpid(pid, 0)
    assert verdict == b"1"
    pre(image, got)  # and the parent's workers still serve the parent
    np.testing.assert_array_equal(got, want)
