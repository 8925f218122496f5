"""trtpipe's ROS 2 nodes live in the ``trtpipe.ros`` package (``pip install trtpipe``); this
package installs their executables, the launch file and the default parameters."""
