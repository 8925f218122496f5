"""A one-slot mailbox: the newest frame replaces an unprocessed one, and the replacement counts."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestMailbox(Generic[T]):
    """Holds at most one item. ``put`` never blocks; ``take`` waits for an item or ``close``.

    A frame that arrives while the previous one is still waiting displaces it: the consumer
    always gets the newest frame and queueing latency is bounded by one inference.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._closed = False
        self.displaced = 0  # items replaced before anyone took them

    def put(self, item: T) -> bool:
        """Store ``item``; returns True when it displaced an item nobody had taken."""
        with self._cond:
            displaced = self._item is not None
            if displaced:
                self.displaced += 1
            self._item = item
            self._cond.notify()
            return displaced

    def take(self, timeout: float | None = None) -> T | None:
        """The newest item (removing it), or None when closed or after ``timeout`` seconds."""
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None or self._closed, timeout)
            item, self._item = self._item, None
            return None if self._closed else item

    def close(self) -> None:
        """Wake the consumer for good; a pending item is discarded (see ``discard_pending``)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        with self._cond:
            self._closed = False
            self._item = None

    def discard_pending(self) -> bool:
        """Drop a waiting item; True if there was one."""
        with self._cond:
            had, self._item = self._item is not None, None
            return had
