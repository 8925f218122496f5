"""ROS 2 test setup: an isolated DDS domain on loopback, vision_msgs found, skips with reasons.

Where vision_msgs is not importable but scripts/build-vision-msgs.sh has built it into
.cache/ros-msgs, it is made importable here (what scripts/ros-env.sh does for a shell).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .ros_harness import DOMAIN_ID, use_local_vision_msgs


def _ros_missing_reason() -> str | None:
    try:
        import rclpy  # noqa: F401
        import sensor_msgs.msg  # noqa: F401
    except ImportError as exc:
        return f"rclpy is not installed ({exc}); pip install '.[ros]'"
    try:
        import vision_msgs.msg
    except ImportError:
        use_local_vision_msgs()
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
