"""ros2 launch trtpipe_ros trtpipe.launch.py model:=/path/to/model.onnx image:=/camera/image_raw

Starts the detector with config/params.yaml (or params_file:=...); model, backend, input_type and
qos given here override that file. lifecycle:=true starts the managed node instead (configure and
activate it with ``ros2 lifecycle set /trtpipe_detector configure`` / ``activate``).
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node

OVERRIDES = ("model", "backend", "input_type", "qos")


def _detector(context: LaunchContext) -> list:
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    given = {name: arg(name) for name in OVERRIDES if arg(name)}
    common = {
        "package": "trtpipe_ros",
        "name": "trtpipe_detector",
        "namespace": arg("namespace"),
        "output": "screen",
        "parameters": [arg("params_file"), given],
        "remappings": [("image", arg("image")), ("detections", arg("detections"))],
    }
    if arg("lifecycle").lower() in ("true", "1"):
        return [LifecycleNode(executable="trtpipe_lifecycle", **common)]
    return [Node(executable="trtpipe_detector", **common)]


def generate_launch_description() -> LaunchDescription:
    params = Path(get_package_share_directory("trtpipe_ros")) / "config" / "params.yaml"
    return LaunchDescription(
        [
            DeclareLaunchArgument("params_file", default_value=str(params)),
            DeclareLaunchArgument("image", default_value="image", description="camera topic"),
            DeclareLaunchArgument("detections", default_value="detections"),
            DeclareLaunchArgument("lifecycle", default_value="false"),
            DeclareLaunchArgument("namespace", default_value=""),
            *(
                DeclareLaunchArgument(name, default_value="", description="'': from params_file")
                for name in OVERRIDES
            ),
            OpaqueFunction(function=_detector),
        ]
    )
