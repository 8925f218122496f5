"""QoS: an incompatible camera publisher is reported and counted; deadline misses are counted."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from .ros_harness import ScriptedDetector, Spinner, detector_node, factory_of, image_msg, wait_for

pytestmark = pytest.mark.ros


def _peer_publisher(context: Any, topic: str, qos: Any) -> tuple[Any, Any]:
    import rclpy
    from sensor_msgs.msg import Image

    peer = rclpy.create_node(f"cam_{topic}", context=context)
    return peer, peer.create_publisher(Image, f"{topic}/image", qos)


def test_best_effort_camera_against_reliable_preset_is_an_incompatible_qos(ros_context):
    from rclpy.qos import qos_profile_sensor_data

    from trtpipe.ros.diagnostics import WARN, status_level

    node = detector_node(ros_context, factory_of(ScriptedDetector()), "mismatch", qos="reliable")
    peer, _ = _peer_publisher(ros_context, "mismatch", qos_profile_sensor_data)
    spinner = Spinner(ros_context, node, peer)
    try:
        wait_for(lambda: node.runtime.counters.incompatible_qos, what="incompatible QoS event")
        assert "RELIABILITY" in node.runtime.counters.incompatible_qos
        level, message = status_level(node.runtime.counters)
        assert level == WARN and "RELIABILITY" in message
    finally:
        spinner.stop()
        node.destroy_node()
        peer.destroy_node()


def test_reliable_preset_counts_missed_input_deadlines(ros_context):
    from trtpipe.ros.qos import make_qos

    node = detector_node(ros_context, factory_of(ScriptedDetector()), "deadline", qos="reliable")
    # The camera offers what the reliable preset requests (33 ms deadline, 100 ms lease).
    peer, pub = _peer_publisher(ros_context, "deadline", make_qos("reliable"))
    spinner = Spinner(ros_context, node, peer)
    try:
        wait_for(lambda: pub.get_subscription_count() > 0, what="match")
        pub.publish(image_msg(np.zeros((4, 4, 3), np.uint8), "rgb8", 1))
        time.sleep(0.3)  # silence: about nine 33 ms periods without a frame
        wait_for(lambda: node.runtime.counters.deadline_missed_input >= 3, what="deadline misses")
        assert not node.runtime.counters.incompatible_qos
    finally:
        spinner.stop()
        node.destroy_node()
        peer.destroy_node()


def test_presets():
    from rclpy.qos import HistoryPolicy, LivelinessPolicy, ReliabilityPolicy

    from trtpipe.errors import InputError
    from trtpipe.ros.qos import make_qos

    sensor = make_qos("sensor_data")
    assert (sensor.reliability, sensor.history, sensor.depth) == (
        ReliabilityPolicy.BEST_EFFORT,
        HistoryPolicy.KEEP_LAST,
        1,
    )
    reliable = make_qos("reliable")
    assert reliable.reliability == ReliabilityPolicy.RELIABLE
    assert reliable.deadline.nanoseconds == 33_000_000
    assert reliable.liveliness == LivelinessPolicy.AUTOMATIC
    assert reliable.liveliness_lease_duration.nanoseconds == 100_000_000
    assert make_qos("reliable", deadline_ms=50).deadline.nanoseconds == 50_000_000
    with pytest.raises(InputError, match="qos: expected one of"):
        make_qos("fast")
