"""The RGB-D node with real rclpy: colour + depth + camera info published by a peer node, the
sample model on ONNX Runtime. Good pairs give a Detection3DArray whose boxes sit where the
depth and intrinsics put them (a known answer: a flat scene at 2 m) with the colour header;
bad input (no camera info yet, mismatched sizes, a mono8 "depth", stamps too far apart, NaN-only
depth) is counted, publishes nothing made up, and leaves the node serving."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from onnx_models import coco_model

from .ros_harness import Spinner, diagnostics_now, image_msg, stamp_ns, wait_for

pytestmark = pytest.mark.ros

FX, FY = 300.0, 310.0


def _depth_msg(depth: np.ndarray, encoding: str, stamp: int) -> Any:
    from sensor_msgs.msg import Image

    h, w = depth.shape
    msg = Image(height=h, width=w, encoding=encoding, is_bigendian=0, step=w * depth.itemsize)
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    msg.header.frame_id = "camera_depth_optical"
    msg.data = np.ascontiguousarray(depth).tobytes()
    return msg


def _info(width: int, height: int) -> Any:
    from sensor_msgs.msg import CameraInfo

    info = CameraInfo(width=width, height=height)
    info.k = [FX, 0.0, width / 2, 0.0, FY, height / 2, 0.0, 0.0, 1.0]
    return info


def _rgbd_node(context: Any, name: str, **params: Any) -> Any:
    """The RGB-D node on ONNX Runtime on the CPU (conf 0.2, default QoS), with ``params``."""
    from rclpy.parameter import Parameter

    from trtpipe.ros.rgbd import RgbdNode

    values = {"backend": "onnxruntime", "device": "cpu", "conf": 0.2, "qos": "default", **params}
    overrides = [Parameter(k, value=v) for k, v in values.items()]
    return RgbdNode(name, context=context, parameter_overrides=overrides)


def test_colour_depth_and_camera_info_give_objects_in_3d(ros_context):
    pytest.importorskip("onnxruntime")
    coco_model()  # the sample model, or a skip with the reason
    import rclpy
    from sensor_msgs.msg import CameraInfo, Image
    from vision_msgs.msg import Detection2DArray, Detection3DArray

    from trtpipe.detector import Detector
    from trtpipe.samples import sample_images, sample_model

    colour = next(image for _, image in sample_images() if image.ndim == 3)
    reference = Detector(sample_model(), backend="onnxruntime", device="cpu", conf=0.2)
    want = reference(colour, "bgr8")
    assert len(want) > 0
    height, width = colour.shape[:2]
    dw, dh = width // 2, height // 2  # depth at half the colour resolution
    node = _rgbd_node(ros_context, "rgbd_test", sync_slop=0.01)
    peer = rclpy.create_node("rgbd_peer", context=ros_context)
    lock = threading.Lock()
    out_3d: list[Any] = []
    out_2d: list[Any] = []

    def keep(into: list[Any]) -> Any:
        def on(msg: Any) -> None:
            with lock:
                into.append(msg)

        return on

    colour_pub = peer.create_publisher(Image, "color/image_raw", 10)
    depth_pub = peer.create_publisher(Image, "depth/image_raw", 10)
    info_pub = peer.create_publisher(CameraInfo, "depth/camera_info", 10)
    peer.create_subscription(Detection3DArray, "detections_3d", keep(out_3d), 10)
    peer.create_subscription(Detection2DArray, "detections", keep(out_2d), 10)
    spinner = Spinner(ros_context, node, peer)
    flat = np.full((dh, dw), 2.0, np.float32)

    def send(stamp: int, depth_msg: Any, colour_stamp: int | None = None) -> None:
        colour_pub.publish(
            image_msg(colour, "bgr8", stamp if colour_stamp is None else colour_stamp)
        )
        depth_pub.publish(depth_msg)

    def dropped(reason: str) -> int:
        with node._lock:
            return node.dropped.get(reason, 0)

    try:
        for pub in (colour_pub, depth_pub, info_pub):
            wait_for(lambda p=pub: p.get_subscription_count() > 0, what="subscriptions")
        wait_for(lambda: peer.count_publishers("detections_3d") > 0, what="3D publisher")
        # 1. no camera info yet: counted, nothing published
        send(1_000, _depth_msg(flat, "32FC1", 1_000))
        wait_for(lambda: dropped("no_camera_info") == 1, what="no camera info drop")
        info_pub.publish(_info(dw, dh))
        wait_for(lambda: node._info is not None, what="camera info")
        # 2. a good pair: every box at 2 m, where the intrinsics put it
        send(2_000, _depth_msg(flat, "32FC1", 2_000))
        wait_for(lambda: len(out_3d) == 1, timeout=30, what="the 3D detections")
        msg = out_3d[0]
        assert stamp_ns(msg.header) == 2_000 and msg.header.frame_id == "camera"
        assert len(msg.detections) == len(want)
        for det, box in zip(msg.detections, want.boxes, strict=True):
            u, v = (box[0] + box[2]) / 4, (box[1] + box[3]) / 4  # in depth pixels
            centre = det.bbox.center.position
            assert centre.z == pytest.approx(2.0)
            assert centre.x == pytest.approx((u - dw / 2) * 2.0 / FX, abs=0.01)
            assert centre.y == pytest.approx((v - dh / 2) * 2.0 / FY, abs=0.01)
            assert det.bbox.size.x == pytest.approx((box[2] - box[0]) / 2 * 2.0 / FX, rel=0.02)
        wait_for(lambda: len(out_2d) == 1, what="the 2D detections")
        assert len(out_2d[0].detections) == len(want)
        # 3. bad input, each counted; nothing published for it
        send(3_000, _depth_msg(np.full((dh, dw + 40), 2.0, np.float32), "32FC1", 3_000))
        wait_for(lambda: dropped("camera_info_size") == 1, what="depth of another size")
        send(4_000, _depth_msg(np.full((dh, dw), 9, np.uint8), "mono8", 4_000))
        wait_for(lambda: dropped("bad_depth_encoding") == 1, what="mono8 depth")
        send(5_000_000_000, _depth_msg(flat, "32FC1", 5_000_000_000), colour_stamp=5_500_000_000)
        nan_depth = np.full((dh, dw), np.nan, np.float32)
        send(6_000_000_000, _depth_msg(nan_depth, "32FC1", 6_000_000_000))
        wait_for(lambda: len(out_3d) == 2, timeout=30, what="the NaN-only pair")
        assert out_3d[1].detections == []  # no box has depth: none is made up
        assert node.boxes_without_depth == len(want)
        counts = node._pairs.counts
        assert counts.unpaired_color >= 1 and counts.unpaired_depth >= 1  # 0.5 s apart
        assert node.processed == 2
        # 4. still serving
        send(7_000_000_000, _depth_msg(flat, "32FC1", 7_000_000_000))
        wait_for(lambda: len(out_3d) == 3, timeout=30, what="a good pair after the bad ones")
        assert len(out_3d[2].detections) == len(want)
        (values,) = diagnostics_now(node, "_diagnostics_out", node.publish_diagnostics).values()
        for name in ("color", "depth"):  # every message arrived, numbered by its publisher
            assert values[f"sequence_gap.{name}"] == "0"
            assert values[f"sequence_gap_counter.{name}"] == "on"
        # the model and its monitor's figures, as the detector node reports them
        engine = reference.engine
        assert values["model.file"] == str(sample_model())
        assert (values["model.backend"], values["model.device"]) == (engine.backend, engine.device)
        assert values["model.input"] == "x".join(map(str, reference.input_size)) + " float32"
        # pairs 2_000, 6_000_000_000 (NaN depth) and 7_000_000_000 reached the model
        assert values["frames_processed"] == "3" == values["pairs_processed"]
        assert float(values["fps"]) >= 0.0
        for stage in ("preprocess", "inference", "postprocess", "end_to_end"):
            assert 0 < float(values[f"{stage}.p50_ms"]) <= float(values[f"{stage}.p99_ms"])
        assert values["gpu"] == reference.monitor.snapshot().device.reason  # no NVML on the CPU
        assert values["latency_budget_ms"] == f"{reference.monitor.deadline_ms:g}"
        assert 0 <= int(values["latency_budget_misses"]) <= 3
    finally:
        spinner.stop()
        node.destroy_node()
        peer.destroy_node()


def test_stamp_pairer_pairs_within_the_slop_and_counts_the_rest():
    from types import SimpleNamespace

    from trtpipe.ros.stamp_pairs import StampPairer

    def msg(t: float) -> Any:
        sec = int(t)
        return SimpleNamespace(
            t=t,
            header=SimpleNamespace(stamp=SimpleNamespace(sec=sec, nanosec=round((t - sec) * 1e9))),
        )

    pairs = StampPairer(slop_s=0.01, queue_size=3)
    assert pairs.add_color(msg(1.0)) is None
    got = pairs.add_depth(msg(1.005))
    assert (got[0].t, got[1].t) == (1.0, 1.005)
    assert pairs.add_color(msg(2.0)) is None
    assert pairs.add_depth(msg(2.5)) is None  # too far apart
    assert pairs.add_color(msg(3.0)) is None
    got = pairs.add_depth(msg(2.995))  # pairs 3.0; 2.0 (older) leaves unpaired
    assert (got[0].t, got[1].t) == (3.0, 2.995)
    assert pairs.counts.paired == 2 and pairs.counts.unpaired_color == 1
    assert pairs.counts.unpaired_depth == 1  # 2.5 was older than the pair that formed
    for t in (4.0, 5.0, 6.0, 7.0):  # queue of 3: the oldest falls out
        pairs.add_color(msg(t))
    assert pairs.counts.unpaired_color == 2


def test_depth_from_a_camera_of_its_own_is_placed_through_the_extrinsic(ros_context):
    """A depth camera 5 cm to the colour camera's left, seeing a wall 2 m away: with
    depth_to_color and the colour camera info, the node gives what Detector.detect_rgbd gives
    for the same inputs, every box on the wall (z = 2 m in the colour frame)."""
    pytest.importorskip("onnxruntime")
    coco_model()
    import rclpy
    from sensor_msgs.msg import CameraInfo, Image
    from vision_msgs.msg import Detection3DArray

    from trtpipe.detector import Detector
    from trtpipe.samples import sample_images, sample_model

    colour = next(image for _, image in sample_images() if image.ndim == 3)
    height, width = colour.shape[:2]
    dw, dh = 320, 240  # another camera: another size and aspect ratio
    extrinsic = np.eye(4)
    extrinsic[0, 3] = 0.05
    node = _rgbd_node(ros_context, "rgbd_extrinsic", depth_to_color=extrinsic.reshape(-1).tolist())
    peer = rclpy.create_node("rgbd_extrinsic_peer", context=ros_context)
    out: list[Any] = []
    colour_pub = peer.create_publisher(Image, "color/image_raw", 10)
    depth_pub = peer.create_publisher(Image, "depth/image_raw", 10)
    info_pub = peer.create_publisher(CameraInfo, "depth/camera_info", 10)
    colour_info_pub = peer.create_publisher(CameraInfo, "color/camera_info", 10)
    peer.create_subscription(Detection3DArray, "detections_3d", out.append, 10)
    spinner = Spinner(ros_context, node, peer)
    wall = np.full((dh, dw), 2.0, np.float32)
    try:
        for pub in (colour_pub, depth_pub, info_pub, colour_info_pub):
            wait_for(lambda p=pub: p.get_subscription_count() > 0, what="subscriptions")
        info_pub.publish(_info(dw, dh))
        wait_for(lambda: node._info is not None, what="depth camera info")
        colour_pub.publish(image_msg(colour, "bgr8", 1_000))
        depth_pub.publish(_depth_msg(wall, "32FC1", 1_000))
        wait_for(lambda: node.dropped.get("no_color_camera_info") == 1, what="no colour info")
        colour_info_pub.publish(_info(width, height))
        wait_for(lambda: node._color_info is not None, what="colour camera info")
        colour_pub.publish(image_msg(colour, "bgr8", 2_000))
        depth_pub.publish(_depth_msg(wall, "32FC1", 2_000))
        wait_for(lambda: len(out) == 1, timeout=30, what="the 3D detections")
    finally:
        spinner.stop()
        node.destroy_node()
        peer.destroy_node()
    with Detector(sample_model(), backend="onnxruntime", device="cpu", conf=0.2) as direct:
        want = direct.detect_rgbd(
            colour,
            wall,
            _info(dw, dh),
            extrinsic=extrinsic,
            colour_intrinsics=_info(width, height),
        )
    got = out[0].detections
    assert len(got) == len(want) - want.without_depth > 0
    placed = want.positions[~np.isnan(want.positions[:, 2])]
    for det, position in zip(got, placed, strict=True):
        centre = det.bbox.center.position
        assert (centre.x, centre.y, centre.z) == pytest.approx(tuple(position), abs=1e-4)
        assert centre.z == pytest.approx(2.0, abs=0.01)
    with pytest.raises(Exception, match="depth_to_color"):
        _rgbd_node(ros_context, "rgbd_bad_extrinsic", depth_to_color=[1.0, 0.0, 0.0])


def test_compressed_colour_is_decoded_and_placed_and_a_bad_payload_is_a_drop(ros_context):
    """color_input_type "compressed": a PNG colour frame gives the boxes the Detector finds in
    the same pixels, each on the 2 m wall; a payload that does not decode is a counted drop."""
    pytest.importorskip("onnxruntime")
    cv2 = pytest.importorskip("cv2")
    coco_model()
    import rclpy
    from sensor_msgs.msg import CameraInfo, CompressedImage, Image
    from vision_msgs.msg import Detection3DArray

    from trtpipe.detector import Detector
    from trtpipe.samples import sample_images, sample_model

    colour = next(image for _, image in sample_images() if image.ndim == 3)
    height, width = colour.shape[:2]
    with Detector(sample_model(), backend="onnxruntime", device="cpu", conf=0.2) as direct:
        want = direct(colour, "bgr8")
    node = _rgbd_node(ros_context, "rgbd_compressed", color_input_type="compressed")
    peer = rclpy.create_node("rgbd_compressed_peer", context=ros_context)
    out: list[Any] = []
    colour_pub = peer.create_publisher(CompressedImage, "color/image_raw", 10)
    depth_pub = peer.create_publisher(Image, "depth/image_raw", 10)
    info_pub = peer.create_publisher(CameraInfo, "depth/camera_info", 10)
    peer.create_subscription(Detection3DArray, "detections_3d", out.append, 10)
    spinner = Spinner(ros_context, node, peer)
    wall = np.full((height, width), 2.0, np.float32)

    def compressed(data: bytes, stamp: int) -> Any:
        msg = CompressedImage(format="png", data=data)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
        msg.header.frame_id = "camera"
        return msg

    try:
        for pub in (colour_pub, depth_pub, info_pub):
            wait_for(lambda p=pub: p.get_subscription_count() > 0, what="subscriptions")
        info_pub.publish(_info(width, height))
        wait_for(lambda: node._info is not None, what="camera info")
        png = cv2.imencode(".png", colour)[1].tobytes()  # lossless: the same pixels
        colour_pub.publish(compressed(png, 1_000))
        depth_pub.publish(_depth_msg(wall, "32FC1", 1_000))
        wait_for(lambda: len(out) == 1, timeout=30, what="the 3D detections")
        got = out[0].detections
        assert len(got) == len(want) > 0
        assert all(d.bbox.center.position.z == pytest.approx(2.0) for d in got)
        colour_pub.publish(compressed(b"not an image", 2_000))
        depth_pub.publish(_depth_msg(wall, "32FC1", 2_000))
        wait_for(lambda: node.dropped.get("bad_compressed") == 1, what="the bad payload drop")
    finally:
        spinner.stop()
        node.destroy_node()
        peer.destroy_node()
