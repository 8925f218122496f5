"""/diagnostics values from the node's monitor, which the Detector records into: its GPU stage
times and its pools are reported beside the node's counters."""

from __future__ import annotations

from trtpipe import HostPool
from trtpipe.monitor import PerformanceMonitor
from trtpipe.ros.counters import NodeCounters
from trtpipe.ros.diagnostics import diagnostic_values


class _Event:
    """A completed CUDA event stand-in: ``start.elapsed_time(end)`` is ``end.at - start.at``."""

    def __init__(self, at_ms: float) -> None:
        self.at = at_ms

    def query(self) -> bool:
        return True

    def elapsed_time(self, end: _Event) -> float:
        return end.at - self.at


def test_gpu_stage_times_and_pools_reach_the_diagnostics():
    monitor = PerformanceMonitor(nvml_device=None)
    pool = HostPool(1 << 20)
    held = pool.empty((1000,), "uint8")  # 1000 bytes in use, in one 1024-byte block
    monitor.add_pool("detector_outputs", pool)
    for ms in (1.0, 2.0, 3.0):
        monitor.record_gpu("inference", _Event(0.0), _Event(ms))
        monitor.record_frame(0.1, ms, 0.1, ms + 0.2)
    values = dict(diagnostic_values(monitor.snapshot(), NodeCounters(), "torch"))
    assert values["gpu.inference.p50_ms"] == "2.000"
    assert "gpu.preprocess.p50_ms" not in values  # no preprocess events were recorded
    assert int(values["pool.detector_outputs.in_use"]) >= 1000
    assert values["pool.detector_outputs.capacity"] == str(pool.stats().capacity)
    assert values["frames_processed"] == "3"
    del held
