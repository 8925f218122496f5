"""CUDA events that time a frame's preprocessing and inference on their stream, handed to
:meth:`PerformanceMonitor.record_gpu_stages`, which reads them once they completed: nothing waits.

A frame records three events on the stream its work runs on: before preprocessing, between
preprocessing and inference, after inference. Its two times are read in one call,
``before.stage_times(between, after)``, which checks only the last event (events on a stream
complete in order). The triples are reused in a small ring; a triple goes back into use only
once the monitor has read it, so a late read never sees a later frame's timestamps (a fresh
triple replaces one still unread).
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


class FrameEvents:
    """One frame's events: ``before`` / ``between`` / ``after``, each with ``record(stream)``
    and ``stage_times(*ends)`` (``trtpipe._core.TimingEvent``)."""

    __slots__ = ("_ends", "after", "before", "between", "unread")

    def __init__(self, make_event: Callable[[], Any], inference: bool = True) -> None:
        self.before = make_event()
        self.between = make_event()
        self.after = make_event()
        self.unread = False  # handed to the monitor and not read yet
        self._ends = (self.between, self.after) if inference else (self.between,)

    def read(self) -> tuple[float, ...] | None:
        """The frame's stage times in ms, or None while it still runs."""
        times = self.before.stage_times(*self._ends)
        if times is not None:
            self.unread = False
        return times


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
        self._record = monitor.record_gpu_stages
        self.inference = inference
        self._stages = ("preprocess", "inference") if inference else ("preprocess",)
        self._frames = [FrameEvents(make_event, inference) for _ in range(size)]
        self._next = 0
        self.replaced = 0  # triples made anew because the monitor had not read the old one

    def take(self) -> FrameEvents:
        """The triple for the next frame."""
        i = self._next
        frame = self._frames[i]
        if frame.unread:
            # still pending in the monitor: it keeps that one, this frame gets a fresh one
            frame = self._frames[i] = FrameEvents(self._make, self.inference)
            self.replaced += 1
        self._next = (i + 1) % len(self._frames)
        return frame

    def hand_over(self, frame: FrameEvents) -> None:
        """Gives the frame's times to the monitor, its events recorded (``after`` only where
        inference is timed)."""
        frame.unread = True
        self._record(self._stages, frame.read)


def cuda_event_source(device: int, stream: int) -> tuple[Callable[[], Any], int] | None:
    """A maker of timing events on GPU ``device``, and ``stream`` (a cudaStream_t) as they
    record on it; None where _core was built without CUDA."""
    core_event = getattr(_core, "TimingEvent", None)
    if core_event is None:
        log.debug("no GPU stage timings: trtpipe._core was built without CUDA")
        return None
    return functools.partial(core_event, device), int(stream)
