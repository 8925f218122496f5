"""Camera-size frames between processes, best effort: a publisher process with the shipped
Fast DDS profile delivers 1080p frames to a subscriber with the default transports and the
node's default QoS (sensor_data); the profile reaches a trtpipe-ros process unless the user
chose another."""

from __future__ import annotations

import os
import textwrap
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from .ros_harness import run_publisher

pytestmark = pytest.mark.ros

PUBLISHER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import rclpy
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    count, width, height = (int(v) for v in sys.argv[1:4])
    rclpy.init()
    node = rclpy.create_node("large_frame_camera")
    pub = node.create_publisher(Image, "large_frames", qos_profile_sensor_data)
    msg = Image(width=width, height=height, encoding="bgr8", step=width * 3)
    msg.data = np.random.default_rng(0).integers(0, 256, width * height * 3, np.uint8).tobytes()
    deadline = time.monotonic() + 20
    while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the reader side finishes matching too
    for i in range(count):  # 30 Hz, as a camera driver
        msg.header.frame_id = str(i)
        pub.publish(msg)
        time.sleep(1 / 30)
    time.sleep(1.0)
    node.destroy_node()
    rclpy.shutdown()
    """
)


def test_the_profile_is_a_fastdds_default_profile_with_large_shared_memory():
    from trtpipe.ros.large_frames import profile_path

    ns = {"dds": "http://www.eprosima.com"}
    root = ET.parse(profile_path()).getroot()
    shm = root.find(".//dds:transport_descriptor[dds:type='SHM']", ns)
    assert int(shm.find("dds:segment_size", ns).text) == 64 * 2**20
    assert root.find(".//dds:transport_descriptor[dds:type='UDPv4']", ns) is not None
    participant = root.find(".//dds:participant", ns)
    assert participant.get("is_default_profile") == "true"
    assert participant.find(".//dds:useBuiltinTransports", ns).text == "false"


def test_a_process_uses_the_profile_unless_another_is_chosen(monkeypatch):
    from trtpipe.ros import large_frames

    for name in ("RMW_IMPLEMENTATION", large_frames.PROFILE_ENV, large_frames.OPT_OUT_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(large_frames.LEGACY_PROFILE_ENV, raising=False)
    assert large_frames.use_in_this_process() == large_frames.profile_path()
    assert os.environ[large_frames.PROFILE_ENV] == str(large_frames.profile_path())
    monkeypatch.setenv(large_frames.PROFILE_ENV, "/etc/mine.xml")
    assert large_frames.use_in_this_process() is None
    assert os.environ[large_frames.PROFILE_ENV] == "/etc/mine.xml"
    monkeypatch.delenv(large_frames.PROFILE_ENV)
    monkeypatch.setenv("RMW_IMPLEMENTATION", "rmw_cyclonedds_cpp")
    assert large_frames.use_in_this_process() is None
    monkeypatch.setenv("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    monkeypatch.setenv(large_frames.OPT_OUT_ENV, "0")
    assert large_frames.use_in_this_process() is None
    assert large_frames.PROFILE_ENV not in os.environ


def test_1080p_best_effort_frames_arrive_from_a_publisher_with_the_profile(ros_context):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    from trtpipe.ros.large_frames import PROFILE_ENV, profile_path

    count = 30
    node = rclpy.create_node("large_frame_listener", context=ros_context)
    got: list[Any] = []
    node.create_subscription(Image, "large_frames", got.append, qos_profile_sensor_data, raw=True)
    env = dict(os.environ, **{PROFILE_ENV: str(profile_path())})
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    try:
        run_publisher(executor, PUBLISHER, str(count), "1920", "1080", env=env)
        # measured: 30/30 every run with the profile, 0-1/30 without it
        assert len(got) >= count - 2, f"{len(got)} of {count} frames arrived"
        assert all(len(frame) > 1920 * 1080 * 3 for frame in got)
    finally:
        executor.shutdown()
        node.destroy_node()
