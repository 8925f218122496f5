"""Colour and depth messages paired by stamp, within a slop (the approximate-time policy of
message_filters, for two topics; message_filters is not installable from the package index).

Each side keeps its last ``queue_size`` messages. A new message is paired with the other side's
message closest in time, if it lies within ``slop_s``; the pair and everything older on both
sides leave the queues. A message that leaves without a partner (pushed out by newer ones, or
older than a pair that formed) is counted as unpaired, per side.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from trtpipe.errors import InputError


def stamp_seconds(msg: Any) -> float:
    """A message's header stamp in seconds."""
    stamp = msg.header.stamp
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


@dataclass
class PairCounts:
    paired: int = 0
    unpaired_color: int = 0
    unpaired_depth: int = 0


class StampPairer:
    """``add_color(msg)`` / ``add_depth(msg)``: each returns the (color, depth) pair the message
    completed, or None. Thread-safe."""

    def __init__(self, slop_s: float, queue_size: int = 5) -> None:
        if not slop_s >= 0:
            raise InputError(f"sync_slop: expected seconds >= 0, given {slop_s!r}")
        if queue_size < 1:
            raise InputError(f"queue_size: expected >= 1, given {queue_size!r}")
        self.slop_s = float(slop_s)
        self._queues: tuple[deque[tuple[float, Any]], deque[tuple[float, Any]]] = (
            deque(),
            deque(),
        )
        self._size = queue_size
        self._lock = threading.Lock()
        self.counts = PairCounts()

    def add_color(self, msg: Any) -> tuple[Any, Any] | None:
        return self._add(0, msg)

    def add_depth(self, msg: Any) -> tuple[Any, Any] | None:
        return self._add(1, msg)

    def _drop(self, side: int, n: int) -> None:
        if side == 0:
            self.counts.unpaired_color += n
        else:
            self.counts.unpaired_depth += n

    def _add(self, side: int, msg: Any) -> tuple[Any, Any] | None:
        t = stamp_seconds(msg)
        with self._lock:
            other = self._queues[1 - side]
            best = min(range(len(other)), key=lambda k: abs(other[k][0] - t), default=None)
            if best is not None and abs(other[best][0] - t) <= self.slop_s:
                partner = other[best][1]
                for _ in range(best):  # older than the pair: they will never pair now
                    other.popleft()
                self._drop(1 - side, best)
                other.popleft()
                mine = self._queues[side]
                older = sum(1 for stamp, _ in mine if stamp <= t)
                for _ in range(older):
                    mine.popleft()
                self._drop(side, older)
                self.counts.paired += 1
                return (msg, partner) if side == 0 else (partner, msg)
            mine = self._queues[side]
            mine.append((t, msg))
            if len(mine) > self._size:
                mine.popleft()
                self._drop(side, 1)
            return None
