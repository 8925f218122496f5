"""Isaac ROS DetectNet → vision_msgs conversion (duck-typed input, real vision_msgs output)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.ros


def test_detectnet_array_becomes_detection2d_array():
    from std_msgs.msg import Header

    from trtpipe.ros.isaac_bridge import detection_array_from_detectnet

    header = Header(frame_id="front")
    header.stamp.sec = 12
    isaac = SimpleNamespace(
        header=header,
        detections=[
            SimpleNamespace(
                bbox=SimpleNamespace(center_x=10.5, center_y=20.0, width=4.0, height=6.0),
                class_label="person",
                confidence=0.9,
            ),
            SimpleNamespace(
                bbox=SimpleNamespace(center_x=1, center_y=2, width=3, height=4),
                class_label="car",
                confidence=0.25,
            ),
        ],
    )
    out = detection_array_from_detectnet(isaac)
    assert out.header.frame_id == "front" and out.header.stamp.sec == 12
    got = [
        (
            d.bbox.center.position.x,
            d.bbox.center.position.y,
            d.bbox.size_x,
            d.bbox.size_y,
            d.results[0].hypothesis.class_id,
            pytest.approx(d.results[0].hypothesis.score),
        )
        for d in out.detections
    ]
    assert got == [(10.5, 20.0, 4.0, 6.0, "person", 0.9), (1.0, 2.0, 3.0, 4.0, "car", 0.25)]


def test_bridge_node_refuses_to_start_without_isaac(ros_context):
    from trtpipe.ros.isaac_bridge import IsaacBridgeNode, missing_interfaces_reason

    reason = missing_interfaces_reason()
    if reason is None:
        pytest.skip("Isaac ROS DetectNet interfaces are installed here")
    with pytest.raises(ImportError, match="isaac_ros_detectnet_interfaces"):
        IsaacBridgeNode(context=ros_context)
