"""ROS 2 test setup: an isolated DDS domain on loopback, vision_msgs found, skips with reasons.

Where vision_msgs is not importable but scripts/build-vision-msgs.sh has built it into
.cache/ros-msgs, it is made importable here (what scripts/ros-env.sh does for a shell).
"""

from __future__ import annotations

import ctypes
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFIX = ROOT / ".cache" / "ros-msgs"

# Stay on this machine, in a domain of our own: other test runs may share the host.
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_LOCALHOST_ONLY", "1")
DOMAIN_ID = random.Random(os.getpid()).randrange(1, 101)


def _use_local_vision_msgs() -> None:
    site = PREFIX / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    if not (site / "vision_msgs").is_dir():
        return
    sys.path.insert(0, str(site))
    os.environ["AMENT_PREFIX_PATH"] = os.pathsep.join(
        p for p in (str(PREFIX), sys.prefix, os.environ.get("AMENT_PREFIX_PATH")) if p
    )
    # The middleware looks the type support libraries up by name; load them up front
    # since LD_LIBRARY_PATH cannot be changed for a running process.
    for lib in sorted((PREFIX / "lib").glob("libvision_msgs__*.so")):
        ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)


def _ros_missing_reason() -> str | None:
    try:
        import rclpy  # noqa: F401
        import sensor_msgs.msg  # noqa: F401
    except ImportError as exc:
        return f"rclpy is not installed ({exc}); pip install '.[ros]'"
    try:
        import vision_msgs.msg  # noqa: F401
    except ImportError:
        _use_local_vision_msgs()
        try:
            import vision_msgs.msg  # noqa: F401
        except ImportError as exc:
            return f"vision_msgs is not importable ({exc}); run scripts/build-vision-msgs.sh"
    return None


ROS_MISSING = _ros_missing_reason()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if ROS_MISSING and item.get_closest_marker("ros") is not None:
            item.add_marker(pytest.mark.skip(reason=ROS_MISSING))


@pytest.fixture
def ros_context() -> Iterator[object]:
    """A fresh rclpy context in this run's domain; shut down afterwards."""
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context, domain_id=DOMAIN_ID)
    try:
        yield context
    finally:
        rclpy.try_shutdown(context=context)
