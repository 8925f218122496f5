"""diagnostic_msgs/DiagnosticArray from the performance monitor's snapshot and the node counters."""

from __future__ import annotations

from typing import Any

from trtpipe.monitor import Snapshot
from trtpipe.ros.counters import NodeCounters

OK, WARN, ERROR = 0, 1, 2  # diagnostic_msgs/DiagnosticStatus levels


def status_level(counters: NodeCounters) -> tuple[int, str]:
    """ERROR while inference fails, WARN on rejected input or incompatible QoS, else OK."""
    if counters.errors_since_report or counters.consecutive_failures:
        return ERROR, f"inference failing: {counters.last_error}"
    if counters.incompatible_qos:
        policies = ", ".join(sorted(counters.incompatible_qos))
        return WARN, f"incompatible QoS with a peer ({policies})"
    if counters.rejected_since_report:
        return WARN, f"{counters.rejected_since_report} bad input messages dropped"
    return OK, "running"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def model_values(detector: Any, model: str) -> list[tuple[str, str]]:
    """What runs: the model file, backend, device, precision and network input."""
    engine = getattr(detector, "engine", None)
    values = [("model.file", model)]
    if engine is None:
        return values
    precision = getattr(engine, "precision", None)
    values += [
        ("model.backend", str(getattr(engine, "backend", "unknown"))),
        ("model.device", str(getattr(engine, "device", "unknown"))),
        ("model.precision", precision or "the model file's own types (no build)"),
    ]
    size = getattr(detector, "input_size", None)
    inputs = getattr(engine, "inputs", [])
    if size and len(inputs) == 1:
        values.append(("model.input", f"{size[0]}x{size[1]} {inputs[0].dtype}"))
    return values


def _frame_values(snap: Snapshot) -> list[tuple[str, str]]:
    return [("fps", f"{snap.fps:.2f}"), ("frames_processed", str(snap.frames))]


def _stage_values(snap: Snapshot) -> list[tuple[str, str]]:
    """Host and GPU stage times and pool use: what the model's frames cost, and where."""
    values: list[tuple[str, str]] = []
    for stage, stats in snap.host.items():
        if stats is None:
            continue
        values += [
            (f"{stage}.p50_ms", _fmt(stats.p50_ms)),
            (f"{stage}.p90_ms", _fmt(stats.p90_ms)),
            (f"{stage}.p99_ms", _fmt(stats.p99_ms)),
            (f"{stage}.max_ms", _fmt(stats.max_ms)),
        ]
    for stage, stats in snap.gpu.items():  # CUDA-event times of the Detector's frames
        if stats is not None:
            values += [
                (f"gpu.{stage}.p50_ms", _fmt(stats.p50_ms)),
                (f"gpu.{stage}.p99_ms", _fmt(stats.p99_ms)),
            ]
    for name, pool in sorted(snap.pools.items()):
        if isinstance(pool, dict):
            values += [
                (f"pool.{name}.{key}", str(pool[key]))
                for key in ("capacity", "in_use", "peak_in_use", "fallbacks")
                if key in pool
            ]
    return values


def _budget_values(snap: Snapshot) -> list[tuple[str, str]]:
    return [
        ("latency_budget_ms", f"{snap.deadline_ms:g}"),
        ("latency_budget_misses", str(snap.deadline_misses)),
    ]


def _device_values(snap: Snapshot) -> list[tuple[str, str]]:
    """The GPU's health as NVML reads it, or why it is not read."""
    device = snap.device
    if device.reason is not None:
        return [("gpu", device.reason)]
    return [
        ("gpu.utilization_percent", _fmt(device.utilization_pct)),
        # NVML's "memory utilization": % of time memory was read or written
        ("gpu.memory_busy_percent", _fmt(device.memory_busy_pct)),
        ("gpu.memory_used_bytes", str(device.memory_used_bytes)),
        ("gpu.memory_total_bytes", str(device.memory_total_bytes)),
        ("gpu.temperature_celsius", _fmt(device.temperature_c)),
        ("gpu.power_watts", _fmt(device.power_w)),
    ]


def monitor_values(snap: Snapshot, *, frames: bool = True) -> list[tuple[str, str]]:
    """A performance monitor's figures under the detector node's keys: fps, frames processed,
    host and GPU stage times, pools, latency budget and the GPU's NVML figures.

    ``frames=False``: a monitor no frame is recorded into (a BatchDetector's Detector gets only
    GPU batch times and pools), whose fps, frame count and budget misses would read 0 whatever
    runs; they are left out rather than reported wrong.
    """
    values = _frame_values(snap) if frames else []
    values += _stage_values(snap)
    if frames:
        values += _budget_values(snap)
    return values + _device_values(snap)


def diagnostic_values(
    snap: Snapshot,
    counters: NodeCounters,
    backend: str,
    model: list[tuple[str, str]] | None = None,
) -> list[tuple[str, str]]:
    """The detector node's status: monitor_values' keys interleaved with the node's counters,
    in the order the node has always published them."""
    values = [
        ("backend", backend),
        *(model or []),
        *_frame_values(snap),
        ("frames_received", str(counters.received)),
        ("detections_published", str(counters.published)),
        ("dropped_total", str(sum(snap.dropped_frames.values()))),
    ]
    values += [(f"dropped.{reason}", str(n)) for reason, n in sorted(snap.dropped_frames.items())]
    values += _stage_values(snap)
    values += _budget_values(snap)
    values += [
        ("qos_deadline_missed.input", str(counters.deadline_missed_input)),
        ("qos_deadline_missed.output", str(counters.deadline_missed_output)),
        ("qos_liveliness_lost.input", str(counters.liveliness_lost)),
        ("qos_messages_lost.input", str(counters.messages_lost)),
        ("sequence_gap_counter", counters.sequence_gap_counter),
        ("inference_errors", str(counters.inference_errors)),
        ("consecutive_failures", str(counters.consecutive_failures)),
        ("engine_reloads", str(counters.reloads)),
        ("cpu_fallbacks", str(counters.cpu_fallbacks)),
        ("last_error", counters.last_error),
    ]
    values += [
        (f"qos_incompatible.{p}", str(n)) for p, n in sorted(counters.incompatible_qos.items())
    ]
    return values + _device_values(snap)


def diagnostic_array(
    stamp: Any,
    name: str,
    hardware_id: str,
    snap: Snapshot,
    counters: NodeCounters,
    backend: str,
    model: list[tuple[str, str]] | None = None,
) -> Any:
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    level, message = status_level(counters)
    status = DiagnosticStatus(
        level=bytes([level]),
        name=name,
        message=message,
        hardware_id=hardware_id,
        values=[
            KeyValue(key=k, value=v) for k, v in diagnostic_values(snap, counters, backend, model)
        ],
    )
    array = DiagnosticArray(status=[status])
    array.header.stamp = stamp
    return array
