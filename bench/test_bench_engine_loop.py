"""Per-frame host overhead of an engine's own frames in the frame pipeline, around a trivial
network (target: <= 5 µs from Python with graph replay).

python -m pytest bench/test_bench_engine_loop.py --benchmark-only
"""

from __future__ import annotations

import numpy as np
import pytest

from trtpipe import _core, _core_testing
from trtpipe.backends.base import ModelStep
from trtpipe.frame_pipeline import TensorFrames


def _no_gpu_reason() -> str | None:
    if not _core.build_info()["with_cuda"]:
        return "trtpipe._core was built without CUDA"
    devices = _core.query_devices()
    return None if devices["gpus"] else f"no usable GPU: {devices['reason']}"


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(_no_gpu_reason() is not None, reason=str(_no_gpu_reason())),
]

FRAME = np.arange(4, dtype=np.float32).reshape(1, 4)


def _runner(cuda_graphs: bool, slots: int = 2) -> TensorFrames:
    model = _core_testing.ScaleModel(channels=4, static_batch=1)
    step = _core.engine.ContextStep(model, resizable=True)
    return TensorFrames(ModelStep(step, owner=model), slots, graphs=cuda_graphs)


@pytest.mark.parametrize("cuda_graphs", [True, False], ids=["graph-replay", "plain-enqueue"])
def test_submit_result_one_frame(benchmark, cuda_graphs):
    runner = _runner(cuda_graphs)
    inputs = {"input": FRAME}

    def one_frame():
        return runner.result(runner.submit(inputs), 10_000.0)

    for _ in range(3):  # warm-up and capture, also where benchmarks run once (--benchmark-disable)
        one_frame()
    out = benchmark(one_frame)
    np.testing.assert_allclose(out["scaled"], FRAME * 2 + 1)
    stats = runner.stats()
    if cuda_graphs:
        assert stats["graph_frames"] > 0, stats["stopped"]
    else:
        assert stats["graph_frames"] == 0


@pytest.mark.parametrize("cuda_graphs", [True, False], ids=["graph-replay", "plain-enqueue"])
def test_pipelined_two_in_flight(benchmark, cuda_graphs):
    runner = _runner(cuda_graphs)
    inputs = {"input": FRAME}
    pending = [runner.submit(inputs)]

    def next_frame():
        # One frame always stays in flight while the next is submitted.
        pending.append(runner.submit(inputs))
        return runner.result(pending.pop(0), 10_000.0)

    out = benchmark(next_frame)
    runner.result(pending.pop(0), 10_000.0)
    np.testing.assert_allclose(out["row_sum"], (FRAME * 2 + 1).sum(axis=1))


@pytest.mark.parametrize("copy", [True, False], ids=["copies", "views"])
def test_host_overhead_python_graph_replay(benchmark, copy):
    """One frame submitted as a list, waited for and collected, outputs as copies or as views of
    the pinned buffers."""
    runner = _runner(True)
    inputs = [FRAME]

    def finished_frame():
        ticket = runner.submit(inputs)
        runner.wait(ticket, 10_000.0)
        return runner.result(ticket, 10_000.0, copy)

    for _ in range(3):  # warm-up and capture, also where benchmarks run once (--benchmark-disable)
        finished_frame()
    out = benchmark(finished_frame)
    np.testing.assert_allclose(out["scaled"], FRAME * 2 + 1)
    assert runner.stats()["graph_frames"] > 0, runner.stats()["stopped"]
