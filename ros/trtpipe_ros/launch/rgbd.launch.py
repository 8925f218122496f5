"""ros2 launch trtpipe_ros rgbd.launch.py model:=/path/to/model.onnx \\
    color:=/camera/color/image_raw depth:=/camera/aligned_depth_to_color/image_raw \\
    camera_info:=/camera/aligned_depth_to_color/camera_info

Starts the RGB-D node (trtpipe-ros rgbd): colour + registered depth + the depth camera's info in,
vision_msgs/Detection3DArray on detections_3d and Detection2DArray on detections out. model,
backend, sync_slop and rate_hz given here override the node's defaults.
"""

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

OVERRIDES = {"model": str, "backend": str, "sync_slop": float, "rate_hz": float}
TOPICS = {
    "color": "color/image_raw",
    "depth": "depth/image_raw",
    "camera_info": "depth/camera_info",
    "detections": "detections",
    "detections_3d": "detections_3d",
}


def _node(context: LaunchContext) -> list:
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    given = {name: kind(arg(name)) for name, kind in OVERRIDES.items() if arg(name)}
    return [
        Node(
            package="trtpipe_ros",
            executable="trtpipe_rgbd",
            name="trtpipe_rgbd",
            namespace=arg("namespace"),
            output="screen",
            parameters=[given],
            remappings=[(topic, arg(name)) for name, topic in TOPICS.items()],
        )
    ]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            *(DeclareLaunchArgument(name, default_value=topic) for name, topic in TOPICS.items()),
            DeclareLaunchArgument("namespace", default_value=""),
            *(
                DeclareLaunchArgument(name, default_value="", description="'': the node's default")
                for name in OVERRIDES
            ),
            OpaqueFunction(function=_node),
        ]
    )
