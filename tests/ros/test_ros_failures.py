"""Inference failures: the frame is dropped and counted, the next is served, the engine reloads,
and the node can fall back to the CPU backend; diagnostics say ERROR meanwhile."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from .ros_harness import Graph, ScriptedDetector, drops, factory_of, image_msg, stamp_ns, wait_for

pytestmark = pytest.mark.ros

FRAME = np.arange(24 * 32 * 3, dtype=np.uint8).reshape(24, 32, 3)


@pytest.fixture
def graph(ros_context):
    made: list[Graph] = []

    def make(factory: Any, topic: str, **overrides: Any) -> Graph:
        g = Graph(ros_context, factory, topic, **overrides)
        made.append(g)
        return g

    yield make
    for g in made:
        g.close()


def _send_failing(g: Graph, n: int, start: int) -> None:
    for i in range(n):
        g.pub.publish(image_msg(FRAME, "rgb8", start + i))
        wait_for(
            lambda i=i: drops(g.node).get("inference_error", 0) >= start - 1000 + i + 1,
            what=f"inference error #{i + 1}",
        )


def test_failure_drops_the_frame_and_the_next_is_served(graph):
    flaky = ScriptedDetector(fail_next=1)
    g = graph(factory_of(flaky), "fail1", max_consecutive_failures=5)
    g.pub.publish(image_msg(FRAME, "rgb8", 1))
    wait_for(lambda: drops(g.node).get("inference_error") == 1, what="the failed frame")
    out = g.send_and_wait(image_msg(FRAME, "rgb8", 2), 1)
    assert stamp_ns(out.header) == 2
    counters = g.node.runtime.counters
    assert (counters.inference_errors, counters.consecutive_failures, counters.reloads) == (1, 0, 0)
    assert "EngineError" in counters.last_error


def test_consecutive_failures_reload_the_engine(graph):
    broken, fresh = ScriptedDetector(fail_next=10**6), ScriptedDetector()
    factory = factory_of(broken, fresh)
    g = graph(factory, "reload", max_consecutive_failures=3)
    _send_failing(g, 3, 1000)
    wait_for(lambda: g.node.runtime.counters.reloads == 1, what="the reload")
    out = g.send_and_wait(image_msg(FRAME, "rgb8", 5000), 1)
    assert stamp_ns(out.header) == 5000
    assert factory.calls == [("auto", "auto"), ("auto", "auto")]
    assert broken.calls == 3 and fresh.calls == 1


def test_falls_back_to_cpu_when_a_reload_does_not_help(graph):
    broken, cpu = ScriptedDetector(fail_next=10**6), ScriptedDetector()
    factory = factory_of(broken, broken, cpu)
    g = graph(factory, "fallback", max_consecutive_failures=2, fallback_to_cpu=True)
    _send_failing(g, 4, 1000)  # 2 failures -> reload, 2 more -> CPU fallback
    wait_for(lambda: g.node.runtime.counters.cpu_fallbacks == 1, what="the fallback")
    out = g.send_and_wait(image_msg(FRAME, "rgb8", 6000), 1)
    assert stamp_ns(out.header) == 6000
    assert factory.calls == [("auto", "auto"), ("auto", "auto"), ("onnxruntime", "cpu")]
    assert g.node.runtime.backend == "onnxruntime"


def test_diagnostics_report_error_while_failing_and_ok_after(graph, ros_context):
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray

    flaky = ScriptedDetector(fail_next=1)
    g = graph(factory_of(flaky), "diag", diagnostics_period_s=0.2)
    statuses: list[Any] = []
    listener = rclpy.create_node("diag_listener", context=ros_context)
    listener.create_subscription(
        DiagnosticArray,
        "/diagnostics",
        lambda m: statuses.extend(s for s in m.status if s.name.endswith("det_diag")),
        10,
    )
    g.spinner.add(listener)
    try:
        g.pub.publish(image_msg(FRAME, "rgb8", 1))
        wait_for(lambda: any(s.level == b"\x02" for s in statuses), what="an ERROR status")
        error = next(s for s in statuses if s.level == b"\x02")
        values = {kv.key: kv.value for kv in error.values}
        assert values["inference_errors"] == "1"
        assert values["dropped.inference_error"] == "1"
        assert "scripted failure" in error.message
        g.send_and_wait(image_msg(FRAME, "rgb8", 2), 1)
        n = len(statuses)
        wait_for(lambda: len(statuses) > n + 1 and statuses[-1].level == b"\x00", what="OK")
        values = {kv.key: kv.value for kv in statuses[-1].values}
        assert values["frames_processed"] == "1"
        assert float(values["end_to_end.p50_ms"]) > 0
        assert float(values["inference.p99_ms"]) == pytest.approx(0.2)
    finally:
        g.spinner.executor.remove_node(listener)
        listener.destroy_node()


def test_a_bad_qos_fails_before_the_model_loads(ros_context):
    from .ros_harness import detector_node

    factory = factory_of(ScriptedDetector())
    with pytest.raises(Exception, match="qos"):
        detector_node(ros_context, factory, "badqos", qos="bogus")
    assert factory.calls == []  # the model was never loaded


def test_diagnostics_name_the_backend_that_runs(graph, ros_context):
    """backend "auto" asked for, ONNX Runtime loaded: the diagnostics say onnxruntime."""
    from types import SimpleNamespace

    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray

    detector = ScriptedDetector()
    detector.engine = SimpleNamespace(backend="onnxruntime", device="cpu")
    g = graph(factory_of(detector), "loaded", diagnostics_period_s=0.2, backend="auto")
    statuses: list[Any] = []
    listener = rclpy.create_node("loaded_listener", context=ros_context)
    listener.create_subscription(
        DiagnosticArray,
        "/diagnostics",
        lambda m: statuses.extend(s for s in m.status if s.name.endswith("det_loaded")),
        10,
    )
    g.spinner.add(listener)
    try:
        wait_for(lambda: len(statuses) > 0, what="a diagnostics status")
        values = {kv.key: kv.value for kv in statuses[-1].values}
        assert values["backend"] == "onnxruntime"
        assert statuses[-1].hardware_id == "onnxruntime:cpu"
    finally:
        g.spinner.executor.remove_node(listener)
        listener.destroy_node()
