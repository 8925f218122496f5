"""ROS 2 integration: a detector node (plain and lifecycle), diagnostics and an Isaac ROS bridge.

Importing ``trtpipe`` or this package imports no ROS module; rclpy and the message packages
are imported by the node modules themselves (``trtpipe.ros.node`` and friends).
"""

from __future__ import annotations

from trtpipe.ros.params import DetectorParams

__all__ = ["DetectorParams"]
