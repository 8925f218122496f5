"""A fixed-size window of recent samples and the statistics the monitor reports over it."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StageStats:
    """Latency statistics of one stage over the window, in milliseconds."""

    count: int
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float


class RollingWindow:
    """The last ``size`` samples; appending is O(1), statistics are computed on demand."""

    def __init__(self, size: int):
        self._samples: deque[float] = deque(maxlen=size)

    def append(self, value: float) -> None:
        self._samples.append(value)

    def __len__(self) -> int:
        return len(self._samples)

    def stats(self) -> StageStats | None:
        if not self._samples:
            return None
        values = np.fromiter(self._samples, dtype=np.float64, count=len(self._samples))
        p50, p90, p99 = np.percentile(values, (50, 90, 99))
        return StageStats(
            count=len(values),
            mean_ms=float(values.mean()),
            p50_ms=float(p50),
            p90_ms=float(p90),
            p99_ms=float(p99),
            max_ms=float(values.max()),
        )
