"""CUDA events that time a frame's preprocessing and inference on their stream, handed to
:meth:`PerformanceMonitor.record_gpu`, which reads them once they completed: nothing waits.

A frame records three events on the stream its work runs on: before preprocessing, between
preprocessing and inference, after inference. The triples are reused in a small ring; a triple
goes back into use only once the monitor has read every interval it was given, so a late read
never sees a later frame's timestamps (a fresh triple replaces one still unread).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from trtpipe import _core
from trtpipe.monitor import PerformanceMonitor

log = logging.getLogger(__name__)

#: frames whose events can be in use at once before a triple is made anew
RING_SIZE = 4


class _Start:
    """The start event of one interval: reading the interval marks it read in its frame."""

    __slots__ = ("event", "frame")

    def __init__(self, event: Any, frame: FrameEvents) -> None:
        self.event = event
        self.frame = frame

    def query(self) -> bool:
        return bool(self.event.query())

    def elapsed_time(self, end: Any) -> float:
        self.frame.unread -= 1
        return float(self.event.elapsed_time(end))


class FrameEvents:
    """One frame's events: ``before`` / ``between`` / ``after`` (each has ``record(stream)``)."""

    __slots__ = ("_inference", "_preprocess", "after", "before", "between", "unread")

    def __init__(self, make_event: Callable[[], Any]) -> None:
        self.before = make_event()
        self.between = make_event()
        self.after = make_event()
        self.unread = 0  # intervals handed to the monitor and not read yet
        self._preprocess = _Start(self.before, self)
        self._inference = _Start(self.between, self)


class StageEventRing:
    """Event triples for consecutive frames; ``inference=False`` times preprocessing only (for
    engines whose own streams are out of sight)."""

    def __init__(
        self,
        make_event: Callable[[], Any],
        monitor: PerformanceMonitor,
        *,
        inference: bool = True,
        size: int = RING_SIZE,
    ) -> None:
        self._make = make_event
        self._record_gpu = monitor.record_gpu
        self.inference = inference
        self._frames = [FrameEvents(make_event) for _ in range(size)]
        self._next = 0
        self.replaced = 0  # triples made anew because the monitor had not read the old one

    def take(self) -> FrameEvents:
        """The triple for the next frame."""
        i = self._next
        frame = self._frames[i]
        if frame.unread:
            # still pending in the monitor: it keeps that one, this frame gets a fresh one
            frame = self._frames[i] = FrameEvents(self._make)
            self.replaced += 1
        self._next = (i + 1) % len(self._frames)
        return frame

    def hand_over(self, frame: FrameEvents, stream: Any = None) -> None:
        """Records the end of inference (when timed) on ``stream`` (None: the caller recorded
        it) and gives the intervals to the monitor."""
        if self.inference:
            if stream is not None:
                frame.after.record(stream)
            frame.unread = 2
            self._record_gpu("preprocess", frame._preprocess, frame.between)
            self._record_gpu("inference", frame._inference, frame.after)
        else:
            frame.unread = 1
            self._record_gpu("preprocess", frame._preprocess, frame.between)


def cuda_event_source(device: int, stream: int) -> tuple[Callable[[], Any], int] | None:
    """A maker of timing events on GPU ``device``, and ``stream`` (a cudaStream_t) as they
    record on it; None where _core was built without CUDA."""
    core_event = getattr(_core, "TimingEvent", None)
    if core_event is None:
        log.debug("no GPU stage timings: trtpipe._core was built without CUDA")
        return None
    return functools.partial(core_event, device), int(stream)
