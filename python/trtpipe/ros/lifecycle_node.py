"""DetectorLifecycleNode: the detector as a managed node.

configure loads or builds the engine (minutes for a TensorRT build, which never stalls a graph
that is already running), activate subscribes and starts publishing, deactivate stops both,
cleanup releases the engine. Parameters are re-read on every configure.
"""

from __future__ import annotations

from typing import Any

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from trtpipe.ros.detector_factory import DetectorFactory
from trtpipe.ros.params import DetectorParams
from trtpipe.ros.runtime import DetectorRuntime


class DetectorLifecycleNode(LifecycleNode):
    def __init__(
        self,
        node_name: str = "trtpipe_detector",
        *,
        detector_factory: DetectorFactory | None = None,
        **node_kwargs: Any,
    ):
        super().__init__(node_name, **node_kwargs)
        DetectorParams.declare(self)
        self._factory = detector_factory
        self.runtime: DetectorRuntime | None = None
        self._active = False

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            runtime = DetectorRuntime(
                self, DetectorParams.read(self), detector_factory=self._factory, lifecycle=True
            )
        except Exception as exc:
            self.get_logger().error(f"configure failed: {type(exc).__name__}: {exc}")
            return TransitionCallbackReturn.FAILURE
        try:
            runtime.configure()
        except Exception as exc:
            self.get_logger().error(f"configure failed: {type(exc).__name__}: {exc}")
            runtime.cleanup()
            return TransitionCallbackReturn.FAILURE
        self.runtime = runtime
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        assert self.runtime is not None
        self.runtime.activate()
        self._active = True
        return super().on_activate(state)  # activates the lifecycle publishers

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        assert self.runtime is not None
        self.runtime.deactivate()
        self._active = False
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        if self.runtime is not None:
            if self._active:
                self.runtime.deactivate()
                self._active = False
            self.runtime.cleanup()
            self.runtime = None

    def destroy_node(self) -> None:
        # a constructor that failed part-way (a parameter of the wrong type) configured nothing
        if getattr(self, "runtime", None) is not None:
            self._release()
        super().destroy_node()
