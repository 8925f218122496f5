"""Per-frame cost of the PyTorch backend: CUDA-graph replay against eager PyTorch on the GPU.

A small, deep network (launch-bound, as many robot perception heads are) at batch 1:
- "trtpipe" = TorchEngine with CUDA graphs, input already on the GPU (infer_tensors);
- "torch eager" = the same module called directly, same input;
- "trtpipe eager" = TorchEngine with cuda_graph=False (the wrapper's own overhead);
GPU time from CUDA events around each frame; host time with time.perf_counter including the
copy of the output to the host (infer). Results: $TRTPIPE_BENCH_OUT (default bench/results).

python -m pytest bench/test_bench_torch_backend.py -q -s
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from bench.report import Series, markdown_table, write

torch = pytest.importorskip("torch")

FRAMES = 300
WARMUP = 30
SHAPE = (1, 3, 64, 64)


def deep_net() -> torch.nn.Module:
    layers: list[torch.nn.Module] = [torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU()]
    for _ in range(20):
        layers += [torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU()]
    layers.append(torch.nn.Conv2d(16, 4, 1))
    return torch.nn.Sequential(*layers).eval()


def _gpu_times(step) -> np.ndarray:
    samples = []
    for i in range(WARMUP + FRAMES):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        step()
        end.record()
        end.synchronize()
        if i >= WARMUP:
            samples.append(start.elapsed_time(end) * 1000.0)
    return np.asarray(samples)


def _host_times(step) -> np.ndarray:
    samples = []
    for i in range(WARMUP + FRAMES):
        t0 = time.perf_counter()
        step()
        if i >= WARMUP:
            samples.append((time.perf_counter() - t0) * 1e6)
    return np.asarray(samples)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_graph_against_eager():
    from trtpipe.backends.torch import TorchEngine

    module = deep_net().cuda()
    graphed = TorchEngine(module, device="cuda", input_shapes={"x": SHAPE})
    wrapped = TorchEngine(module, device="cuda", input_shapes={"x": SHAPE}, cuda_graph=False)
    x_gpu = torch.rand(SHAPE, device="cuda")
    x_host = x_gpu.cpu().numpy()

    def eager_step():
        with torch.no_grad():
            return module(x_gpu)

    def eager_host_step():
        with torch.no_grad():
            return module(torch.from_numpy(x_host).cuda()).cpu().numpy()

    # Same answers first: a faster wrong answer is not a result.
    want = eager_step().cpu().numpy()
    np.testing.assert_allclose(graphed.infer({"x": x_gpu})["output0"], want, rtol=1e-4, atol=1e-4)

    case_gpu = "deep conv net 64x64, GPU input -> GPU output"
    case_host = "deep conv net 64x64, NumPy in -> NumPy out"
    series = [
        Series(
            case_gpu,
            "trtpipe",
            _gpu_times(lambda: graphed.infer_tensors({"x": x_gpu})),
            "gpu",
            "TorchEngine, CUDA graph",
        ),
        Series(case_gpu, "torch eager", _gpu_times(eager_step), "gpu", "module(x)"),
        Series(
            case_gpu,
            "trtpipe eager",
            _gpu_times(lambda: wrapped.infer_tensors({"x": x_gpu})),
            "gpu",
            "TorchEngine, cuda_graph=False",
        ),
        Series(
            case_host,
            "trtpipe",
            _host_times(lambda: graphed.infer({"x": x_host})),
            "host",
            "TorchEngine.infer, CUDA graph",
        ),
        Series(case_host, "torch eager", _host_times(eager_host_step), "host", "module(x)"),
    ]
    out = Path(os.environ.get("TRTPIPE_BENCH_OUT", Path(__file__).parent / "results"))
    write(series, out, "torch_backend", "# PyTorch backend: CUDA graph vs eager")
    print(markdown_table(series))
