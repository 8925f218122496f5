"""Importing trtpipe (and the ROS-free parts of trtpipe.ros) imports no ROS module."""

from __future__ import annotations

import subprocess
import sys


def test_no_ros_module_is_imported_with_trtpipe():
    code = (
        "import sys, trtpipe, trtpipe.ros, trtpipe.ros.params, trtpipe.ros.image_input, "
        "trtpipe.ros.mailbox, trtpipe.ros.qos, trtpipe.ros.diagnostics, trtpipe.ros.main; "
        "ros = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('rclpy', 'sensor_msgs', 'vision_msgs', 'diagnostic_msgs', 'std_msgs')); "
        "print(ros); sys.exit(1 if ros else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
