"""How ``trtpipe-ros`` nodes end: the policy process commands zero on SIGINT and SIGTERM before
its context goes, and exits 0; bad parameters (of the wrong type or value) end the process at
startup with one line naming the parameter; a node whose constructor failed part-way is
destroyed without an error; a policy node whose context is already shut down is destroyed
without raising."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .ros_harness import (
    DOMAIN_ID,
    Spinner,
    image_msg,
    node_process_env,
    run_trtpipe_ros,
    vla_policy_node,
    wait_for,
)

pytestmark = pytest.mark.ros


def _policy_args(tmp_path: Path, *extra: str) -> list[str]:
    from onnx_models import write_vla_model, write_vla_tokenizer

    model = write_vla_model(tmp_path / "vla.onnx")
    tokenizer = write_vla_tokenizer(tmp_path / "tokenizer.json")
    params = [
        f"model:={model}",
        f"tokenizer:={tokenizer}",
        "backend:=onnxruntime",
        "device:=cpu",
        "image_qos:=default",
        *extra,
    ]
    return ["policy", "--ros-args", *(arg for p in params for arg in ("-p", p))]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_policy_process_commands_zero_on_a_signal_and_exits_0(ros_context, tmp_path, signum):
    """Driving (a non-zero Twist seen, images still streaming, an action that stays fresh for
    seconds), then the signal: the last Twist the robot receives is zero, the exit status 0."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tokenizers")
    import rclpy
    from geometry_msgs.msg import Twist
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import String

    args = _policy_args(
        tmp_path,
        "max_linear_accel:=100.0",
        "max_angular_accel:=100.0",
        "stale_after_ms:=10000.0",  # a zero before the signal cannot come from staleness
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "trtpipe.ros.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=node_process_env(),
    )
    peer = rclpy.create_node("signal_peer", context=ros_context)
    lock = threading.Lock()
    commands: list[tuple[float, float]] = []

    def keep(msg: Any) -> None:
        with lock:
            commands.append((msg.linear.x, msg.angular.z))

    peer.create_subscription(Twist, "cmd_vel", keep, 100)
    images = peer.create_publisher(Image, "image", 10)
    instructions = peer.create_publisher(String, "instruction", 10)
    joints = peer.create_publisher(JointState, "joint_states", 10)
    spinner = Spinner(ros_context, peer)
    streaming = threading.Event()
    grey = np.full((32, 32, 3), 128, np.uint8)

    def camera() -> None:
        while streaming.is_set():
            images.publish(image_msg(grey, "rgb8", 0))
            time.sleep(1 / 30)

    try:
        for pub in (images, instructions, joints):
            wait_for(
                lambda p=pub: p.get_subscription_count() > 0 or process.poll() is not None,
                timeout=60,
                what="the policy process's subscriptions",
            )
        assert process.poll() is None, process.communicate()[0]
        joints.publish(JointState(position=[0.0, 0.0]))
        instructions.publish(String(data="go left"))
        streaming.set()
        threading.Thread(target=camera, daemon=True).start()
        wait_for(lambda: bool(commands) and commands[-1] != (0.0, 0.0), 30, "a non-zero Twist")
        process.send_signal(signum)
        output = process.communicate(timeout=30)[0]
        streaming.clear()
        assert process.returncode == 0, output
        time.sleep(0.5)  # what is still in flight
        with lock:
            assert commands[-1] == (0.0, 0.0), commands[-5:]
        assert "Traceback" not in output, output
    finally:
        streaming.clear()
        if process.poll() is None:
            process.kill()
            process.communicate()
        spinner.stop()
        peer.destroy_node()


@pytest.mark.parametrize(
    ("param", "says"),
    [
        ("control_rate_hz:=0.0", "control_rate_hz: expected > 0, given 0.0"),
        ("max_linear:=-1.0", "max_linear: expected"),
        ("image_qos:=bogus", "image_qos: expected one of"),
        ("model:=/no/such/model.onnx", "model: expected"),
        ("control_rate_hz:=abc", "control_rate_hz: expected double, given 'abc'"),
    ],
)
def test_policy_with_a_bad_parameter_exits_1_at_startup(tmp_path, param, says):
    """Not a process spinning unconfigured, commanding nothing, as if it ran."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tokenizers")
    done = run_trtpipe_ros(*_policy_args(tmp_path, param))
    assert done.returncode == 1, done.stderr
    assert says in done.stderr
    assert "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("command", "param", "says"),
    [
        ("detector", "conf:=1", "conf: expected double, given '1' (integer)"),
        ("detector", "max_detections:=2.5", "max_detections: expected integer, given '2.5'"),
        ("cameras", "conf:=abc", "conf: expected double, given 'abc' (string)"),
        ("rgbd", "conf:=1", "conf: expected double, given '1' (integer)"),
        ("lifecycle", "conf:=1", "conf: expected double, given '1' (integer)"),
    ],
)
def test_a_parameter_of_the_wrong_type_exits_1_with_one_line(command, param, says):
    done = run_trtpipe_ros(command, "--ros-args", "-p", param, "-p", "nvml_device:=-1")
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if says in line]
    assert len(lines) == 1, done.stderr
    assert f"trtpipe-ros {command}: " in lines[0]
    assert "Traceback" not in done.stderr, done.stderr


def _node_classes() -> dict[str, tuple[Any, str, Any]]:
    """Each node class, a parameter and a value of the wrong type for it."""
    from trtpipe.ros.cameras import CamerasNode
    from trtpipe.ros.lifecycle_node import DetectorLifecycleNode
    from trtpipe.ros.node import DetectorNode
    from trtpipe.ros.policy_node import PolicyNode
    from trtpipe.ros.rgbd import RgbdNode

    return {
        "detector": (DetectorNode, "conf", 1),
        "lifecycle": (DetectorLifecycleNode, "max_detections", 2.5),
        "cameras": (CamerasNode, "max_batch", "four"),
        "rgbd": (RgbdNode, "min_pixels", 0.5),
        "policy": (PolicyNode, "control_rate_hz", "abc"),
    }


@pytest.mark.parametrize("kind", ["detector", "lifecycle", "cameras", "rgbd", "policy"])
def test_a_node_whose_constructor_failed_is_destroyed_cleanly(ros_context, kind):
    """rclpy destroys every node of a context it shuts down, a half-built one too (the
    exception's traceback keeps it alive): its destroy_node must not raise."""
    from rclpy.exceptions import ParameterException
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    node_class, name, value = _node_classes()[kind]
    with pytest.raises(ParameterException, match=name) as failed:
        node_class(
            f"half_built_{kind}",
            context=ros_context,
            parameter_overrides=[Parameter(name, value=value)],
        )
    (node,) = {
        id(s): s
        for entry in failed.traceback
        if isinstance(s := entry.frame.f_locals.get("self"), Node)
    }.values()
    node.destroy_node()
    node.destroy_node()  # and again, as a context shutting down after it does


def test_policy_destroyed_after_its_context_was_shut_down_does_not_raise(tmp_path):
    """What rclpy's own signal handlers do: the context shut down under an active node. The
    zero cannot go out any more; destroying the node logs that, stops the loops and releases
    the model."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tokenizers")
    import rclpy
    from rclpy.context import Context
    from rclpy.lifecycle import TransitionCallbackReturn

    context = Context()
    rclpy.init(context=context, domain_id=DOMAIN_ID)
    node = vla_policy_node(context, tmp_path, "policy_context_gone")
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        worker = node._worker
        with context.handle:
            context.handle.shutdown()  # the rcl context only, as a signal handler does
        assert not context.ok()
        node.destroy_node()
        assert worker is not None and not worker.is_alive()
        assert node.policy is None
    finally:
        rclpy.try_shutdown(context=context)
