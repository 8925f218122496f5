"""ros2 launch trtpipe_ros policy.launch.py model:=/path/to/vla.onnx \\
    tokenizer:=/path/to/tokenizer.json image:=/camera/image_raw

Starts the vision-language-action node (trtpipe-ros policy), which configures and activates
itself: image + instruction (+ joint_states) in, cmd_vel out, zero on every safety stop.
model, tokenizer, backend and the limits given here override the node's defaults.
"""

from trtpipe_ros.node_launch import node_launch


def generate_launch_description():
    return node_launch(
        "trtpipe_policy",
        topics={
            "image": "image",
            "instruction": "instruction",
            "estop": "estop",
            "joint_states": "joint_states",
            "cmd_vel": "cmd_vel",
        },
        overrides={
            "model": str,
            "tokenizer": str,
            "backend": str,
            "max_linear": float,
            "max_angular": float,
            "control_rate_hz": float,
            "stale_after_ms": float,
        },
        lifecycle=True,
    )
