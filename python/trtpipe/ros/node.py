"""DetectorNode: camera images in, vision_msgs/Detection2DArray out (a plain rclpy node)."""

from __future__ import annotations

from typing import Any

from rclpy.node import Node

from trtpipe.ros.detector_factory import DetectorFactory
from trtpipe.ros.params import DetectorParams
from trtpipe.ros.runtime import DetectorRuntime


class DetectorNode(Node):
    """Loads the detector and starts serving in the constructor; see :class:`DetectorRuntime`.

    Parameters are declared from :class:`DetectorParams`; pass ``parameter_overrides`` (or
    ``--ros-args -p name:=value`` / a params file) to change them.
    """

    def __init__(
        self,
        node_name: str = "trtpipe_detector",
        *,
        detector_factory: DetectorFactory | None = None,
        **node_kwargs: Any,
    ):
        super().__init__(node_name, **node_kwargs)
        self.runtime = DetectorRuntime(
            self, DetectorParams.declare(self), detector_factory=detector_factory
        )
        try:
            self.runtime.configure()
            self.runtime.activate()
        except BaseException:
            self.runtime.shutdown()
            raise

    def destroy_node(self) -> None:
        # a constructor that failed before the runtime (a parameter of the wrong type) left none
        runtime = getattr(self, "runtime", None)
        if runtime is not None:
            runtime.shutdown()
        super().destroy_node()
