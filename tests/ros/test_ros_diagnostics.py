"""/diagnostics values from the node's monitor, which the Detector records into: its GPU stage
times and its pools are reported beside the node's counters."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

from trtpipe import HostPool
from trtpipe.monitor import GpuSample, PerformanceMonitor, Snapshot, StageStats
from trtpipe.ros.counters import NodeCounters
from trtpipe.ros.diagnostics import diagnostic_values, model_values, monitor_values


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


def _fixed_snapshot(nvml_reason: str | None) -> Snapshot:
    """A snapshot with every part the diagnostics read: host and GPU stages (some not run),
    drops, a pool (and a non-dict entry that is skipped), NVML figures or why there are none."""

    def stats(ms: float) -> StageStats:
        return StageStats(
            count=3, mean_ms=ms, p50_ms=ms, p90_ms=ms + 1, p99_ms=ms + 2, max_ms=ms + 3
        )

    return Snapshot(
        frames=5,
        fps=29.5,
        deadline_ms=33.0,
        deadline_misses=1,
        dropped_frames={"engine_error": 2, "bad_message.short_data": 1},
        host={
            "preprocess": stats(1.0),
            "inference": stats(2.0),
            "postprocess": None,
            "end_to_end": stats(4.0),
        },
        gpu={"preprocess": None, "inference": stats(1.5), "postprocess": None, "end_to_end": None},
        gpu_pending=0,
        device=GpuSample(
            utilization_pct=40.0,
            memory_busy_pct=5.0,
            memory_used_bytes=100,
            memory_total_bytes=1000,
            temperature_c=50.0,
            power_w=70.0,
            reason=nvml_reason,
        ),
        pools={
            "detector_outputs": {
                "capacity": 1024,
                "in_use": 512,
                "peak_in_use": 768,
                "fallbacks": 0,
            },
            "opaque": object(),
        },
    )


# The detector node's status for _fixed_snapshot(None), as published before monitor_values was
# split out; with an NVML reason, the six gpu.* figures become one "gpu" key.
DETECTOR_NODE_VALUES = [
    ("backend", "onnxruntime"),
    ("model.file", "m.onnx"),
    ("model.backend", "onnxruntime"),
    ("fps", "29.50"),
    ("frames_processed", "5"),
    ("frames_received", "0"),
    ("detections_published", "0"),
    ("dropped_total", "3"),
    ("dropped.bad_message.short_data", "1"),
    ("dropped.engine_error", "2"),
    ("preprocess.p50_ms", "1.000"),
    ("preprocess.p90_ms", "2.000"),
    ("preprocess.p99_ms", "3.000"),
    ("preprocess.max_ms", "4.000"),
    ("inference.p50_ms", "2.000"),
    ("inference.p90_ms", "3.000"),
    ("inference.p99_ms", "4.000"),
    ("inference.max_ms", "5.000"),
    ("end_to_end.p50_ms", "4.000"),
    ("end_to_end.p90_ms", "5.000"),
    ("end_to_end.p99_ms", "6.000"),
    ("end_to_end.max_ms", "7.000"),
    ("gpu.inference.p50_ms", "1.500"),
    ("gpu.inference.p99_ms", "3.500"),
    ("pool.detector_outputs.capacity", "1024"),
    ("pool.detector_outputs.in_use", "512"),
    ("pool.detector_outputs.peak_in_use", "768"),
    ("pool.detector_outputs.fallbacks", "0"),
    ("latency_budget_ms", "33"),
    ("latency_budget_misses", "1"),
    ("qos_deadline_missed.input", "0"),
    ("qos_deadline_missed.output", "0"),
    ("qos_liveliness_lost.input", "0"),
    ("qos_messages_lost.input", "0"),
    ("sequence_gap_counter", "waiting for the first message"),
    ("inference_errors", "0"),
    ("consecutive_failures", "0"),
    ("engine_reloads", "0"),
    ("cpu_fallbacks", "0"),
    ("last_error", ""),
    ("qos_incompatible.RELIABILITY", "1"),
    ("gpu.utilization_percent", "40.000"),
    ("gpu.memory_busy_percent", "5.000"),
    ("gpu.memory_used_bytes", "100"),
    ("gpu.memory_total_bytes", "1000"),
    ("gpu.temperature_celsius", "50.000"),
    ("gpu.power_watts", "70.000"),
]


def _detector_node_values(snap: Snapshot) -> list[tuple[str, str]]:
    counters = NodeCounters(incompatible_qos=Counter({"RELIABILITY": 1}))
    model = [("model.file", "m.onnx"), ("model.backend", "onnxruntime")]
    return diagnostic_values(snap, counters, "onnxruntime", model)


def test_the_detector_nodes_status_is_unchanged_keys_order_and_values():
    assert _detector_node_values(_fixed_snapshot(None)) == DETECTOR_NODE_VALUES
    nvml = {"utilization_percent", "memory_busy_percent", "memory_used_bytes"}
    nvml |= {"memory_total_bytes", "temperature_celsius", "power_watts"}
    without_nvml = [kv for kv in DETECTOR_NODE_VALUES if kv[0].removeprefix("gpu.") not in nvml]
    assert _detector_node_values(_fixed_snapshot("no NVML")) == [*without_nvml, ("gpu", "no NVML")]


def test_monitor_values_are_the_detector_nodes_keys_and_values():
    for reason in (None, "no NVML"):
        snap = _fixed_snapshot(reason)
        detector = dict(_detector_node_values(snap))
        values = monitor_values(snap)
        assert len(dict(values)) == len(values)  # no key twice
        assert all(detector[key] == value for key, value in values), values
        # every figure of the monitor, none of the node's own counters
        counters_only = {"backend", "frames_received", "detections_published", "last_error"}
        assert not counters_only & dict(values).keys()
        assert {"fps", "preprocess.p99_ms", "gpu.inference.p50_ms"} <= dict(values).keys()
        assert {"pool.detector_outputs.in_use", "latency_budget_misses"} <= dict(values).keys()
        assert ("gpu", "no NVML") in values if reason else ("gpu.power_watts", "70.000") in values
    # a monitor no frame is recorded into: no fps, frame count or budget misses to read as 0
    batch_only = dict(monitor_values(_fixed_snapshot(None), frames=False))
    assert not {"fps", "frames_processed", "latency_budget_ms", "latency_budget_misses"} & set(
        batch_only
    )
    assert batch_only["gpu.inference.p50_ms"] == "1.500"
    assert batch_only["pool.detector_outputs.peak_in_use"] == "768"


def test_model_values_name_the_engine_that_runs():
    engine = SimpleNamespace(backend="onnxruntime", device="cpu", precision=None, inputs=[])
    values = dict(model_values(SimpleNamespace(engine=engine), "policy.onnx"))
    assert values == {
        "model.file": "policy.onnx",
        "model.backend": "onnxruntime",
        "model.device": "cpu",
        "model.precision": "the model file's own types (no build)",
    }
    assert model_values(None, "policy.onnx") == [("model.file", "policy.onnx")]  # not loaded
