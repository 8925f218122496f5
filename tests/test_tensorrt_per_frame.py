"""TensorRTEngine's per-frame Python code (submit, result, infer) over frames that record
what it is handed, so the wrapper's argument passing and checks run without a GPU."""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any

import numpy as np
import pytest

from trtpipe.backends.tensorrt import TensorRTEngine, TensorRTPending
from trtpipe.errors import EngineError


class RecordingFrames:
    """Hands out tickets 1, 2, ... and returns, per ticket, the inputs it was given."""

    def __init__(self) -> None:
        self.submitted: dict[int, Any] = {}
        self.results: list[tuple[int, float, bool]] = []

    def submit(self, inputs: Any) -> int:
        ticket = len(self.submitted) + 1
        self.submitted[ticket] = inputs
        return ticket

    def result(self, ticket: int, timeout_ms: float, copy: bool) -> dict[str, Any]:
        self.results.append((ticket, timeout_ms, copy))
        return {"inputs": self.submitted[ticket]}


def engine_over(frames: RecordingFrames, timeout_s: float = 2.0) -> TensorRTEngine:
    engine = TensorRTEngine.__new__(TensorRTEngine)
    engine._frames = frames
    engine._timeout_ms = timeout_s * 1000.0
    return engine


def test_dicts_lists_and_tuples_reach_the_frames_as_they_are():
    frames = RecordingFrames()
    engine = engine_over(frames)
    x = np.zeros((1, 3), np.float32)
    for inputs in ({"input": x}, [x], (x,)):
        assert engine.result(engine.submit(inputs))["inputs"] is inputs
        assert engine.infer(inputs)["inputs"] is inputs


def test_other_mappings_and_sequences_are_converted():
    frames = RecordingFrames()
    engine = engine_over(frames)
    x = np.zeros((1, 3), np.float32)
    given = engine.infer(OrderedDict(input=x))["inputs"]
    assert type(given) is dict and given == {"input": x}
    given = engine.result(engine.submit(deque([x])))["inputs"]
    assert type(given) is list and given[0] is x


def test_timeout_and_copy_are_forwarded():
    frames = RecordingFrames()
    engine = engine_over(frames, timeout_s=2.0)
    x = np.zeros((1, 3), np.float32)
    engine.result(engine.submit([x]))
    engine.result(engine.submit([x]), timeout=0.5, copy=False)
    engine.infer([x], copy=False)
    assert frames.results == [(1, 2000.0, True), (2, 500.0, False), (3, 2000.0, False)]


def test_pending_of_another_engine_or_kind_is_refused():
    engine, other = engine_over(RecordingFrames()), engine_over(RecordingFrames())
    pending = other.submit([np.zeros(1)])
    assert isinstance(pending, TensorRTPending) and pending.ticket == 1
    with pytest.raises(TypeError, match="PendingResult of this engine"):
        engine.result(pending)
    with pytest.raises(TypeError, match="PendingResult of this engine"):
        engine.result(object())  # type: ignore[arg-type]


def test_closed_engine_refuses_frames():
    engine = engine_over(RecordingFrames())
    pending = engine.submit([np.zeros(1)])
    engine.close()
    for call in (lambda: engine.submit([np.zeros(1)]), lambda: engine.infer([np.zeros(1)])):
        with pytest.raises(EngineError, match="closed"):
            call()
    with pytest.raises(EngineError, match="closed"):
        engine.result(pending)
    never_set_up = TensorRTEngine.__new__(TensorRTEngine)
    with pytest.raises(EngineError, match="closed"):
        never_set_up.infer({})
