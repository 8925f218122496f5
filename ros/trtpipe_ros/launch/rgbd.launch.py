"""ros2 launch trtpipe_ros rgbd.launch.py model:=/path/to/model.onnx \\
    color:=/camera/color/image_raw depth:=/camera/aligned_depth_to_color/image_raw \\
    camera_info:=/camera/aligned_depth_to_color/camera_info

Starts the RGB-D node (trtpipe-ros rgbd): colour + registered depth + the depth camera's info in,
vision_msgs/Detection3DArray on detections_3d and Detection2DArray on detections out. model,
backend, sync_slop and rate_hz given here override the node's defaults.
"""

from trtpipe_ros.node_launch import node_launch


def generate_launch_description():
    return node_launch(
        "trtpipe_rgbd",
        topics={
            "color": "color/image_raw",
            "depth": "depth/image_raw",
            "camera_info": "depth/camera_info",
            "detections": "detections",
            "detections_3d": "detections_3d",
        },
        overrides={"model": str, "backend": str, "sync_slop": float, "rate_hz": float},
    )
