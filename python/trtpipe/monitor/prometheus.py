"""An optional Prometheus endpoint for a PerformanceMonitor (prometheus-client).

Histogram buckets are counted by the monitor itself (a bisect per sample) and turned into
metric families only when Prometheus scrapes, so an enabled endpoint adds almost nothing to
the per-frame cost.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterator
from typing import Any

# Upper bounds in milliseconds; 33 ms is the 30 FPS frame budget.
LATENCY_BUCKETS_MS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 33.0, 50.0, 100.0, 250.0, 1000.0)


class LatencyHistogram:
    """Cumulative-bucket histogram in the Prometheus sense, fed in milliseconds."""

    def __init__(self, bounds_ms: tuple[float, ...] = LATENCY_BUCKETS_MS):
        self.bounds_ms = bounds_ms
        self.counts = [0] * (len(bounds_ms) + 1)  # last slot: above every bound
        self.sum_ms = 0.0

    def observe(self, value_ms: float) -> None:
        # Prometheus buckets are "less than or equal": bisect_left finds the first bound >= v.
        self.counts[bisect.bisect_left(self.bounds_ms, value_ms)] += 1
        self.sum_ms += value_ms

    def cumulative(self) -> list[tuple[str, int]]:
        counts = list(self.counts)  # one consistent copy; the frame thread keeps writing
        out, running = [], 0
        for bound, count in zip(self.bounds_ms, counts, strict=False):
            running += count
            out.append((repr(bound / 1000.0), running))
        out.append(("+Inf", running + counts[-1]))
        return out


class PrometheusExporter:
    """Serves ``/metrics`` on ``addr:port`` (port 0 picks a free one; see ``.port``)."""

    def __init__(
        self,
        histograms: dict[str, LatencyHistogram],
        counters: Callable[[], dict[str, Any]],
        port: int = 9464,
        addr: str = "127.0.0.1",
    ):
        from prometheus_client import CollectorRegistry, start_http_server

        self._histograms = histograms
        self._counters = counters
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)
        self._server, self._thread = start_http_server(port, addr=addr, registry=self.registry)
        self.port: int = self._server.server_port
        self._closed = threading.Event()

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        latency = HistogramMetricFamily(
            "trtpipe_stage_latency_seconds", "Host latency of each pipeline stage", labels=["stage"]
        )
        for stage, histogram in self._histograms.items():
            latency.add_metric([stage], histogram.cumulative(), sum_value=histogram.sum_ms / 1000.0)
        yield latency

        values = self._counters()
        yield CounterMetricFamily("trtpipe_frames", "Frames recorded", value=values["frames"])
        yield CounterMetricFamily(
            "trtpipe_deadline_misses", "Frames over the deadline", value=values["deadline_misses"]
        )
        drops = CounterMetricFamily("trtpipe_dropped_frames", "Frames dropped", labels=["reason"])
        for reason, count in values["drops"].items():
            drops.add_metric([reason], count)
        yield drops
        yield GaugeMetricFamily(
            "trtpipe_fps", "Frames per second over the window", value=values["fps"]
        )
        for name, value in values["gpu"].items():
            if value is not None:
                yield GaugeMetricFamily(f"trtpipe_gpu_{name}", f"GPU {name} (NVML)", value=value)

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
