"""QoS presets of the detector node.

``sensor_data``: best effort, keep last 1, volatile. A detector wants the newest frame only, and
best effort matches every camera publisher (reliable or not).

``reliable``: the real-time inference profile: reliable, volatile, keep last 10, deadline
33 ms (one frame at 30 FPS) and an automatic liveliness lease of 100 ms. A subscription with it
requests those guarantees, so a publisher that offers less (best effort, no deadline, a longer
lease) is incompatible; the node reports that as an incompatible-QoS event.

``default``: reliable, volatile, keep last 10 with no deadline: what most subscribers of
detections use; a reliable publisher serves reliable and best-effort subscribers alike.
"""

from __future__ import annotations

import math
from typing import Any

from trtpipe.errors import InputError

PRESETS = ("sensor_data", "reliable", "default")


def make_qos(preset: str, *, deadline_ms: float = 33.0, liveliness_lease_ms: float = 100.0) -> Any:
    """The ``rclpy.qos.QoSProfile`` of ``preset``."""
    from rclpy.duration import Duration
    from rclpy.qos import LivelinessPolicy, ReliabilityPolicy

    if preset == "sensor_data":
        return _volatile_keep_last(1, ReliabilityPolicy.BEST_EFFORT)
    if preset == "reliable":
        if not all(math.isfinite(ms) and ms > 0 for ms in (deadline_ms, liveliness_lease_ms)):
            raise InputError(
                "deadline_ms/liveliness_lease_ms: expected > 0 for the reliable preset, given "
                f"{deadline_ms}/{liveliness_lease_ms}"
            )
        return _volatile_keep_last(
            10,
            ReliabilityPolicy.RELIABLE,
            deadline=Duration(nanoseconds=int(deadline_ms * 1e6)),
            liveliness=LivelinessPolicy.AUTOMATIC,
            liveliness_lease_duration=Duration(nanoseconds=int(liveliness_lease_ms * 1e6)),
        )
    if preset == "default":
        return _volatile_keep_last(10, ReliabilityPolicy.RELIABLE)
    raise InputError(f"qos: expected one of {PRESETS}, given {preset!r}")


def _volatile_keep_last(depth: int, reliability: Any, **policies: Any) -> Any:
    """A volatile keep-last ``QoSProfile``: every preset is one; they differ in depth,
    reliability and the reliable preset's deadline and liveliness (``policies``)."""
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile

    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=reliability,
        durability=DurabilityPolicy.VOLATILE,
        **policies,
    )
