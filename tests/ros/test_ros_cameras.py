"""The several-cameras node with real rclpy: three camera topics, one of them publishing bad
messages, one model (ONNX Runtime, the sample model). Each good camera gets its own
detections, with its own headers, in order, equal to a per-frame Detector's; the bad camera's
messages are counted drops that stall no other camera."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from onnx_models import coco_model

from .ros_harness import Spinner, diagnostics_now, image_msg, spin_until, stamp_ns, wait_for

pytestmark = pytest.mark.ros

CAMERAS = ("/cam0/image", "/cam1/image", "/cam2/image")  # cam2 sends broken messages


@pytest.fixture(scope="module")
def sample() -> Any:
    pytest.importorskip("onnxruntime")
    coco_model()  # the sample model, or a skip with the reason
    from trtpipe.detector import Detector
    from trtpipe.samples import sample_images, sample_model

    colour = [image for _, image in sample_images() if image.ndim == 3]
    direct = Detector(sample_model(), backend="onnxruntime", device="cpu")
    return direct, colour[:2]


def _cameras_node(context: Any, name: str, topics: tuple[str, ...], **params: Any) -> Any:
    """The cameras node on ONNX Runtime on the CPU, serving ``topics``."""
    from rclpy.parameter import Parameter

    from trtpipe.ros.cameras import CamerasNode

    values = {"image_topics": list(topics), "backend": "onnxruntime", "device": "cpu", **params}
    overrides = [Parameter(k, value=v) for k, v in values.items()]
    return CamerasNode(name, context=context, parameter_overrides=overrides)


def test_three_cameras_one_model_own_topics_own_headers(ros_context, sample):
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    from trtpipe.ros.cameras import detections_topic_of

    direct, images = sample
    node = _cameras_node(
        ros_context,
        "cameras_test",
        CAMERAS,
        qos="default",
        max_batch=3,
        max_wait_ms=30.0,
        diagnostics_period_s=0.2,
    )
    peer = rclpy.create_node("cameras_peer", context=ros_context)
    lock = threading.Lock()
    received: dict[str, list[Any]] = {topic: [] for topic in CAMERAS}
    diagnostics: list[Any] = []

    def keep(topic: str) -> Any:
        def on(msg: Any) -> None:
            with lock:
                received[topic].append(msg)

        return on

    pubs = {topic: peer.create_publisher(Image, topic, 10) for topic in CAMERAS}
    for topic in CAMERAS:
        peer.create_subscription(
            Detection2DArray, detections_topic_of(topic, "detections"), keep(topic), 10
        )
    peer.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, 10)
    spinner = Spinner(ros_context, node, peer)
    try:
        for topic in CAMERAS:
            wait_for(lambda t=topic: pubs[t].get_subscription_count() > 0, what=f"{topic} sub")
            wait_for(
                lambda t=topic: peer.count_publishers(detections_topic_of(t, "detections")) > 0,
                what=f"{topic} detections publisher",
            )
        rounds = 3
        for n in range(rounds):
            for k, topic in enumerate(CAMERAS[:2]):
                pubs[topic].publish(image_msg(images[(k + n) % 2], "bgr8", 1000 * k + n, topic))
            broken = image_msg(images[0], "bgr8", 2000 + n, "broken")
            broken.data = broken.data[: len(broken.data) // 2]  # truncated
            pubs[CAMERAS[2]].publish(broken)
            wait_for(
                lambda n=n: all(len(received[t]) > n for t in CAMERAS[:2]),
                timeout=30,
                what=f"round {n}",
            )
        wait_for(lambda: node.rejected(CAMERAS[2]).get("short_data", 0) == rounds, what="drops")
        with lock:
            for k, topic in enumerate(CAMERAS[:2]):
                got = received[topic]
                assert [stamp_ns(m.header) for m in got] == [1000 * k + n for n in range(rounds)]
                for n, msg in enumerate(got):
                    want = direct(images[(k + n) % 2], "bgr8")
                    assert len(msg.detections) == len(want), (topic, n)
                    ids = [d.results[0].hypothesis.class_id for d in msg.detections]
                    want_ids = [d.results[0].hypothesis.class_id for d in want.to_msg().detections]
                    assert ids == want_ids, (topic, n)
            assert received[CAMERAS[2]] == []
        sources = node.batch.sources
        assert {t: sources[t].detected for t in CAMERAS[:2]} == {t: rounds for t in CAMERAS[:2]}
        assert CAMERAS[2] not in sources  # never reached the batches

        def latest() -> dict[str, dict[str, str]]:
            last = diagnostics[-1].status if diagnostics else []
            return {s.name: {v.key: v.value for v in s.values} for s in last}

        cam0_name = "cameras_test: camera /cam0/image"
        cam2_name = "cameras_test: camera /cam2/image"

        def settled() -> bool:  # a report published after every frame was handled
            now = latest()
            return now.get(cam2_name, {}).get("rejected.short_data") == str(rounds) and now.get(
                cam0_name, {}
            ).get("frames_detected") == str(rounds)

        wait_for(settled, what="diagnostics after the last frame")
        statuses = latest()
        cam2 = statuses[cam2_name]
        assert cam2["frames_received"] == str(rounds) and cam2["rejected.short_data"] == str(rounds)
        assert statuses[cam0_name]["latency_p99_ms"] != "n/a"
        assert float(statuses[cam0_name]["rate_in_hz"]) >= 0.0
        assert float(statuses[cam0_name]["rate_out_hz"]) >= 0.0
        assert float(statuses["cameras_test: batches"]["mean_batch"]) >= 1.0
        for name in (cam0_name, cam2_name):  # every message arrived, numbered
            assert statuses[name]["dropped.sequence_gap"] == "0"
            assert statuses[name]["sequence_gap_counter"] == "on"
        # the shared model: what runs where, as a per-frame Detector of the same file has it
        from trtpipe.samples import sample_model

        model = statuses["cameras_test: model"]
        engine = direct.engine
        assert model["model.file"] == str(sample_model())
        assert (model["model.backend"], model["model.device"]) == (engine.backend, engine.device)
        assert model["model.input"] == f"{direct.input_size[0]}x{direct.input_size[1]} float32"
        assert model["frames_processed"] == str(2 * rounds)  # the good cameras' frames sent
        assert float(model["fps"]) >= 0.0
        assert model["gpu"] == direct.monitor.snapshot().device.reason  # no NVML on the CPU
        # batches time no host stages into the monitor: none reported, rather than zeros
        assert not [key for key in model if key.endswith(".p50_ms")]
        assert "latency_budget_misses" not in model
    finally:
        spinner.stop()
        node.destroy_node()
        peer.destroy_node()


def test_detections_topics_follow_the_image_topics_namespace():
    from trtpipe.errors import InputError
    from trtpipe.ros.cameras import CamerasParams, detections_topic_of

    assert detections_topic_of("/cam0/image_raw", "detections") == "/cam0/detections"
    assert detections_topic_of("/robot/front/image", "dets") == "/robot/front/dets"
    assert detections_topic_of("image", "detections") == "detections_image"
    assert detections_topic_of("/image", "detections") == "/detections"
    with pytest.raises(InputError, match="distinct topic names"):
        CamerasParams(image_topics=("/a", "/a"))
    with pytest.raises(InputError, match="distinct topic names"):
        CamerasParams(image_topics=())


def test_each_camera_counts_the_messages_that_never_reached_it(ros_context, sample):
    """Gaps in a camera publisher's sequence numbers are that camera's dropped.sequence_gap:
    here messages overwritten in the camera's keep-last-1 queue while the executor took none."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image

    cameras = ("/gap0/image", "/gap1/image")
    _, images = sample
    node = _cameras_node(ros_context, "cameras_gaps", cameras, qos="sensor_data", max_batch=1)
    peer = rclpy.create_node("cameras_gaps_peer", context=ros_context)
    pubs = {topic: peer.create_publisher(Image, topic, 10) for topic in cameras}
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)

    def values(camera: str) -> dict[str, str]:
        statuses = diagnostics_now(node, "_diagnostics_out", node.publish_diagnostics)
        return statuses[f"cameras_gaps: camera {camera}"]

    def received(camera: str) -> int:
        return int(values(camera)["frames_received"])

    try:
        for topic in cameras:
            spin_until(executor, lambda t=topic: pubs[t].get_subscription_count() > 0, 10, topic)
        assert values(cameras[0])["sequence_gap_counter"] == "waiting for the first message"
        frame = image_msg(images[0], "bgr8", 1_000)
        for topic in cameras:
            pubs[topic].publish(frame)
        spin_until(executor, lambda: all(received(t) == 1 for t in cameras), 10, "first frames")
        for _ in range(4):  # the executor takes none of these: the queue keeps the last one
            pubs[cameras[0]].publish(frame)
        pubs[cameras[1]].publish(frame)
        time.sleep(0.3)
        spin_until(executor, lambda: all(received(t) == 2 for t in cameras), 10, "newest frames")
        gap0, gap1 = values(cameras[0]), values(cameras[1])
        assert (gap0["dropped.sequence_gap"], gap1["dropped.sequence_gap"]) == ("3", "0")
        assert gap0["sequence_gap_counter"] == gap1["sequence_gap_counter"] == "on"
    finally:
        executor.shutdown()
        node.destroy_node()
        peer.destroy_node()
