"""Clean shutdown: no worker thread outlives the node, even with inference in flight."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from .ros_harness import ScriptedDetector, Spinner, detector_node, factory_of, image_msg, wait_for

pytestmark = pytest.mark.ros


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("trtpipe-ros-worker")]


def test_destroy_with_inference_in_flight_joins_the_worker(ros_context):
    import rclpy
    from sensor_msgs.msg import Image

    detector = ScriptedDetector(delay_s=0.5)
    node = detector_node(ros_context, factory_of(detector), "stop")
    peer = rclpy.create_node("stop_peer", context=ros_context)
    pub = peer.create_publisher(Image, "stop/image", 10)
    spinner = Spinner(ros_context, node, peer)
    wait_for(lambda: pub.get_subscription_count() > 0, what="match")
    frame = np.zeros((8, 8, 3), np.uint8)
    pub.publish(image_msg(frame, "rgb8", 1))
    wait_for(lambda: detector.calls == 1, what="inference started")
    pub.publish(image_msg(frame, "rgb8", 2))  # waits in the mailbox
    wait_for(lambda: node.runtime.counters.received == 2, what="second frame")
    assert len(_workers()) == 1
    spinner.stop()
    started = time.monotonic()
    node.destroy_node()
    assert time.monotonic() - started < 2.0
    assert not _workers()
    assert node.runtime.monitor.snapshot().dropped_frames == {"shutdown": 1}
    peer.destroy_node()


def test_context_shutdown_while_active_then_destroy(ros_context):
    import rclpy

    node = detector_node(ros_context, factory_of(ScriptedDetector()), "ctx")
    assert len(_workers()) == 1
    rclpy.shutdown(context=ros_context)
    node.destroy_node()
    assert not _workers()
