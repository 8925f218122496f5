"""Republishes Isaac ROS DetectNet ``DetectionArray`` messages as vision_msgs/Detection2DArray.

Each Isaac detection (``bbox.center_x/center_y/width/height``, ``class_label``, ``confidence``)
becomes a Detection2D with one hypothesis; the header is kept. Without
``isaac_ros_detectnet_interfaces`` the node cannot exist: :func:`missing_interfaces_reason` says
what is missing and ``trtpipe-ros isaac-bridge`` exits non-zero with it.
"""

from __future__ import annotations

import importlib
from typing import Any

from rclpy.node import Node

from trtpipe.ros.qos import make_qos

ISAAC_PACKAGE = "isaac_ros_detectnet_interfaces"


def missing_interfaces_reason() -> str | None:
    try:
        importlib.import_module(f"{ISAAC_PACKAGE}.msg")
    except ImportError as exc:
        return (
            f"{ISAAC_PACKAGE} is not importable ({exc}). It is part of Isaac ROS (the "
            "isaac_ros_object_detection packages, or the Isaac ROS container); source that ROS "
            "environment and run again. trtpipe's own detector node needs no Isaac ROS."
        )
    return None


def detection_array_from_detectnet(msg: Any) -> Any:
    """vision_msgs/Detection2DArray (4.x layout) with the contents of an Isaac DetectionArray.

    trtpipe's own conversion (``trtpipe.decode.detections.detectnet_to_msg``) where this
    installation has it, else the same mapping here.
    """
    try:
        from trtpipe.decode.detections import detectnet_to_msg
    except ImportError:
        return _convert(msg)
    return detectnet_to_msg(msg)


def _convert(msg: Any) -> Any:
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

    out = Detection2DArray(header=msg.header)
    for isaac in msg.detections:
        det = Detection2D(header=msg.header)
        det.bbox.center.position.x = float(isaac.bbox.center_x)
        det.bbox.center.position.y = float(isaac.bbox.center_y)
        det.bbox.size_x = float(isaac.bbox.width)
        det.bbox.size_y = float(isaac.bbox.height)
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = str(isaac.class_label)
        hypothesis.hypothesis.score = float(isaac.confidence)
        det.results.append(hypothesis)
        out.detections.append(det)
    return out


class IsaacBridgeNode(Node):
    """``isaac_detections`` (Isaac DetectionArray) in, ``object_detections`` (vision_msgs) out."""

    def __init__(self, node_name: str = "trtpipe_isaac_bridge", **node_kwargs: Any):
        reason = missing_interfaces_reason()
        if reason is not None:
            raise ImportError(reason)
        from isaac_ros_detectnet_interfaces.msg import DetectionArray
        from vision_msgs.msg import Detection2DArray

        super().__init__(node_name, **node_kwargs)
        in_topic = self.declare_parameter("input_topic", "isaac_detections").value
        out_topic = self.declare_parameter("output_topic", "object_detections").value
        qos = make_qos(self.declare_parameter("qos", "default").value)
        self._pub = self.create_publisher(Detection2DArray, out_topic, qos)
        self.create_subscription(DetectionArray, in_topic, self._on_detections, qos)

    def _on_detections(self, msg: Any) -> None:
        self._pub.publish(detection_array_from_detectnet(msg))
