"""Performance monitoring: per-stage latencies, FPS, deadline misses, NVML, Prometheus."""

from trtpipe.monitor.monitor import (
    DEFAULT_DEADLINE_MS,
    STAGES,
    PerformanceMonitor,
    Snapshot,
)
from trtpipe.monitor.nvml import GpuSample, NvmlSampler
from trtpipe.monitor.window import RollingWindow, StageStats

__all__ = [
    "DEFAULT_DEADLINE_MS",
    "STAGES",
    "GpuSample",
    "NvmlSampler",
    "PerformanceMonitor",
    "RollingWindow",
    "Snapshot",
    "StageStats",
]
