"""What TensorRTEngine's Python code adds to a frame, without a GPU: submit() + result() over a
frames that do nothing, against calling them directly (the wrapper's share of the
<= 10 µs per-frame host budget).

python -m pytest bench/test_bench_tensorrt_wrapper.py --benchmark-only
"""

from __future__ import annotations

import numpy as np
import pytest

from trtpipe.backends.tensorrt import TensorRTEngine

OUTPUTS = {"scaled": np.zeros((1, 4), np.float32), "row_sum": np.zeros(1, np.float32)}
INPUTS = {"input": np.zeros((1, 4), np.float32)}


class IdleFrames:
    """The engine's TensorFrames interface, doing nothing: only the Python around is timed."""

    def submit(self, inputs: object) -> int:
        return 1

    def result(self, ticket: int, timeout_ms: float, copy: bool = True) -> dict:
        return OUTPUTS


def _engine(frames: IdleFrames) -> TensorRTEngine:
    engine = TensorRTEngine.__new__(TensorRTEngine)
    engine._frames = frames
    engine._timeout_ms = 5000.0
    return engine


def test_frames_called_directly(benchmark):
    frames = IdleFrames()
    assert benchmark(lambda: frames.result(frames.submit(INPUTS), 5000.0)) is OUTPUTS


@pytest.mark.parametrize("inputs", [INPUTS, [INPUTS["input"]]], ids=["dict", "list"])
def test_submit_result(benchmark, inputs):
    engine = _engine(IdleFrames())
    assert benchmark(lambda: engine.result(engine.submit(inputs))) is OUTPUTS


def test_infer(benchmark):
    engine = _engine(IdleFrames())
    assert benchmark(lambda: engine.infer(INPUTS)) is OUTPUTS
