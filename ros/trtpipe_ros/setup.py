"""ament_python package of trtpipe's ROS 2 nodes; the nodes themselves are trtpipe.ros."""

from glob import glob

from setuptools import setup

PACKAGE = "trtpipe_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=[PACKAGE],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="trtpipe maintainers",
    maintainer_email="maintainers@trtpipe.dev",
    description="trtpipe detector nodes: camera images in, vision_msgs detections out",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "trtpipe_detector = trtpipe.ros.main:detector_main",
            "trtpipe_lifecycle = trtpipe.ros.main:lifecycle_main",
            "trtpipe_cameras = trtpipe.ros.main:cameras_main",
            "trtpipe_rgbd = trtpipe.ros.main:rgbd_main",
            "trtpipe_policy = trtpipe.ros.main:policy_main",
            "trtpipe_isaac_bridge = trtpipe.ros.main:isaac_bridge_main",
        ],
    },
)
