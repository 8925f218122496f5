"""Tests of the ROS 2 nodes (marker ``ros``)."""
