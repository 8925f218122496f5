"""Cost of recording one frame's metrics (target: <= 5 us on a CPU core).

python -m pytest bench/test_bench_monitor.py --benchmark-only
"""

from __future__ import annotations

import pytest

from trtpipe.monitor import PerformanceMonitor


@pytest.mark.parametrize("prometheus", [False, True], ids=["plain", "prometheus"])
def test_record_frame(benchmark, prometheus):
    if prometheus:
        pytest.importorskip("prometheus_client")
    monitor = PerformanceMonitor(nvml_device=None, prometheus_port=0 if prometheus else None)
    try:
        benchmark(monitor.record_frame, 1.2, 4.2, 0.3, 5.9)
    finally:
        monitor.close()
