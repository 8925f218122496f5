"""Whether a node runs a frame in its subscription callback rather than on its worker thread.

A frame handed to the worker waits for the interpreter lock until the executor thread next
blocks (rebuilding its wait set first): a few hundred microseconds, more than a fast model
takes. So a node whose recent runs were all fast runs the next frame in the callback itself; a
slow model, the first frames after a start, and the frame after a failure go to the worker, so
the executor is never held for longer than the bound.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

#: the runs whose times decide
INLINE_WINDOW = 16


class InlineGate:
    """The times of a node's last runs, and its run lock: frames run inline while the slowest
    of the last :data:`INLINE_WINDOW` took at most ``max_ms`` (0: never). Every run, inline or
    on the worker, holds :attr:`lock`; so do :meth:`record` and :meth:`reset`."""

    def __init__(self, max_ms: float) -> None:
        self.max_ms = max_ms
        self.lock = threading.Lock()  # one run at a time, in a callback or on the worker
        self._ms: deque[float] = deque(maxlen=INLINE_WINDOW)
        self.inline_runs = 0  # frames run in their callback

    def allows(self) -> bool:
        times = self._ms
        return self.max_ms > 0 and len(times) == times.maxlen and max(times) <= self.max_ms

    @contextmanager
    def inline(self) -> Iterator[bool]:
        """In a subscription callback: whether this frame runs here, with the run lock held
        until the block ends (counted in :attr:`inline_runs`); False, and no lock, when the
        worker is running one or the model is not known to be fast: hand the frame over."""
        if not self.lock.acquire(blocking=False):
            yield False
            return
        try:
            here = self.allows()
            self.inline_runs += here
            yield here
        finally:
            self.lock.release()

    def record(self, ms: float) -> None:
        self._ms.append(ms)

    def reset(self) -> None:
        """Time the model anew (after a start or a failure) before running inline again."""
        self._ms.clear()
