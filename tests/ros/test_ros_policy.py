"""The policy node with real rclpy: a two-input VLA test model (image + instruction tokens +
joint state, ONNX Runtime) whose actions are known. "go left" turns left and "go right" right;
the e-stop, a stale action, a NaN state and every lifecycle transition give a zero Twist; the
limits hold whatever the model says."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from .ros_harness import Spinner, diagnostics_now, image_msg, vla_policy_node, wait_for

pytestmark = pytest.mark.ros


def test_instruction_estop_staleness_and_transitions(ros_context, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tokenizers")
    import rclpy
    from geometry_msgs.msg import Twist
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import Bool, String

    node = vla_policy_node(
        ros_context,
        tmp_path,
        "policy_test",
        control_rate_hz=50.0,
        stale_after_ms=300.0,
        max_linear=0.4,
        max_angular=0.8,
        max_linear_accel=100.0,
        max_angular_accel=100.0,
    )
    peer = rclpy.create_node("policy_peer", context=ros_context)
    lock = threading.Lock()
    commands: list[tuple[float, Any]] = []

    def keep(msg: Any) -> None:
        with lock:
            commands.append((time.monotonic(), msg))

    peer.create_subscription(Twist, "cmd_vel", keep, 50)
    images = peer.create_publisher(Image, "image", 10)
    instructions = peer.create_publisher(String, "instruction", 10)
    estop = peer.create_publisher(Bool, "estop", 10)
    joints = peer.create_publisher(JointState, "joint_states", 10)
    spinner = Spinner(ros_context, node, peer)
    grey = np.full((32, 32, 3), 128, np.uint8)

    def latest() -> Any:
        with lock:
            return commands[-1][1] if commands else None

    def since(t0: float) -> list[Any]:
        with lock:
            return [m for t, m in commands if t >= t0]

    streaming = threading.Event()
    done = threading.Event()

    def camera() -> None:  # 30 Hz while streaming, as a camera driver does
        while not done.is_set():
            if streaming.is_set():
                images.publish(image_msg(grey, "rgb8", 0))
            time.sleep(1 / 30)

    camera_thread = threading.Thread(target=camera, daemon=True)

    def feed(text: str, position=(0.0, 0.0)) -> None:
        joints.publish(JointState(position=list(position)))
        instructions.publish(String(data=text))
        streaming.set()

    try:
        from rclpy.lifecycle import TransitionCallbackReturn

        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        for pub in (images, instructions, estop, joints):
            wait_for(lambda p=pub: p.get_subscription_count() > 0, what="subscriptions")
        camera_thread.start()
        wait_for(lambda: latest() is not None, what="the control loop")
        assert latest().angular.z == 0.0  # no instruction yet: zero
        # "go left": forward 128/255 + 0.3 (clamped to 0.4), turn +0.5
        feed("go left")
        # (the acceleration limit ramps the turn up over the first commands: wait for its end)
        wait_for(lambda: latest().angular.z > 0.5 - 1e-4, what="turning left")
        left = latest()
        assert left.linear.x == pytest.approx(0.4) and left.angular.z == pytest.approx(
            0.5, abs=1e-4
        )
        feed("go right")
        wait_for(lambda: latest().angular.z < -0.4, what="turning right")
        # the e-stop: zero at once and on every tick while engaged
        estop.publish(Bool(data=True))
        wait_for(lambda: node.commander._estop, what="the e-stop")
        wait_for(lambda: latest().angular.z == 0.0, what="zero under the e-stop")
        t0 = time.monotonic()
        feed("go right")
        wait_for(lambda: len(since(t0)) >= 5, what="ticks under the e-stop")
        assert all(m.angular.z == 0.0 and m.linear.x == 0.0 for m in since(t0))
        estop.publish(Bool(data=False))
        feed("go right")
        wait_for(lambda: latest().angular.z < -0.4, what="moving again after the e-stop")
        # no new images: the action goes stale. The property that matters, whatever the
        # executor's lateness on a busy machine: no tick later than stale_after_ms after the
        # last action commands motion (tests/test_action_safety.py times the rule exactly).
        ticks: list[tuple[float, Any]] = []
        commander = node.commander
        command = commander.command

        def recorded(now: float) -> Any:
            out = command(now)
            ticks.append((now, out))
            return out

        streaming.clear()
        time.sleep(0.1)  # the images in flight are through: the last action is final
        commander.command = recorded

        def stale_ticks() -> list[Any]:
            return [c for t, c in list(ticks) if t - node._last_action_at > 0.3]

        wait_for(lambda: len(stale_ticks()) >= 3, timeout=10, what="ticks after the stale time")
        commander.command = command
        last_action = node._last_action_at
        late = [c for t, c in ticks if t - last_action > 0.3]
        assert late and all(c.is_zero for c in late)
        assert any(c.stop_reason == "stale" for c in late)
        assert node.commander.stops["stale"] >= 1
        # a NaN state makes a NaN action: zero, never published raw
        feed("go left", position=(float("nan"), 0.0))
        wait_for(lambda: node.commander.stops["non_finite_action"] >= 1, what="the NaN stop")
        wait_for(lambda: latest().angular.z == 0.0, what="zero for the NaN action")
        # a huge state: clamped to the limits
        feed("go left", position=(1e6, -1e6))
        wait_for(lambda: abs(latest().linear.x) > 0.3, what="the huge action")
        assert abs(latest().linear.x) <= 0.4 + 1e-9 and abs(latest().angular.z) <= 0.8 + 1e-9
        # bad images (truncated, an encoding the policy does not take) are counted drops, not
        # inference errors
        broken = image_msg(grey, "rgb8", 0)
        broken.data = broken.data[:100]
        images.publish(broken)
        images.publish(image_msg(np.zeros((32, 64), np.uint8), "yuv422", 0))
        wait_for(lambda: node.rejected_images >= 2, timeout=20, what="the bad images counted")
        assert node.inference_errors == 0
        (values,) = diagnostics_now(node, "_diagnostics_out", node.publish_diagnostics).values()
        assert values["sequence_gap_counter.image"] == "on"
        assert values["sequence_gap.image"] == "0"  # reliable, the node keeps up
        # what runs where, from the Policy's engine; a Policy keeps no performance monitor
        engine = node.policy.engine
        assert values["model.file"] == node.params.model
        assert (values["model.backend"], values["model.device"]) == ("onnxruntime", "cpu")
        assert (engine.backend, engine.device) == ("onnxruntime", "cpu")
        assert "fps" not in values and "gpu" not in values
        # deactivate: a zero goes out, and nothing moves the robot afterwards
        t0 = time.monotonic()
        node.trigger_deactivate()
        wait_for(lambda: any(m.linear.x == 0.0 for m in since(t0)), what="zero on deactivate")
        time.sleep(0.1)
        assert latest().linear.x == 0.0 and latest().angular.z == 0.0
        node.trigger_cleanup()
    finally:
        done.set()
        spinner.stop()
        node.destroy_node()
        peer.destroy_node()


def test_two_state_inputs_from_joint_states_and_an_array_topic(ros_context, tmp_path):
    """joints <- joint_states.position, gripper <- array:gripper: the published action is the
    model's for both (a known answer); a model of two state inputs without state_sources
    does not configure, and says which inputs need a source."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tokenizers")
    import rclpy
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import Float32MultiArray, String

    from onnx_models import vla_reference, write_vla_model, write_vla_tokenizer
    from trtpipe.ros.policy_node import PolicyNode

    model = write_vla_model(tmp_path / "vla2.onnx", gripper=True)
    tokenizer = write_vla_tokenizer(tmp_path / "tokenizer.json")
    common = [
        Parameter("model", value=str(model)),
        Parameter("tokenizer", value=str(tokenizer)),
        Parameter("backend", value="onnxruntime"),
        Parameter("device", value="cpu"),
        Parameter("image_qos", value="default"),
    ]
    unbound = PolicyNode("policy_unbound", context=ros_context, parameter_overrides=common)
    try:
        assert unbound.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert unbound.policy is None
    finally:
        unbound.destroy_node()
    sources = ["joints=joint_states.position", "gripper=array:gripper"]
    node = PolicyNode(
        "policy_two_states",
        context=ros_context,
        parameter_overrides=[*common, Parameter("state_sources", value=sources)],
    )
    peer = rclpy.create_node("policy_two_states_peer", context=ros_context)
    actions: list[Any] = []
    peer.create_subscription(Float32MultiArray, "action", actions.append, 10)
    images = peer.create_publisher(Image, "image", 10)
    instructions = peer.create_publisher(String, "instruction", 10)
    joints = peer.create_publisher(JointState, "joint_states", 10)
    gripper = peer.create_publisher(Float32MultiArray, "gripper", 10)
    spinner = Spinner(ros_context, node, peer)
    grey = np.full((32, 32, 3), 128, np.uint8)
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        for pub in (images, instructions, joints, gripper):
            wait_for(lambda p=pub: p.get_subscription_count() > 0, what="subscriptions")
        instructions.publish(String(data="go left"))
        joints.publish(JointState(position=[0.2, -0.4]))
        wait_for(lambda: "joint_states.position" in node._state, what="the joint state")
        images.publish(image_msg(grey, "rgb8", 1))
        time.sleep(0.3)
        assert actions == []  # the gripper state has not come: nothing to run the model on
        gripper.publish(Float32MultiArray(data=[0.25]))
        wait_for(lambda: "array:gripper" in node._state, what="the gripper state")
        images.publish(image_msg(grey, "rgb8", 2))
        wait_for(lambda: len(actions) >= 1, what="an action")
        want = vla_reference(128, ["go", "left"], [0.2, -0.4], gripper=0.25)
        np.testing.assert_allclose(actions[-1].data, want, atol=1e-5)
    finally:
        spinner.stop()
        node.destroy_node()
        peer.destroy_node()


class _CommandLog:
    """Every Twist a peer receives on cmd_vel, in order."""

    def __init__(self, peer: Any) -> None:
        from geometry_msgs.msg import Twist

        self._lock = threading.Lock()
        self._commands: list[Any] = []
        peer.create_subscription(Twist, "cmd_vel", self._keep, 50)

    def _keep(self, msg: Any) -> None:
        with self._lock:
            self._commands.append(msg)

    def latest(self) -> Any:
        with self._lock:
            return self._commands[-1] if self._commands else None

    def count(self) -> int:
        with self._lock:
            return len(self._commands)

    def since(self, seen: int) -> list[Any]:
        with self._lock:
            return self._commands[seen:]


def test_a_new_actions_command_goes_out_at_once_not_at_the_next_tick(ros_context, tmp_path):
    """control_rate_hz 0.02: no tick comes in the test's seconds, so every command received was
    published as its action arrived: the image's own action (linear.x follows the image's grey
    level) within the limits, nothing but zero under the e-stop, and zero at once for a NaN
    action."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tokenizers")
    import rclpy
    from rclpy.lifecycle import TransitionCallbackReturn
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import Bool, String

    from onnx_models import vla_reference

    node = vla_policy_node(
        ros_context,
        tmp_path,
        "policy_at_once",
        control_rate_hz=0.02,
        stale_after_ms=60_000.0,
        max_linear=2.0,
        max_angular=2.0,
        max_linear_accel=1000.0,
        max_angular_accel=1000.0,
    )
    ticks = []
    tick = node._on_control_tick
    node._on_control_tick = lambda: (ticks.append(time.monotonic()), tick())
    peer = rclpy.create_node("policy_at_once_peer", context=ros_context)
    received = _CommandLog(peer)
    latest = received.latest
    images = peer.create_publisher(Image, "image", 10)
    instructions = peer.create_publisher(String, "instruction", 10)
    estop = peer.create_publisher(Bool, "estop", 10)
    joints = peer.create_publisher(JointState, "joint_states", 10)
    spinner = Spinner(ros_context, node, peer)

    def grey(level: int) -> Any:
        return image_msg(np.full((32, 32, 3), level, np.uint8), "rgb8", 0)

    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        for pub in (images, instructions, estop, joints):
            wait_for(lambda p=pub: p.get_subscription_count() > 0, what="subscriptions")
        instructions.publish(String(data="go left"))
        joints.publish(JointState(position=[0.0, 0.0]))
        wait_for(lambda: node._instruction is not None, what="the instruction")
        wait_for(lambda: "joint_states.position" in node._state, what="the joint state")
        for level in (60, 200):
            want = vla_reference(level, ["go", "left"], [0.0, 0.0])
            images.publish(grey(level))
            wait_for(
                lambda w=want: latest() is not None and abs(latest().linear.x - w[0]) < 1e-4,
                what=f"the command of the image of grey {level}",
            )
            assert latest().angular.z == pytest.approx(want[1], abs=1e-4)
        estop.publish(Bool(data=True))
        wait_for(lambda: latest().linear.x == 0.0, what="zero under the e-stop")
        seen = received.count()
        images.publish(grey(100))
        wait_for(lambda: node.inferences >= 3, what="the action under the e-stop")
        time.sleep(0.1)
        assert all(m.linear.x == 0.0 and m.angular.z == 0.0 for m in received.since(seen))
        estop.publish(Bool(data=False))
        wait_for(lambda: not node.commander._estop, what="the e-stop released")
        images.publish(grey(100))
        wait_for(lambda: latest().linear.x > 0.3, what="moving after the e-stop")
        joints.publish(JointState(position=[float("nan"), 0.0]))
        wait_for(lambda: np.isnan(node._state["joint_states.position"][0]), what="the NaN state")
        images.publish(grey(100))
        wait_for(lambda: latest().linear.x == 0.0, what="zero at once for the NaN action")
        assert node.commander.stops["non_finite_action"] >= 1
        assert ticks == []  # every command above went out when its action came
    finally:
        spinner.stop()
        node.destroy_node()
        peer.destroy_node()


@pytest.mark.parametrize("inline_act_max_ms", [0.0, 1000.0])
def test_a_fast_model_runs_in_the_images_callback(ros_context, tmp_path, inline_act_max_ms):
    """inline_act_max_ms 1000: once INLINE_WINDOW actions have been timed, images run in their
    own callback, and each command still carries its image's action (the model's reference
    output); 0: every image runs on the inference thread."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tokenizers")
    import rclpy
    from rclpy.lifecycle import TransitionCallbackReturn
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import String

    from onnx_models import vla_reference
    from trtpipe.ros.inline_runs import INLINE_WINDOW

    node = vla_policy_node(
        ros_context,
        tmp_path,
        f"policy_inline_{int(inline_act_max_ms)}",
        control_rate_hz=0.02,  # no tick in the test's seconds: each command is an action's
        stale_after_ms=60_000.0,
        max_linear=2.0,
        max_angular=2.0,
        max_linear_accel=1e6,
        max_angular_accel=1e6,
        inline_act_max_ms=inline_act_max_ms,
    )
    peer = rclpy.create_node(f"policy_inline_peer_{int(inline_act_max_ms)}", context=ros_context)
    received = _CommandLog(peer)
    latest = received.latest
    images = peer.create_publisher(Image, "image", 10)
    instructions = peer.create_publisher(String, "instruction", 10)
    joints = peer.create_publisher(JointState, "joint_states", 10)
    spinner = Spinner(ros_context, node, peer)
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        for pub in (images, instructions, joints):
            wait_for(lambda p=pub: p.get_subscription_count() > 0, what="subscriptions")
        instructions.publish(String(data="go left"))
        joints.publish(JointState(position=[0.0, 0.0]))
        wait_for(lambda: node._instruction is not None, what="the instruction")
        wait_for(lambda: "joint_states.position" in node._state, what="the joint state")
        count = INLINE_WINDOW + 12
        for i in range(count):
            level = 20 + 7 * i  # a different grey each: its command names it
            want = vla_reference(level, ["go", "left"], [0.0, 0.0])
            images.publish(image_msg(np.full((32, 32, 3), level, np.uint8), "rgb8", i))
            wait_for(
                lambda w=want: latest() is not None and abs(latest().linear.x - w[0]) < 1e-4,
                what=f"the command of the image of grey {level}",
            )
            assert latest().angular.z == pytest.approx(want[1], abs=1e-4)
        assert node.inferences == count
        if inline_act_max_ms == 0:
            assert node.inline_inferences == 0
        else:
            # the first INLINE_WINDOW on the inference thread, to time the model; then in the
            # callback, but where the thread still held the act lock for the previous image
            assert 1 <= node.inline_inferences <= count - INLINE_WINDOW
    finally:
        spinner.stop()
        node.destroy_node()
        peer.destroy_node()


def test_a_negative_inline_act_max_ms_fails_configure(ros_context, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tokenizers")
    from rclpy.lifecycle import TransitionCallbackReturn

    node = vla_policy_node(ros_context, tmp_path, "policy_inline_bad", inline_act_max_ms=-1.0)
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    finally:
        node.destroy_node()


def test_commands_serialized_in_place_are_the_middlewares_own_bytes():
    """twist_cdr against rclpy's own serialization of the same Twist, and back."""
    from geometry_msgs.msg import Twist
    from rclpy.serialization import deserialize_message, serialize_message

    from trtpipe.ros.policy_node import serialized_twist_works, twist_cdr

    values = np.array([0.125, -1.5, 2.0, 1e-9, -0.0, 7.75])
    twist = Twist()
    twist.linear.x, twist.linear.y, twist.linear.z = 0.125, -1.5, 2.0
    twist.angular.x, twist.angular.y, twist.angular.z = 1e-9, -0.0, 7.75
    assert twist_cdr(values) == serialize_message(twist)
    back = deserialize_message(twist_cdr(values), Twist)
    assert [back.linear.x, back.linear.y, back.linear.z] == [0.125, -1.5, 2.0]
    assert [back.angular.x, back.angular.y, back.angular.z] == [1e-9, -0.0, 7.75]
    assert serialized_twist_works(Twist)


def _accounted(node: Any) -> int:
    """Images with an outcome: run (or failed), rejected, or dropped for a reason."""
    from trtpipe.ros.policy_node import IMAGE_DROPS

    drops = sum(node.dropped[reason] for reason in IMAGE_DROPS)
    return node.inferences + node.inference_errors + node.rejected_images + drops


def test_every_image_received_is_run_rejected_or_a_counted_drop(ros_context, tmp_path):
    """A model slower than the camera: images before an instruction, before a state, a burst
    while the model is busy, a bad image and one still waiting at deactivate each end counted,
    and /diagnostics adds up: received = inferences + rejected + dropped."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tokenizers")
    import rclpy
    from rclpy.lifecycle import TransitionCallbackReturn
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import String

    from trtpipe.ros.policy_node import IMAGE_DROPS

    node = vla_policy_node(ros_context, tmp_path, "policy_accounting", inline_act_max_ms=0.0)
    peer = rclpy.create_node("policy_accounting_peer", context=ros_context)
    images = peer.create_publisher(Image, "image", 100)
    instructions = peer.create_publisher(String, "instruction", 10)
    joints = peer.create_publisher(JointState, "joint_states", 10)
    spinner = Spinner(ros_context, node, peer)
    grey = np.full((32, 32, 3), 128, np.uint8)
    acting = threading.Event()
    sent = 0

    def send(count: int, pause_s: float = 0.0) -> None:
        nonlocal sent
        for _ in range(count):
            images.publish(image_msg(grey, "rgb8", sent))
            sent += 1
            time.sleep(pause_s)

    def settled() -> None:
        wait_for(
            lambda: node.received == sent and _accounted(node) == sent,
            timeout=20,
            what=f"{sent} images received and accounted for",
        )

    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        act = node.policy.act

        held = threading.Event()  # set: the model holds until the test lets it go
        released = threading.Event()

        def slow_act(*args: Any, **kwargs: Any) -> Any:  # a real VLA's time on a GPU
            acting.set()
            time.sleep(0.05)
            if held.is_set():
                released.wait(10)
            return act(*args, **kwargs)

        node.policy.act = slow_act
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        for pub in (images, instructions, joints):
            wait_for(lambda p=pub: p.get_subscription_count() > 0, what="subscriptions")
        send(3, 0.05)
        settled()
        assert node.dropped["no_instruction"] >= 1
        instructions.publish(String(data="go left"))
        wait_for(lambda: node._instruction is not None, what="the instruction")
        send(3, 0.05)
        settled()
        assert node.dropped["no_state"] >= 1
        joints.publish(JointState(position=[0.0, 0.0]))
        wait_for(lambda: "joint_states.position" in node._state, what="the joint state")
        send(40, 0.005)  # 200 Hz against a 20 Hz model
        broken = image_msg(grey, "rgb8", sent)
        broken.data = broken.data[:100]
        images.publish(broken)
        sent += 1
        settled()
        assert node.inferences >= 1 and node.dropped["newest_image_wins"] >= 1
        assert node.rejected_images == 1 and node.inference_errors == 0
        (values,) = diagnostics_now(node, "_diagnostics_out", node.publish_diagnostics).values()
        drops = sum(int(values[f"dropped.{reason}"]) for reason in IMAGE_DROPS)
        assert int(values["received"]) == sent
        assert sent == int(values["inferences"]) + int(values["rejected_images"]) + drops
        assert values["dropped.instruction_too_long"] == "0"
        # one image in the model, the next waiting for it when the node deactivates: the model
        # is held until the deactivation has stopped the loop, however slow this machine is
        acting.clear()
        held.set()
        send(1)
        wait_for(acting.is_set, what="the model running")
        send(1)
        wait_for(lambda: node.received == sent, what="the waiting image")
        threading.Timer(0.3, released.set).start()  # after the stop below, while it waits
        node.trigger_deactivate()
        assert node.dropped["inactive"] == 1
        assert _accounted(node) == sent
    finally:
        spinner.stop()
        node.destroy_node()
        peer.destroy_node()


def test_an_instruction_too_long_is_dropped_and_one_truncated_is_counted(
    ros_context, tmp_path, capfd
):
    """Over MAX_INSTRUCTION_BYTES: dropped, counted, and zero at once, as for no instruction
    (the previous one is not what the operator wants any more); more tokens than the model's
    sequence: runs truncated, warned once and counted in /diagnostics."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tokenizers")
    import rclpy
    from rclpy.lifecycle import TransitionCallbackReturn
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import String

    from trtpipe.ros.policy_node import MAX_INSTRUCTION_BYTES

    node = vla_policy_node(
        ros_context,
        tmp_path,
        "policy_text",
        stale_after_ms=60_000.0,
        max_linear_accel=1000.0,
        max_angular_accel=1000.0,
    )
    peer = rclpy.create_node("policy_text_peer", context=ros_context)
    received = _CommandLog(peer)
    latest = received.latest
    images = peer.create_publisher(Image, "image", 10)
    instructions = peer.create_publisher(String, "instruction", 10)
    joints = peer.create_publisher(JointState, "joint_states", 10)
    spinner = Spinner(ros_context, node, peer)
    grey = image_msg(np.full((32, 32, 3), 128, np.uint8), "rgb8", 0)

    def diagnostics() -> dict[str, str]:
        (values,) = diagnostics_now(node, "_diagnostics_out", node.publish_diagnostics).values()
        return values

    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        for pub in (images, instructions, joints):
            wait_for(lambda p=pub: p.get_subscription_count() > 0, what="subscriptions")
        joints.publish(JointState(position=[0.0, 0.0]))
        instructions.publish(String(data="go left"))
        wait_for(lambda: node._instruction is not None, what="the instruction")
        wait_for(lambda: "joint_states.position" in node._state, what="the joint state")
        images.publish(grey)
        wait_for(lambda: latest() is not None and latest().angular.z > 0.4, what="turning left")
        # too long: dropped, and zero now
        too_long = "go right " * (MAX_INSTRUCTION_BYTES // 8 + 1)
        assert len(too_long.encode()) > MAX_INSTRUCTION_BYTES
        instructions.publish(String(data=too_long))
        wait_for(lambda: node.dropped["instruction_too_long"] == 1, what="the drop")
        wait_for(lambda: latest().angular.z == 0.0 and latest().linear.x == 0.0, what="zero")
        assert node._instruction is None
        inferences = node.inferences
        images.publish(grey)
        wait_for(lambda: node.dropped["no_instruction"] == 1, what="an image without one")
        assert node.inferences == inferences
        assert diagnostics()["dropped.instruction_too_long"] == "1"
        # longer than the model's 8 tokens: runs on its first 8, warned and counted once
        instructions.publish(String(data="go left " * 10))
        wait_for(lambda: node._instruction is not None, what="the long instruction")
        for n in (1, 2):
            images.publish(grey)
            wait_for(lambda n=n: node.inferences == inferences + n, what="its actions")
        assert latest().angular.z > 0.4
        assert diagnostics()["tokenizer.truncated"] == "1"
        warnings = [line for line in capfd.readouterr().err.splitlines() if "truncated" in line]
        assert len(warnings) == 1 and "expected at most 8 tokens" in warnings[0], warnings
    finally:
        spinner.stop()
        node.destroy_node()
        peer.destroy_node()
