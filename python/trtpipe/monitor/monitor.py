"""PerformanceMonitor: where the milliseconds of each frame go.

Per frame, the caller records host times (``time.perf_counter`` differences) and, where the
work ran on a GPU stream, CUDA events. Recording is O(1) and never waits for the GPU: the
events are kept pending and read once the last of them has completed. Everything else
(percentiles, NVML, log lines, JSON lines, Prometheus) happens outside the frame path.

A frame path can also defer a frame's statistics work (:meth:`PerformanceMonitor.defer_frame`)
to a moment it would otherwise wait (:meth:`PerformanceMonitor.settle`): the Detector settles
while the GPU runs the next frame. Readers fold deferred frames in first; the Prometheus
endpoint, read from its own thread, does not, so it may be a frame behind.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, Protocol

from trtpipe.arguments import finite_real, int_arg
from trtpipe.errors import InputError
from trtpipe.monitor.nvml import GpuSample, NvmlSampler
from trtpipe.monitor.prometheus import LatencyHistogram, PrometheusExporter
from trtpipe.monitor.window import RollingWindow, StageStats

STAGES = ("preprocess", "inference", "postprocess", "end_to_end")
DEFAULT_DEADLINE_MS = 33.0  # one frame at 30 FPS

P = ParamSpec("P")


def _parameters_of(source: Callable[P, None]) -> Callable[[Callable[..., None]], Callable[P, None]]:
    """Gives the decorated function, which passes its arguments on to ``source``, the
    signature of ``source``, so the stage parameters are written once and still shown."""

    def declare(target: Callable[..., None]) -> Callable[P, None]:
        target.__signature__ = inspect.signature(source)  # type: ignore[attr-defined]
        return target

    return declare


class CudaEvent(Protocol):
    """What the monitor needs of a CUDA event (``torch.cuda.Event`` has exactly this)."""

    def query(self) -> bool: ...

    def elapsed_time(self, end: Any) -> float: ...


#: reads the GPU times of some stages: None while their last event is still running
StageTimesReader = Callable[[], Sequence[float] | None]


def _read_interval(start: CudaEvent, end: CudaEvent) -> tuple[float] | None:
    return (float(start.elapsed_time(end)),) if end.query() else None


class PoolWithStats(Protocol):
    def stats(self) -> Any: ...


@dataclass(frozen=True)
class Snapshot:
    frames: int
    fps: float
    deadline_ms: float
    deadline_misses: int
    dropped_frames: dict[str, int]
    host: dict[str, StageStats | None]
    gpu: dict[str, StageStats | None]
    gpu_pending: int
    device: GpuSample
    pools: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class PerformanceMonitor:
    """Rolling-window latency statistics, FPS, deadline misses, NVML and pool statistics.

    ``log_period_s`` emits :meth:`log_line` through ``logging`` (and a JSON line to
    ``jsonl_path`` when given) at most that often, from :meth:`settle` (which
    :meth:`record_frame` and a Detector's ``submit`` call). ``prometheus_port``
    starts an HTTP endpoint (port 0: any free port; see ``prometheus_port`` afterwards).
    """

    def __init__(
        self,
        *,
        window: int = 1000,
        deadline_ms: float = DEFAULT_DEADLINE_MS,
        log_period_s: float | None = None,
        jsonl_path: str | Path | None = None,
        prometheus_port: int | None = None,
        prometheus_addr: str = "127.0.0.1",
        nvml_device: int | None = 0,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ):
        if int_arg("window", window) < 2:
            raise InputError(f"window: expected at least 2 frames, given {window}")
        if not finite_real("deadline_ms", deadline_ms) > 0:
            raise InputError(f"deadline_ms: expected > 0, given {deadline_ms}")
        if log_period_s is not None and not finite_real("log_period_s", log_period_s) > 0:
            raise InputError(f"log_period_s: expected None (no log) or > 0, given {log_period_s}")
        if nvml_device is not None and int_arg("nvml_device", nvml_device) < 0:
            raise InputError(f"nvml_device: expected None (off) or an index, given {nvml_device}")
        self.deadline_ms = deadline_ms
        self.log_period_s = log_period_s
        self._clock = clock
        self._log = logger or logging.getLogger("trtpipe.monitor")
        self._host = {stage: RollingWindow(window) for stage in STAGES}
        self._gpu = {stage: RollingWindow(window) for stage in STAGES}
        self._stamps: deque[float] = deque(maxlen=window)
        # (stages, reader of their times) in stream order
        self._pending: deque[tuple[tuple[str, ...], StageTimesReader]] = deque()
        # (clock stamp, host times per stage) of frames deferred and not yet folded in
        self._deferred: deque[tuple[float, float | None, float | None, float | None, float | None]]
        self._deferred = deque()
        # folding and reading: a Detector folds on its frame thread, a node reads on another
        self._lock = threading.RLock()
        self._frames = 0
        self._deadline_misses = 0
        self._drops: Counter[str] = Counter()
        self._pools: dict[str, PoolWithStats] = {}
        self._last_emit = clock()
        self._nvml = NvmlSampler(nvml_device) if nvml_device is not None else None
        self._jsonl = open(jsonl_path, "a", encoding="utf-8") if jsonl_path else None  # noqa: SIM115
        self._histograms: dict[str, LatencyHistogram] | None = None
        self._exporter: PrometheusExporter | None = None
        if prometheus_port is not None:
            self._histograms = {stage: LatencyHistogram() for stage in STAGES}
            try:
                self._exporter = PrometheusExporter(
                    self._histograms, self._counter_values, prometheus_port, prometheus_addr
                )
            except OSError as exc:  # the port in use, an address not of this machine
                self.close()
                raise InputError(
                    f"prometheus_port: cannot serve /metrics on {prometheus_addr}:"
                    f"{prometheus_port} ({exc})"
                ) from exc

    # -- the frame path ---------------------------------------------------------------------

    def defer_frame(
        self,
        preprocess: float | None = None,
        inference: float | None = None,
        postprocess: float | None = None,
        end_to_end: float | None = None,
    ) -> None:
        """:meth:`record_frame` without its statistics work: the times are kept, stamped now,
        until :meth:`settle` (or a reader: :meth:`snapshot`, :meth:`fps`) folds them in. A frame
        path calls it where a frame's latency is counted, and :meth:`settle` where it waits
        anyway, e.g. while the GPU runs the next frame."""
        self._deferred.append((self._clock(), preprocess, inference, postprocess, end_to_end))

    @_parameters_of(defer_frame)
    def record_frame(self, *times: float | None, **named: float | None) -> None:
        """Record one frame's host times in milliseconds (stages not run may be omitted); a time
        that is not a finite number >= 0 raises InputError (one NaN would poison a window).
        :meth:`defer_frame`, the frame path's, takes the times as its clock measured them."""
        for stage, value in (*zip(STAGES, times, strict=False), *named.items()):
            if value is not None and finite_real(stage, value) < 0:
                raise InputError(f"{stage}: expected a time >= 0 ms, given {value}")
        self.defer_frame(*times, **named)
        self.settle()

    def settle(self) -> None:
        """Folds in the deferred frames and the GPU times that have completed, and emits the
        log line once ``log_period_s`` has passed since the last."""
        self._fold()
        now = self._clock()
        if self.log_period_s is not None and now - self._last_emit >= self.log_period_s:
            self._last_emit = now
            self.emit()

    def _fold(self) -> None:
        with self._lock:
            self._fold_locked()

    def _fold_locked(self) -> None:
        while self._deferred:
            stamp, *values = self._deferred.popleft()
            self._frames += 1
            self._stamps.append(stamp)
            for stage, value in zip(STAGES, values, strict=True):
                if value is not None:
                    self._host[stage].append(value)
                    if self._histograms is not None:
                        self._histograms[stage].observe(value)
            end_to_end = values[-1]
            if end_to_end is not None and end_to_end > self.deadline_ms:
                self._deadline_misses += 1
        if self._pending:
            self._drain_gpu()

    def record_gpu(self, stage: str, start: CudaEvent, end: CudaEvent) -> None:
        """Record a stage's GPU time as two events on its stream; read later, never waited on."""
        self._check_stages((stage,))
        self._pending.append(((stage,), functools.partial(_read_interval, start, end)))

    def record_gpu_stages(self, stages: tuple[str, ...], read: StageTimesReader) -> None:
        """Record consecutive stages of one frame at once: ``read()`` gives their GPU times in
        ms, in the order of ``stages``, or None while the frame still runs. A frame's stages
        cost one completion check instead of one per stage."""
        self._check_stages(stages)
        self._pending.append((stages, read))

    def _check_stages(self, stages: tuple[str, ...]) -> None:
        for stage in stages:
            if stage not in self._gpu:
                raise ValueError(f"stage: expected one of {STAGES}, given {stage!r}")

    def count_drop(self, reason: str = "dropped", count: int = 1) -> None:
        """Count frames that were not processed (``reason`` becomes a label)."""
        self._drops[reason] += count

    def add_pool(self, name: str, pool: PoolWithStats) -> None:
        """Report ``pool.stats()`` in snapshots under ``name``."""
        self._pools[name] = pool

    # -- reading ----------------------------------------------------------------------------

    def _drain_gpu(self) -> None:
        # Events complete in stream order, so stop at the first frame still running.
        while self._pending:
            stages, read = self._pending[0]
            times = read()
            if times is None:
                return
            self._pending.popleft()
            for stage, ms in zip(stages, times, strict=True):
                self._gpu[stage].append(float(ms))

    def fps(self) -> float:
        self._fold()
        return self._rate()

    def _rate(self) -> float:
        # no folding: also read from the Prometheus exporter's thread
        if len(self._stamps) < 2:
            return 0.0
        span = self._stamps[-1] - self._stamps[0]
        return (len(self._stamps) - 1) / span if span > 0 else 0.0

    def _device_sample(self) -> GpuSample:
        if self._nvml is None:
            return GpuSample(reason="NVML sampling is off (nvml_device=None)")
        return self._nvml.sample()

    def _counter_values(self) -> dict[str, Any]:
        sample = self._device_sample()
        return {
            "frames": self._frames,
            "deadline_misses": self._deadline_misses,
            "drops": dict(self._drops),
            "fps": self._rate(),
            "gpu": {
                "utilization_percent": sample.utilization_pct,
                "memory_busy_percent": sample.memory_busy_pct,
                "memory_used_bytes": sample.memory_used_bytes,
                "memory_total_bytes": sample.memory_total_bytes,
                "temperature_celsius": sample.temperature_c,
                "power_watts": sample.power_w,
            },
        }

    def snapshot(self) -> Snapshot:
        with self._lock:  # a frame path may fold in frames from another thread meanwhile
            return self._snapshot()

    def _snapshot(self) -> Snapshot:
        self._fold()
        pools = {}
        for name, pool in self._pools.items():
            stats = pool.stats()
            pools[name] = dataclasses.asdict(stats) if dataclasses.is_dataclass(stats) else stats
        return Snapshot(
            frames=self._frames,
            fps=self.fps(),
            deadline_ms=self.deadline_ms,
            deadline_misses=self._deadline_misses,
            dropped_frames=dict(self._drops),
            host={stage: window.stats() for stage, window in self._host.items()},
            gpu={stage: window.stats() for stage, window in self._gpu.items()},
            gpu_pending=sum(len(stages) for stages, _ in self._pending),
            device=self._device_sample(),
            pools=pools,
        )

    def log_line(self, snap: Snapshot | None = None) -> str:
        """The reference form: ``Inference Performance - Time: 4.21ms, GPU: 37.5%, FPS: 30``.

        Time is the mean inference time, GPU time where events were recorded, else host time.
        """
        snap = snap or self.snapshot()
        inference = snap.gpu["inference"] or snap.host["inference"]
        time_text = f"{inference.mean_ms:.2f}ms" if inference else "n/a"
        util = snap.device.utilization_pct
        gpu_text = f"{util:.1f}%" if util is not None else "n/a"
        return f"Inference Performance - Time: {time_text}, GPU: {gpu_text}, FPS: {snap.fps:.0f}"

    def emit(self) -> Snapshot:
        """Log the line and append the snapshot as one JSON line (when a file was given)."""
        snap = self.snapshot()
        self._log.info("%s", self.log_line(snap))
        with self._lock:  # close() on another thread may be closing the file
            if self._jsonl is not None:
                record = {"time": time.time(), **snap.to_dict()}
                self._jsonl.write(json.dumps(record) + "\n")
                self._jsonl.flush()
        return snap

    @property
    def prometheus_port(self) -> int | None:
        return self._exporter.port if self._exporter else None

    def close(self) -> None:
        if self._exporter is not None:
            self._exporter.close()
            self._exporter = None
        with self._lock:
            if self._jsonl is not None:
                self._jsonl.close()
                self._jsonl = None
        if self._nvml is not None:
            self._nvml.close()

    def __enter__(self) -> PerformanceMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
