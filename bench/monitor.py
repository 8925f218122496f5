"""Cost of recording one frame's metrics in the PerformanceMonitor (target: <= 5 µs)."""

from __future__ import annotations

import time

import numpy as np

from bench.report import Series
from trtpipe.monitor import PerformanceMonitor


def _per_call_us(fn, calls: int, repeats: int) -> np.ndarray:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(calls):
            fn(1.2, 4.2, 0.3, 5.9)
        samples.append((time.perf_counter_ns() - start) / calls / 1e3)
    return np.asarray(samples)


def collect(quick: bool = False) -> list[Series]:
    calls, repeats = (200, 20) if quick else (2000, 200)
    series = []
    for name, port in (("record_frame", None), ("record_frame + Prometheus", 0)):
        try:
            monitor = PerformanceMonitor(nvml_device=None, prometheus_port=port)
        except ImportError:  # prometheus-client not installed: measure the plain case only
            continue
        with monitor:
            samples = _per_call_us(monitor.record_frame, calls, repeats)
        series.append(Series(name, "trtpipe", samples, note=f"mean of {calls} calls per sample"))
    return series
