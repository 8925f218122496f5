"""``trtpipe-ros``: run the detector node (plain or lifecycle), the several-cameras node, the
RGB-D node, the policy (vision-language-action) node or the Isaac bridge.

    trtpipe-ros [detector|lifecycle|cameras|rgbd|policy|isaac-bridge] [--ros-args -p ...]
    trtpipe-ros fastdds-profile   # the path of the Fast DDS profile for camera-size frames

Each node runs with that profile (64 MiB shared memory) unless FASTDDS_DEFAULT_PROFILES_FILE
names another or TRTPIPE_FASTDDS_PROFILE=0; camera drivers publishing large frames best effort
need it too (see trtpipe.ros.large_frames).

The ament package's executables (``ros2 run trtpipe_ros trtpipe_detector``) call the same
functions.

SIGINT and SIGTERM stop the spin, then the node is destroyed while its context is still valid
(the policy node's last zero Twist goes out), then the context shuts down: exit status 0. A
second signal interrupts at once. A node that cannot start (a missing model, a parameter of the
wrong type or value, a policy node whose configure fails) exits 1 with one line naming the
parameter.
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
from collections.abc import Sequence
from typing import Any

from trtpipe.errors import TrtpipeError

COMMANDS = ("detector", "lifecycle", "cameras", "rgbd", "policy", "isaac-bridge")  # nodes

EXIT_MISSING_DEPENDENCY = 3
# how often the spin looks for a signal: a Python handler runs only between callbacks, and an
# executor waiting without a timeout may wait for ever
SIGNAL_POLL_S = 0.1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

log = logging.getLogger("trtpipe.ros.main")  # also when run as __main__


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


class _StopSignals:
    """SIGINT and SIGTERM: before the spin (a model loading), KeyboardInterrupt at once; from
    the spin on, the spin stops after its current callback and the shutdown runs to its end
    (the zero Twist); a second signal, KeyboardInterrupt at once."""

    def __init__(self) -> None:
        self.requested = False
        self.starting = True
        self._previous = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested or self.starting:
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _parameter_error(exc: Exception) -> str:
    """rclpy's parameter exception as ``name: expected ..., given ...`` where it is a wrong type
    (its message names the parameter either way)."""
    wrong_type = re.match(
        r"Trying to set parameter '(.+)' to '(.*)' of type '(\w+)', expecting type '(\w+)'",
        str(exc),
        re.DOTALL,
    )
    if wrong_type is None:
        return str(exc)
    name, value, given, expected = wrong_type.groups()
    return f"{name}: expected {expected.lower()}, given {value!r} ({given.lower()})"


def _make_node(command: str) -> Any:
    if command == "detector":
        from trtpipe.ros.node import DetectorNode

        return DetectorNode()
    if command == "lifecycle":
        from trtpipe.ros.lifecycle_node import DetectorLifecycleNode

        return DetectorLifecycleNode()
    if command == "cameras":
        from trtpipe.ros.cameras import CamerasNode

        return CamerasNode()
    if command == "rgbd":
        from trtpipe.ros.rgbd import RgbdNode

        return RgbdNode()
    if command == "policy":
        from trtpipe.ros.policy_node import PolicyNode

        return PolicyNode()
    from trtpipe.ros.isaac_bridge import IsaacBridgeNode

    return IsaacBridgeNode()


def _autostart(node: Any) -> str | None:
    """Configures and activates a policy node with ``autostart``; why it did not, if it did
    not (a node left unconfigured would spin, commanding nothing, as if it ran)."""
    from rclpy.lifecycle import TransitionCallbackReturn

    if not node.get_parameter("autostart").value:
        return None
    if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
        return f"configure failed: {node.configure_error or 'see the log'}"
    if node.trigger_activate() != TransitionCallbackReturn.SUCCESS:
        return "activate failed: see the log"
    return None


def _spin(command: str, argv: Sequence[str]) -> int:
    import rclpy
    from rclpy.exceptions import ParameterException
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    # not rclpy's signal handlers: they shut the context down before the node is destroyed,
    # and the policy node's zero Twist could not be published
    rclpy.init(args=list(argv), signal_handler_options=SignalHandlerOptions.NO)
    signals = _StopSignals()
    node = None
    try:
        node = _make_node(command)
        failed = _autostart(node) if command == "policy" else None
        if failed is not None:
            log.error(f"trtpipe-ros {command}: {failed}")
            return 1
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        node.get_logger().info(f"trtpipe-ros {command}: spinning")
        signals.starting = False
        while not signals.requested and rclpy.ok():
            executor.spin_once(timeout_sec=SIGNAL_POLL_S)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ParameterException as exc:  # a parameter of the wrong type, from rclpy
        log.error(f"trtpipe-ros {command}: {_parameter_error(exc)}")
        return 1
    except TrtpipeError as exc:  # a model that does not load, a bad parameter, ...
        log.error(f"trtpipe-ros {command}: {type(exc).__name__}: {exc}")
        return 1
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        signals.restore()
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
