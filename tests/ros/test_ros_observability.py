"""What the detector node tells about itself, read as a user reads it: the periodic
"Inference Performance" line on /rosout, the model and stage figures on /diagnostics, and the
Prometheus endpoint; all from the real node running the sample model."""

from __future__ import annotations

import re
import urllib.request
from typing import Any

import pytest

from .ros_harness import Graph, image_msg, wait_for

pytestmark = pytest.mark.ros

LINE = re.compile(r"^Inference Performance - Time: (\d+\.\d\d)ms, GPU: (n/a|\d+\.\d%), FPS: (\d+)$")


@pytest.fixture
def node_with_sample(ros_context):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("prometheus_client")
    from onnx_models import coco_model
    from trtpipe.ros.detector_factory import load_detector
    from trtpipe.samples import sample_images

    model = coco_model()
    image = dict(sample_images())["astronaut"]
    g = Graph(
        ros_context,
        load_detector,
        "observe",
        model=str(model),
        backend="onnxruntime",
        device="cpu",
        log_period_s=0.3,
        diagnostics_period_s=0.2,
        metrics_port=0,
    )
    yield g, model, image
    g.close()


def test_the_node_logs_the_line_and_reports_the_model_and_its_figures(node_with_sample):
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rcl_interfaces.msg import Log

    g, model, image = node_with_sample
    lines: list[str] = []
    statuses: list[Any] = []
    listener = rclpy.create_node("observe_listener", context=g.node.context)
    listener.create_subscription(
        Log,
        "/rosout",
        lambda m: lines.append(m.msg) if m.name.endswith("det_observe") else None,
        50,
    )
    listener.create_subscription(
        DiagnosticArray,
        "/diagnostics",
        lambda m: statuses.extend(s for s in m.status if s.name.endswith("det_observe")),
        10,
    )
    g.spinner.add(listener)
    try:
        for i in range(3):
            g.send_and_wait(image_msg(image, "bgr8", 1_000 + i), i + 1)
        runtime = g.node.runtime
        mean_ms = runtime.monitor.snapshot().host["inference"].mean_ms

        def logged() -> list[re.Match]:
            return [m for m in map(LINE.match, lines) if m]

        # a line logged after the third frame: the mean inference time of the three frames
        # as the monitor has it; no GPU on the CPU
        wait_for(
            lambda: any(abs(float(m.group(1)) - mean_ms) <= 0.01 for m in logged()),
            what="the Inference Performance line on /rosout, after the third frame",
        )
        assert all(m.group(2) == "n/a" for m in logged())

        wait_for(
            lambda: (
                statuses
                and dict((kv.key, kv.value) for kv in statuses[-1].values).get("frames_processed")
                == "3"
            ),
            what="diagnostics after the third frame",
        )
        values = {kv.key: kv.value for kv in statuses[-1].values}
        assert values["model.file"] == str(model)
        assert values["model.backend"] == "onnxruntime" and values["model.device"] == "cpu"
        assert values["model.input"] == "416x416 float32"
        assert "no build" in values["model.precision"]
        for stage in ("preprocess", "inference", "postprocess", "end_to_end"):
            assert float(values[f"{stage}.p50_ms"]) > 0
            assert float(values[f"{stage}.p99_ms"]) >= float(values[f"{stage}.p50_ms"])
        assert float(values["fps"]) >= 0 and values["dropped_total"] == "0"
        assert "gpu" in values or "gpu.utilization_percent" in values

        port = runtime.monitor.prometheus_port
        assert port
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        metrics = text.decode()
        assert re.search(r"^trtpipe_frames_total 3\.0$", metrics, re.M), metrics
        assert 'trtpipe_stage_latency_seconds_count{stage="inference"} 3.0' in metrics
    finally:
        g.spinner.executor.remove_node(listener)
        listener.destroy_node()


def test_log_period_zero_is_off_and_bad_values_are_refused():
    from trtpipe.errors import InputError
    from trtpipe.ros.params import DetectorParams

    assert DetectorParams(log_period_s=0).log_period_s == 0
    with pytest.raises(InputError, match="log_period_s"):
        DetectorParams(log_period_s=-1)
    with pytest.raises(InputError, match="metrics_port"):
        DetectorParams(metrics_port=70000)
