"""trtpipe's ROS 2 nodes live in the ``trtpipe.ros`` package (``pip install trtpipe``); this
package installs their executables, the launch files (node_launch.py builds them) and the
default parameters."""
