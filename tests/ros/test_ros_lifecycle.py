"""Lifecycle transitions of the detector, driven through the real lifecycle services."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from .ros_harness import ScriptedDetector, Spinner, factory_of, image_msg, stamp_ns, wait_for

pytestmark = pytest.mark.ros

FRAME = np.full((8, 8, 3), 51, np.uint8)


def _lifecycle(context: Any, factory: Any, topic: str) -> Any:
    from rclpy.parameter import Parameter

    from trtpipe.ros.lifecycle_node import DetectorLifecycleNode

    return DetectorLifecycleNode(
        f"lc_{topic}",
        context=context,
        detector_factory=factory,
        parameter_overrides=[
            Parameter("image_topic", value=f"{topic}/image"),
            Parameter("detections_topic", value=f"{topic}/detections"),
            Parameter("qos", value="default"),
            Parameter("nvml_device", value=-1),
        ],
    )


def _change_state(client: Any, transition_id: int) -> bool:
    from lifecycle_msgs.srv import ChangeState

    request = ChangeState.Request()
    request.transition.id = transition_id
    done = threading.Event()
    future = client.call_async(request)
    future.add_done_callback(lambda _: done.set())
    assert done.wait(10.0), "change_state did not answer"
    return future.result().success


def _worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("trtpipe-ros-worker")]


def test_configure_activate_deactivate_cleanup(ros_context):
    import rclpy
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    detector = ScriptedDetector()
    factory = factory_of(detector)
    node = _lifecycle(ros_context, factory, "lc")
    peer = rclpy.create_node("lc_peer", context=ros_context)
    pub = peer.create_publisher(Image, "lc/image", 10)
    received: list[Any] = []
    peer.create_subscription(Detection2DArray, "lc/detections", received.append, 10)
    client = peer.create_client(ChangeState, "/lc_lc/change_state")
    spinner = Spinner(ros_context, node, peer)
    try:
        assert client.wait_for_service(10.0)
        assert factory.calls == []  # nothing loads before configure
        assert _change_state(client, Transition.TRANSITION_CONFIGURE)
        assert factory.calls == [("auto", "auto")]
        assert peer.count_subscribers("lc/image") == 0 and not _worker_threads()

        assert _change_state(client, Transition.TRANSITION_ACTIVATE)
        wait_for(lambda: pub.get_subscription_count() == 1, what="subscription after activate")
        wait_for(lambda: peer.count_publishers("lc/detections") == 1, what="detections publisher")
        pub.publish(image_msg(FRAME, "rgb8", 77))
        wait_for(lambda: len(received) == 1, what="detections while active")
        assert stamp_ns(received[0].header) == 77

        assert _change_state(client, Transition.TRANSITION_DEACTIVATE)
        assert peer.count_subscribers("lc/image") == 0
        assert not _worker_threads()
        assert node.runtime is not None and node.runtime.detector is detector

        assert _change_state(client, Transition.TRANSITION_CLEANUP)
        assert node.runtime is None
        wait_for(lambda: peer.count_publishers("lc/detections") == 0, what="publisher gone")

        # A second configure loads again (parameters are re-read).
        assert _change_state(client, Transition.TRANSITION_CONFIGURE)
        assert len(factory.calls) == 2
    finally:
        spinner.stop()
        node.destroy_node()
        peer.destroy_node()
    assert not _worker_threads()


def test_failed_configure_stays_unconfigured(ros_context):
    from lifecycle_msgs.msg import State

    from trtpipe.errors import EngineError

    def broken(params: Any, backend: str, device: str, monitor: Any = None) -> Any:
        raise EngineError("model: expected a readable ONNX file, given /nope.onnx")

    node = _lifecycle(ros_context, broken, "lcfail")
    try:
        node.trigger_configure()
        assert node._state_machine.current_state[0] == State.PRIMARY_STATE_UNCONFIGURED
        assert node.runtime is None
    finally:
        node.destroy_node()
