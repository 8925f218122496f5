"""GPU utilisation, memory, temperature, power and clocks through NVML (nvidia-ml-py).

Every field is ``None`` where NVML or the GPU does not report it, and ``reason`` says why
there is no reading at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GpuSample:
    utilization_pct: float | None = None  # % of the last sample period a kernel ran
    # % of the last sample period device memory was read or written (what NVML calls "memory
    # utilization"): bandwidth busy, not memory used
    memory_busy_pct: float | None = None
    memory_used_bytes: int | None = None  # device memory allocated, by every process
    memory_total_bytes: int | None = None
    temperature_c: float | None = None
    power_w: float | None = None
    sm_clock_mhz: int | None = None
    memory_clock_mhz: int | None = None
    reason: str | None = None


class NvmlSampler:
    """Reads one GPU through NVML. Construction never raises; ``sample()`` never raises."""

    def __init__(self, device_index: int = 0):
        self._nvml: Any = None
        self._handle: Any = None
        self.reason: str | None = None
        try:
            import pynvml
        except ImportError:
            self.reason = "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
            return
        try:
            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(device_index)
        except pynvml.NVMLError as exc:
            self.reason = f"NVML unavailable: {exc}"
            return
        self._nvml = pynvml

    @property
    def available(self) -> bool:
        return self._handle is not None

    def _read(self, name: str, *args: Any) -> Any:
        try:
            return getattr(self._nvml, name)(self._handle, *args)
        except self._nvml.NVMLError as exc:
            log.debug("NVML %s failed: %s", name, exc)
            return None

    def sample(self) -> GpuSample:
        if not self.available:
            return GpuSample(reason=self.reason)
        nvml = self._nvml
        rates = self._read("nvmlDeviceGetUtilizationRates")
        memory = self._read("nvmlDeviceGetMemoryInfo")
        temperature = self._read("nvmlDeviceGetTemperature", nvml.NVML_TEMPERATURE_GPU)
        power_mw = self._read("nvmlDeviceGetPowerUsage")
        return GpuSample(
            utilization_pct=float(rates.gpu) if rates is not None else None,
            memory_busy_pct=float(rates.memory) if rates is not None else None,
            memory_used_bytes=int(memory.used) if memory is not None else None,
            memory_total_bytes=int(memory.total) if memory is not None else None,
            temperature_c=float(temperature) if temperature is not None else None,
            power_w=power_mw / 1000.0 if power_mw is not None else None,
            sm_clock_mhz=self._read("nvmlDeviceGetClockInfo", nvml.NVML_CLOCK_SM),
            memory_clock_mhz=self._read("nvmlDeviceGetClockInfo", nvml.NVML_CLOCK_MEM),
        )

    def close(self) -> None:
        if self.available:
            try:
                self._nvml.nvmlShutdown()
            except self._nvml.NVMLError as exc:
                log.debug("nvmlShutdown failed: %s", exc)
            self._handle = None
            self.reason = "NVML closed"
