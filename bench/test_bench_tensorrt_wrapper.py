"""What TensorRTEngine's Python code adds to a frame, without a GPU: submit() + result() over a
runner that does nothing, against calling that runner directly (the wrapper's share of the
<= 10 µs per-frame host budget).

python -m pytest bench/test_bench_tensorrt_wrapper.py --benchmark-only
"""

from __future__ import annotations

import numpy as np
import pytest

from trtpipe.backends.tensorrt import TensorRTEngine

OUTPUTS = {"scaled": np.zeros((1, 4), np.float32), "row_sum": np.zeros(1, np.float32)}
INPUTS = {"input": np.zeros((1, 4), np.float32)}


class IdleRunner:
    """_core's runner interface, doing nothing: only the Python around it is timed."""

    def submit(self, inputs: object) -> int:
        return 1

    def result(self, ticket: int, timeout_ms: float, copy: bool = True) -> dict:
        return OUTPUTS


def _engine(runner: IdleRunner) -> TensorRTEngine:
    engine = TensorRTEngine.__new__(TensorRTEngine)
    engine._runner = runner
    engine._timeout_ms = 5000.0
    return engine


def test_runner_called_directly(benchmark):
    runner = IdleRunner()
    assert benchmark(lambda: runner.result(runner.submit(INPUTS), 5000.0)) is OUTPUTS


@pytest.mark.parametrize("inputs", [INPUTS, [INPUTS["input"]]], ids=["dict", "list"])
def test_submit_result(benchmark, inputs):
    engine = _engine(IdleRunner())
    assert benchmark(lambda: engine.result(engine.submit(inputs))) is OUTPUTS


def test_infer(benchmark):
    engine = _engine(IdleRunner())
    assert benchmark(lambda: engine.infer(INPUTS)) is OUTPUTS
