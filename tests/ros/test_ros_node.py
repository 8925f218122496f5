"""The detector node on real rclpy over loopback: frames in, detections out, bad input dropped."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from .ros_harness import Graph, ScriptedDetector, drops, factory_of, image_msg, stamp_ns, wait_for

pytestmark = pytest.mark.ros


def _astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()  # 512x512 RGB


@pytest.fixture
def graph_factory(ros_context):
    graphs: list[Graph] = []

    def make(detector: Any, topic: str, **overrides: Any) -> Graph:
        graphs.append(Graph(ros_context, factory_of(detector), topic, **overrides))
        return graphs[-1]

    yield make
    for g in graphs:
        g.close()


def test_header_preserved_and_pixels_handed_over(graph_factory):
    detector = ScriptedDetector()
    g = graph_factory(detector, "hdr")
    image = _astronaut()
    for i, (encoding, pixels, pad) in enumerate(
        [("rgb8", image, 0), ("bgr8", image[:, :, ::-1], 5), ("mono8", image[:, :, 1], 3)]
    ):
        stamp = 1_700_000_000_123_456_789 + i
        out = g.send_and_wait(
            image_msg(pixels, encoding, stamp, frame_id=f"cam{i}", pad=pad), i + 1
        )
        assert stamp_ns(out.header) == stamp
        assert out.header.frame_id == f"cam{i}"
        (det,) = out.detections
        # The oracle: the mean of exactly the published pixels (row padding excluded).
        assert det.results[0].hypothesis.score == pytest.approx(pixels.mean() / 255, rel=1e-5)
        assert (det.bbox.size_x, det.bbox.size_y) == (512.0, 512.0)
    assert drops(g.node) == {}


def test_bad_messages_are_counted_dropped_and_the_next_frame_served(graph_factory):
    from sensor_msgs.msg import Image

    detector = ScriptedDetector()
    g = graph_factory(detector, "bad")
    good = _astronaut()[:64, :80]

    def bad(**fields: Any) -> Any:
        msg = image_msg(good, "rgb8", 1)
        for k, v in fields.items():
            setattr(msg, k, v)
        return msg

    cases = {
        "unknown_encoding": bad(encoding="bayer_rggb8"),
        "short_data": bad(data=bytes(64 * 240 - 1)),
        "zero_size": bad(width=0, height=0, step=0, data=b""),
        "bad_step": bad(step=80 * 3 - 1),
    }
    served = 0
    for i, (reason, msg) in enumerate(cases.items()):
        g.pub.publish(msg)
        key = f"bad_message.{reason}"
        wait_for(lambda key=key: drops(g.node).get(key) == 1, what=key)
        served += 1
        out = g.send_and_wait(image_msg(good, "rgb8", 100 + i), served)
        assert stamp_ns(out.header) == 100 + i
    assert isinstance(cases["short_data"], Image)
    assert detector.calls == served  # rejected messages never reached the detector
    assert g.node.runtime.counters.received == 2 * len(cases)


def test_compressed_input_and_bad_payload(graph_factory):
    import io

    from PIL import Image as PILImage
    from sensor_msgs.msg import CompressedImage

    detector = ScriptedDetector()
    g = graph_factory(detector, "jpg", input_type="compressed")
    image = _astronaut()
    png = io.BytesIO()
    PILImage.fromarray(image).save(png, format="PNG")  # lossless: the oracle stays exact

    def compressed(payload: bytes, stamp: int) -> Any:
        msg = CompressedImage(format="png", data=payload)
        msg.header.stamp.nanosec = stamp
        return msg

    g.pub.publish(compressed(b"\x89PNG but not really", 1))
    wait_for(lambda: drops(g.node).get("bad_message.bad_compressed") == 1, what="bad payload")
    g.pub.publish(compressed(b"", 2))
    wait_for(lambda: drops(g.node).get("bad_message.bad_compressed") == 2, what="empty payload")
    out = g.send_and_wait(compressed(png.getvalue(), 3), 1)
    assert out.header.stamp.nanosec == 3
    assert out.detections[0].results[0].hypothesis.score == pytest.approx(image.mean() / 255, 1e-5)


def test_raw_bytes_reach_the_detector_without_a_copy():
    from trtpipe.ros.image_input import raw_frame

    msg = image_msg(_astronaut(), "rgb8", 1)
    frame = raw_frame(msg)
    address, _ = msg.data.buffer_info()  # rclpy's array.array: the one copy rclpy makes
    assert np.frombuffer(frame.data, np.uint8).ctypes.data == address
    assert np.shares_memory(frame.as_array(), np.frombuffer(msg.data, np.uint8))


def test_slow_inference_keeps_the_newest_frame_and_counts_drops(graph_factory):
    detector = ScriptedDetector(delay_s=0.2)
    g = graph_factory(detector, "slow")
    small = _astronaut()[:32, :32]
    sent = 12
    for i in range(sent):  # a 50 Hz camera in front of 5 Hz inference
        g.pub.publish(image_msg(small, "rgb8", 1000 + i))
        time.sleep(0.02)
    last = 1000 + sent - 1
    wait_for(lambda: any(stamp_ns(m.header) == last for m in g.received), what="the newest frame")
    wait_for(lambda: g.node.runtime.counters.received == sent, what="all frames received")
    # Every frame was either served or counted as displaced by a newer one.
    wait_for(
        lambda: len(g.received) + drops(g.node).get("newest_frame_wins", 0) == sent,
        what="served + dropped == sent",
    )
    assert drops(g.node)["newest_frame_wins"] >= 1 and len(g.received) < sent
    stamps = [stamp_ns(m.header) for m in g.received]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize("inline_detect_max_ms", [0.0, 1000.0])
def test_a_fast_detector_serves_frames_in_their_callback_in_order(
    graph_factory, inline_detect_max_ms
):
    """inline_detect_max_ms 1000: once INLINE_WINDOW frames have been timed on the worker, a
    frame runs in its own callback; 0: never. Either way each frame's detections are its own
    (the mean of its pixels), in order, with its header, and nothing is dropped."""
    from trtpipe.ros.inline_runs import INLINE_WINDOW

    g = graph_factory(
        ScriptedDetector(),
        f"inline{int(inline_detect_max_ms)}",
        inline_detect_max_ms=inline_detect_max_ms,
    )
    image = _astronaut()[:48, :64]
    count = INLINE_WINDOW + 12
    for i in range(count):
        pixels = np.ascontiguousarray(np.roll(image, 7 * i, axis=1))
        out = g.send_and_wait(image_msg(pixels, "rgb8", 5000 + i), i + 1)
        assert stamp_ns(out.header) == 5000 + i
        assert out.detections[0].results[0].hypothesis.score == pytest.approx(
            pixels.mean() / 255, rel=1e-5
        )
    inline = g.node.runtime.inline_frames
    if inline_detect_max_ms == 0:
        assert inline == 0
    else:  # the first INLINE_WINDOW on the worker, to time the detector
        assert 1 <= inline <= count - INLINE_WINDOW
    assert drops(g.node) == {}


def test_a_frame_older_than_one_served_in_a_callback_is_dropped_not_published(graph_factory):
    """The worker took a frame while a newer one ran in its callback (simulated: the served
    arrival is set past the taken frame's while the worker waits for the run lock): the older
    frame is a counted newest_frame_wins drop and never goes out after the newer one."""
    g = graph_factory(ScriptedDetector(), "older")
    runtime = g.node.runtime
    image = _astronaut()[:16, :16]
    g.send_and_wait(image_msg(image, "rgb8", 1), 1)
    with runtime._gate.lock:  # the worker will take the next frame and wait here
        g.pub.publish(image_msg(image, "rgb8", 2))
        wait_for(lambda: runtime.counters.received == 2, what="the second frame received")
        wait_for(lambda: runtime._mailbox._item is None, what="taken by the worker")
        runtime._served_s = time.perf_counter()  # a newer frame ran in its callback
    wait_for(lambda: drops(g.node).get("newest_frame_wins", 0) == 1, what="the drop counted")
    time.sleep(0.1)
    assert [stamp_ns(m.header) for m in g.received] == [1]


def test_debug_image_has_the_boxes_drawn_and_the_input_header(graph_factory, ros_context):
    import rclpy
    from sensor_msgs.msg import Image

    g = graph_factory(
        ScriptedDetector(), "dbg", publish_debug_image=True, debug_image_topic="dbg/debug"
    )
    images: list[Any] = []
    listener = rclpy.create_node("dbg_listener", context=ros_context)
    listener.create_subscription(Image, "dbg/debug", images.append, 10)
    g.spinner.add(listener)
    try:
        wait_for(lambda: listener.count_publishers("dbg/debug") == 1, what="debug pub")
        pixels = np.full((20, 30, 3), 9, np.uint8)
        g.send_and_wait(image_msg(pixels, "bgr8", 5, pad=2), 1)
        wait_for(lambda: len(images) == 1, what="debug image")
        out = images[0]
        assert (out.width, out.height, out.encoding, stamp_ns(out.header)) == (30, 20, "bgr8", 5)
        drawn = np.frombuffer(out.data, np.uint8).reshape(20, 30, 3)
        # The scripted detector's box is the whole frame: a 2-px border, the inside untouched.
        border = np.ones((20, 30), bool)
        border[2:-2, 2:-2] = False
        assert (drawn[border] == (0, 255, 0)).all()
        assert (drawn[~border] == 9).all()
    finally:
        g.spinner.executor.remove_node(listener)
        listener.destroy_node()
