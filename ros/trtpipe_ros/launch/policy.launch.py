"""ros2 launch trtpipe_ros policy.launch.py model:=/path/to/vla.onnx \\
    tokenizer:=/path/to/tokenizer.json image:=/camera/image_raw

Starts the vision-language-action node (trtpipe-ros policy), which configures and activates
itself: image + instruction (+ joint_states) in, cmd_vel out, zero on every safety stop.
model, tokenizer, backend and the limits given here override the node's defaults.
"""

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode

OVERRIDES = {
    "model": str,
    "tokenizer": str,
    "backend": str,
    "max_linear": float,
    "max_angular": float,
    "control_rate_hz": float,
    "stale_after_ms": float,
}
TOPICS = {
    "image": "image",
    "instruction": "instruction",
    "estop": "estop",
    "joint_states": "joint_states",
    "cmd_vel": "cmd_vel",
}


def _node(context: LaunchContext) -> list:
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    given = {name: kind(arg(name)) for name, kind in OVERRIDES.items() if arg(name)}
    return [
        LifecycleNode(
            package="trtpipe_ros",
            executable="trtpipe_policy",
            name="trtpipe_policy",
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
