"""``trtpipe-ros``: run the detector node (plain or lifecycle), the several-cameras node, the
RGB-D node, the policy (vision-language-action) node or the Isaac bridge.

    trtpipe-ros [detector|lifecycle|cameras|rgbd|policy|isaac-bridge] [--ros-args -p ...]
    trtpipe-ros fastdds-profile   # the path of the Fast DDS profile for camera-size frames

Each node runs with that profile (64 MiB shared memory) unless FASTDDS_DEFAULT_PROFILES_FILE
names another or TRTPIPE_FASTDDS_PROFILE=0; camera drivers publishing large frames best effort
need it too (see trtpipe.ros.large_frames).

The ament package's executables (``ros2 run trtpipe_ros trtpipe_detector``) call the same
functions.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from trtpipe.errors import TrtpipeError

COMMANDS = ("detector", "lifecycle", "cameras", "rgbd", "policy", "isaac-bridge")  # nodes

EXIT_MISSING_DEPENDENCY = 3


def _missing_ros_reason() -> str | None:
    try:
        import rclpy  # noqa: F401
        import sensor_msgs.msg  # noqa: F401
    except ImportError as exc:
        return (
            f"rclpy is not importable ({exc}): source a ROS 2 install or pip install 'trtpipe[ros]'"
        )
    try:
        import vision_msgs.msg  # noqa: F401
    except ImportError as exc:
        return (
            f"vision_msgs is not importable ({exc}): install it from your ROS distribution, or "
            "build it for pip-only ROS with scripts/build-vision-msgs.sh and "
            'eval "$(scripts/ros-env.sh)"'
        )
    return None


def _spin(command: str, argv: Sequence[str]) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    rclpy.init(args=list(argv))
    node = None
    try:
        if command == "detector":
            from trtpipe.ros.node import DetectorNode

            node = DetectorNode()
        elif command == "lifecycle":
            from trtpipe.ros.lifecycle_node import DetectorLifecycleNode

            node = DetectorLifecycleNode()
        elif command == "cameras":
            from trtpipe.ros.cameras import CamerasNode

            node = CamerasNode()
        elif command == "rgbd":
            from trtpipe.ros.rgbd import RgbdNode

            node = RgbdNode()
        elif command == "policy":
            from trtpipe.ros.policy_node import PolicyNode

            node = PolicyNode()
            if node.get_parameter("autostart").value:
                node.trigger_configure()
                node.trigger_activate()
        else:
            from trtpipe.ros.isaac_bridge import IsaacBridgeNode

            node = IsaacBridgeNode()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        node.get_logger().info(f"trtpipe-ros {command}: spinning")
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except TrtpipeError as exc:  # a model that does not load, a bad parameter, ...
        print(f"trtpipe-ros {command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def main(argv: Sequence[str] | None = None, default_command: str = "detector") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ros_args = argv[argv.index("--ros-args") :] if "--ros-args" in argv else []
    own_args = argv[: len(argv) - len(ros_args)]
    parser = argparse.ArgumentParser(prog="trtpipe-ros", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "command", nargs="?", choices=(*COMMANDS, "fastdds-profile"), default=default_command
    )
    args = parser.parse_args(own_args)
    logging.basicConfig(level=logging.INFO)
    from trtpipe.ros.large_frames import profile_path, use_in_this_process

    if args.command == "fastdds-profile":
        print(profile_path())
        return 0
    reason = _missing_ros_reason()
    if reason is None and args.command == "isaac-bridge":
        from trtpipe.ros.isaac_bridge import missing_interfaces_reason

        reason = missing_interfaces_reason()
    if reason is not None:
        print(f"trtpipe-ros {args.command}: {reason}", file=sys.stderr)
        return EXIT_MISSING_DEPENDENCY
    use_in_this_process()  # before rclpy creates the process's participant
    return _spin(args.command, ["trtpipe-ros", *ros_args])


def detector_main() -> int:
    return main(default_command="detector")


def lifecycle_main() -> int:
    return main(default_command="lifecycle")


def cameras_main() -> int:
    return main(default_command="cameras")


def rgbd_main() -> int:
    return main(default_command="rgbd")


def policy_main() -> int:
    return main(default_command="policy")


def isaac_bridge_main() -> int:
    return main(default_command="isaac-bridge")


if __name__ == "__main__":
    sys.exit(main())
