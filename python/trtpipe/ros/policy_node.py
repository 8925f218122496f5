"""PolicyNode: camera image + text instruction (+ joint state) -> a safe velocity command.

A managed (lifecycle) node. configure loads the :class:`trtpipe.Policy` and its tokenizer;
activate subscribes and starts two loops: inference (each new image, with the newest
instruction and state, through the model; frames that come while it runs are replaced by the
newest; a model whose recent ``Policy.act`` calls all took at most ``inline_act_max_ms`` runs in
the image's callback instead, sparing the hand-over to the inference thread) and control
(``control_rate_hz``: the :class:`trtpipe.SafeCommander`'s command published on ``cmd_vel``).
A new action's command is published at once, under the same rules and limits, where it changes
what was last sent; the control-rate ticks go on regardless. deactivate, cleanup,
shutdown and destroying the node publish a zero Twist first, and so does a node just
started. The command is zero, with its reason counted in the diagnostics, when no instruction
has been received, the e-stop topic is true, inference failed, the newest action is older than
``stale_after_ms`` (or its chunk played out), or the action is not finite; it never exceeds the
speed and acceleration limits. The zero of a destroyed node needs its context still valid:
``trtpipe-ros policy`` handles SIGINT and SIGTERM itself (rclpy's handlers shut the context down
first); a process of its own that embeds the node should init rclpy with
``signal_handler_options=SignalHandlerOptions.NO`` and destroy the node before shutting down.

An instruction longer than :data:`MAX_INSTRUCTION_BYTES` (UTF-8) is dropped, counted and logged,
and stands for no instruction: the robot is commanded zero until a new one comes (the operator
wanted something other than the previous instruction, and it cannot be run). One longer than the
model's token sequence runs truncated to its first tokens, logged once per instruction and
counted (``tokenizer.truncated``).

Every image received (``received``) ends as an inference (``inferences`` or
``inference_errors``), a rejected image (``rejected_images``: not a valid image of an encoding
the policy takes) or a counted drop: ``dropped.newest_image_wins`` (replaced by a newer one
before the model was free), ``dropped.no_instruction``, ``dropped.no_state`` (a state input not
received yet) or ``dropped.inactive`` (still waiting when the node deactivated).
``dropped.instruction_too_long`` counts instructions, not images.

Topics: ``image`` (sensor_msgs/Image), ``instruction`` (std_msgs/String; an empty one is none),
``estop`` (std_msgs/Bool), the state inputs' sources (``state_sources``: ``joint_states``
positions, velocities or efforts, or std_msgs/Float32MultiArray topics; a model with one state
input takes the joint positions by default), out ``cmd_vel`` (geometry_msgs/Twist), ``action``
(std_msgs/Float32MultiArray: every finite action as the model gave it, for arm controllers) and
``/diagnostics``.
"""

from __future__ import annotations

import struct
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from rclpy.exceptions import InvalidHandle
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from trtpipe.action_safety import ActionMapping, Limits, SafeCommander
from trtpipe.errors import InputError
from trtpipe.ros.diagnostics import OK, WARN, model_values
from trtpipe.ros.image_input import raw_frame
from trtpipe.ros.inline_runs import InlineGate
from trtpipe.ros.params import check_above, declare_fields, read_params
from trtpipe.ros.qos import PRESETS, make_qos
from trtpipe.ros.sequence_gaps import SequenceGaps

JOINT_FIELDS = ("joint_states.position", "joint_states.velocity", "joint_states.effort")
# the longest instruction taken, in UTF-8 bytes: about a thousand tokens, more than any VLA's
# sequence, and quick to tokenise on the executor thread (a 4 MB text took 1.8 s)
MAX_INSTRUCTION_BYTES = 4096
# why an image received was not run, each a diagnostics key "dropped.<reason>"
IMAGE_DROPS = ("newest_image_wins", "no_instruction", "no_state", "inactive")
CDR_LE = b"\x00\x01\x00\x00"  # the encapsulation header of little-endian CDR


def twist_cdr(values: np.ndarray) -> bytes:
    """geometry_msgs/Twist of six values (linear x y z, angular x y z) as serialized CDR."""
    return CDR_LE + struct.pack("<6d", *(float(v) for v in values))


def serialized_twist_works(twist_type: Any) -> bool:
    """Whether this middleware serializes a Twist as :func:`twist_cdr` does."""
    from rclpy.serialization import serialize_message

    probe = twist_type()
    probe.linear.x, probe.linear.y, probe.linear.z = 1.0, -2.0, 3.5
    probe.angular.x, probe.angular.y, probe.angular.z = -0.25, 5.0, -6.0
    return serialize_message(probe) == twist_cdr(np.array([1.0, -2.0, 3.5, -0.25, 5.0, -6.0]))


@dataclass(frozen=True)
class PolicyParams:
    model: str = ""
    tokenizer: str = ""  # tokenizer.json of a model with token ids
    backend: str = "auto"
    device: str = "auto"
    output: str = ""  # the action output ("" : the first)
    # the SafeCommander's settings, one ROS parameter each, with trtpipe.action_safety's defaults
    fields: tuple[str, ...] = ActionMapping.fields  # action component -> Twist field
    scales: tuple[float, ...] = ActionMapping.scales  # per component (default 1)
    max_linear: float = Limits.max_linear
    max_angular: float = Limits.max_angular
    max_linear_accel: float = Limits.max_linear_accel
    max_angular_accel: float = Limits.max_angular_accel
    control_rate_hz: float = SafeCommander.control_rate_hz
    stale_after_ms: float = SafeCommander.stale_after_ms
    image_qos: str = "sensor_data"
    # the model's state inputs, each "INPUT=SOURCE": SOURCE is joint_states.position,
    # joint_states.velocity, joint_states.effort or array:TOPIC (std_msgs/Float32MultiArray);
    # empty: a model's one state input takes joint_states.position
    state_sources: tuple[str, ...] = ()
    diagnostics_period_s: float = 1.0
    autostart: bool = True  # trtpipe-ros policy: configure and activate at start
    # an image runs the model in its own callback, on the executor thread, while the slowest of
    # the last Policy.act calls took at most this (ros/inline_runs.py); slower models, and the
    # first images, run on the inference thread (0: always there)
    inline_act_max_ms: float = 2.0

    def __post_init__(self) -> None:
        if not self.model:
            raise InputError("model: expected a policy model file, given ''")
        check_above("diagnostics_period_s", self.diagnostics_period_s, 0)
        if not self.inline_act_max_ms >= 0:
            raise InputError(f"inline_act_max_ms: expected >= 0, given {self.inline_act_max_ms}")
        if self.image_qos not in PRESETS:
            raise InputError(f"image_qos: expected one of {PRESETS}, given {self.image_qos!r}")

    def state_bindings(self, inputs: tuple[str, ...]) -> dict[str, str]:
        """Each state input of the model -> where its values come from; raises InputError
        where an input has no source or a source is not one the node reads."""
        if not self.state_sources:
            if len(inputs) > 1:
                raise InputError(
                    f"state_sources: the model has state inputs {list(inputs)}; give each a "
                    "source, e.g. ['joints=joint_states.position', 'gripper=array:gripper']"
                )
            return {name: "joint_states.position" for name in inputs}
        bindings = {}
        for entry in self.state_sources:
            name, sep, source = (part.strip() for part in entry.partition("="))
            known = source in JOINT_FIELDS or (source.startswith("array:") and len(source) > 6)
            if not sep or not known:
                raise InputError(
                    f"state_sources: expected INPUT=SOURCE with SOURCE one of "
                    f"{', '.join(JOINT_FIELDS)} or array:TOPIC, given {entry!r}"
                )
            bindings[name] = source
        if set(bindings) != set(inputs):
            raise InputError(
                f"state_sources: expected a source for each of the model's state inputs "
                f"{list(inputs)}, given {sorted(bindings)}"
            )
        return bindings

    def commander(self) -> SafeCommander:
        return SafeCommander(
            mapping=ActionMapping(tuple(self.fields), tuple(self.scales)),
            limits=Limits(
                self.max_linear, self.max_angular, self.max_linear_accel, self.max_angular_accel
            ),
            control_rate_hz=self.control_rate_hz,
            stale_after_ms=self.stale_after_ms,
        )


class PolicyNode(LifecycleNode):
    def __init__(self, node_name: str = "trtpipe_policy", **node_kwargs: Any) -> None:
        super().__init__(node_name, **node_kwargs)
        from geometry_msgs.msg import Twist

        declare_fields(self, PolicyParams)  # read (and checked) at each configure
        # cmd_vel is a plain publisher: a zero must go out on every transition, active or not
        self._cmd_vel = self.create_publisher(Twist, "cmd_vel", 10)
        self._twist = Twist
        # commands go out as serialized CDR (no Python message to build and convert) where the
        # middleware's own serialization is the same bytes
        self._serialized_twist = serialized_twist_works(Twist)
        self.policy: Any = None
        self.commander: SafeCommander | None = None
        self._lock = threading.Lock()
        # one command computed and published at a time: a command computed before an e-stop or
        # a transition cannot be published after its zero
        self._command_lock = threading.RLock()
        self._sent = np.zeros(6, np.float64)  # the six Twist values last published
        self._image: Any = None
        self._instruction: str | bytes | None = None
        self._state: dict[str, np.ndarray] = {}  # source -> its newest values
        self._bindings: dict[str, str] = {}  # state input -> source
        self._fresh = threading.Event()
        # Policy.act times (the bound set at configure), and the lock of one act at a time, in
        # a callback or on the inference thread
        self._inline = InlineGate(0.0)
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._handles: list[Any] = []
        self.received = 0  # images that reached the node
        self.inferences = 0
        self.inference_errors = 0
        self.rejected_images = 0
        self.dropped: Counter[str] = Counter()  # images (IMAGE_DROPS), instruction_too_long
        self.configure_error: str | None = None  # why the last configure failed
        self._image_gaps = SequenceGaps()  # images their publishers sent, never received
        self._latency_ms: deque[float] = deque(maxlen=1000)
        self._last_action_at: float | None = None
        self._reported = (0, time.monotonic())  # inferences and time of the last report
        self._constructed = True  # destroy_node: everything above exists
        self.publish_zero()  # a (re)started node first commands zero

    # -- lifecycle -----------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        from trtpipe.policy import Policy

        self.publish_zero()
        self.configure_error = None
        try:
            self.params = p = read_params(self, PolicyParams)
            self._inline.max_ms = p.inline_act_max_ms
            self.commander = p.commander()
            self.policy = Policy(
                p.model,
                p.tokenizer or None,
                backend=p.backend,
                device=p.device,
                output=p.output or None,
            )
        except Exception as exc:
            self.configure_error = f"{type(exc).__name__}: {exc}"
            self.get_logger().error(f"configure failed: {self.configure_error}")
            self.policy = None
            return TransitionCallbackReturn.FAILURE
        try:
            self._bindings = p.state_bindings(self.policy.inputs.state)
        except InputError as exc:
            self.configure_error = str(exc)
            self.get_logger().error(f"configure failed: {exc}")
            self._release()
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import Image, JointState
        from std_msgs.msg import Bool, Float32MultiArray, String

        p = self.params
        self._image_gaps = SequenceGaps()  # what was sent while inactive is not lost
        on_image = self._image_gaps.wrap(self._on_image)
        self._handles = [
            self.create_subscription(Image, "image", on_image, make_qos(p.image_qos)),
            self.create_subscription(String, "instruction", self._on_instruction, 10),
            self.create_subscription(Bool, "estop", self._on_estop, 10),
            self.create_timer(1.0 / p.control_rate_hz, self._on_control_tick),
            self.create_timer(p.diagnostics_period_s, self.publish_diagnostics),
        ]
        sources = set(self._bindings.values())
        if sources & set(JOINT_FIELDS):
            self._handles.append(
                self.create_subscription(JointState, "joint_states", self._on_joints, 10)
            )
        for source in sorted(s for s in sources if s.startswith("array:")):
            self._handles.append(
                self.create_subscription(
                    Float32MultiArray,
                    source.removeprefix("array:"),
                    lambda msg, source=source: self._on_array(source, msg),
                    10,
                )
            )
        with self._lock:
            self._state = {}
            self._drop_waiting_image()  # an image of an earlier activation is not run now
        with self._inline.lock:  # the first images of an activation go to the inference thread
            self._inline.reset()
        assert self.commander is not None
        with self._command_lock:  # the robot was commanded zero: accelerate from that
            self.commander.stopped(time.monotonic())
        self._action_out = self.create_publisher(Float32MultiArray, "action", 10)
        self._diagnostics_out = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._stop.clear()
        self._worker = threading.Thread(target=self._infer_loop, name="trtpipe-policy", daemon=True)
        self._worker.start()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._halt()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._halt()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._halt()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _halt(self) -> None:
        """Stops the loops and commands zero."""
        self._stop.set()
        self._fresh.set()
        if self._worker is not None:
            self._worker.join(timeout=10)
            self._worker = None
        for handle in self._handles:
            if hasattr(handle, "cancel"):
                handle.cancel()
                self.destroy_timer(handle)
            else:
                self.destroy_subscription(handle)
        self._handles = []
        with self._lock:
            self._drop_waiting_image()
        self.publish_zero()

    def _drop_waiting_image(self) -> None:
        """An image still waiting for the model is a counted drop (with the lock held)."""
        if self._image is not None:
            self._image = None
            self.dropped["inactive"] += 1

    def _release(self) -> None:
        if self.policy is not None:
            self.policy.close()
            self.policy = None

    def destroy_node(self) -> None:
        # a constructor that failed part-way (a parameter of the wrong type) left nothing to
        # stop: no loop ran, no command but zero went out, no model loaded
        if getattr(self, "_constructed", False):
            self._constructed = False  # a second destroy (the context's, after ours) is a no-op
            self._halt()
            self._release()
        super().destroy_node()

    def publish_zero(self) -> None:
        with self._command_lock:
            self._send(np.zeros(6, np.float64))
            if self.commander is not None:
                self.commander.stopped(time.monotonic())

    # -- inputs --------------------------------------------------------------------------------

    def _on_image(self, msg: Any) -> None:
        with self._lock:
            self.received += 1
        # bad images are counted drops here, never inference errors that stop the robot
        try:
            frame = raw_frame(msg)
            image = frame.as_array()  # a view of the message's bytes
        except InputError as exc:  # FrameRejected, or an encoding the policy does not take
            self.rejected_images += 1
            reason = getattr(exc, "reason", "unsupported_encoding")
            self.get_logger().warning(f"image dropped ({reason}): {exc}", throttle_duration_sec=5.0)
            return
        received = time.perf_counter()
        with self._lock:
            if self._image is not None:  # never taken by the model: it was busy
                self.dropped["newest_image_wins"] += 1
            self._image = (image, frame.encoding, received)
        with self._inline.inline() as here:
            if here:  # a fast model: run it here, without waking the inference thread
                with self._lock:
                    newest, self._image = self._image, None
                if newest is not None:
                    self._infer(newest)
                return
        self._fresh.set()

    @property
    def inline_inferences(self) -> int:
        """Images run in their own callback (see ``inline_act_max_ms``)."""
        return self._inline.inline_runs

    def _on_instruction(self, msg: Any) -> None:
        text = msg.data
        size = len(text.encode("utf-8", "surrogatepass"))
        too_long = size > MAX_INSTRUCTION_BYTES
        present = bool(text and text.strip()) and not too_long
        with self._lock:
            self._instruction = text if present else None
            if too_long:
                self.dropped["instruction_too_long"] += 1
        assert self.commander is not None
        self.commander.set_instruction(present)  # used from the next image on
        if too_long:  # none is in force: the zero goes out now, not at the next tick
            self.get_logger().warning(
                f"instruction: expected at most {MAX_INSTRUCTION_BYTES} bytes (UTF-8), given "
                f"{size}; dropped, the command is zero until a new instruction",
                throttle_duration_sec=5.0,
            )
            self._command_now()

    def _on_estop(self, msg: Any) -> None:
        assert self.commander is not None
        with self._command_lock:
            self.commander.set_estop(bool(msg.data))
            if msg.data:
                self.publish_zero()  # now, not at the next tick

    def _on_joints(self, msg: Any) -> None:
        values = {
            "joint_states.position": np.asarray(msg.position, np.float32),
            "joint_states.velocity": np.asarray(msg.velocity, np.float32),
            "joint_states.effort": np.asarray(msg.effort, np.float32),
        }
        with self._lock:
            self._state.update(values)

    def _on_array(self, source: str, msg: Any) -> None:
        with self._lock:
            self._state[source] = np.asarray(msg.data, np.float32)

    # -- the two loops -------------------------------------------------------------------------

    def _infer_loop(self) -> None:
        while not self._stop.is_set():
            if not self._fresh.wait(0.1):
                continue  # no new image: the last action ages towards stale
            self._fresh.clear()
            if self._stop.is_set():
                return
            with self._inline.lock:
                with self._lock:
                    # taken: the image's callback will not run it as well
                    newest, self._image = self._image, None
                if newest is not None:
                    self._infer(newest)

    def _infer(self, newest: tuple[Any, str, float]) -> None:
        """Runs one image with the newest instruction and state and sends its command (with
        the act lock held)."""
        with self._lock:
            instruction = self._instruction
            state = {name: self._state.get(source) for name, source in self._bindings.items()}
            if self._stop.is_set():
                self.dropped["inactive"] += 1
                return
            if instruction is None:
                self.dropped["no_instruction"] += 1
                return
            if any(values is None for values in state.values()):
                self.dropped["no_state"] += 1  # nothing to run the model on yet
                return
        policy, commander = self.policy, self.commander
        image, encoding, received = newest
        tokenizer = getattr(policy, "tokenizer", None)
        truncated = tokenizer.truncated if tokenizer is not None else 0
        started = time.perf_counter()
        try:
            action = policy.act(image, instruction, state or None, encoding)
        except Exception as exc:  # any failure stops the robot until the next good action
            self._note_truncation(tokenizer, truncated, instruction)
            self._inline.reset()  # the next images go to the inference thread
            commander.inference_failed()
            self._command_now()  # the zero, at once
            self.inference_errors += 1
            self.get_logger().error(
                f"inference failed: {type(exc).__name__}: {exc}", throttle_duration_sec=5.0
            )
            return
        self._inline.record((time.perf_counter() - started) * 1e3)
        self._note_truncation(tokenizer, truncated, instruction)
        now = time.monotonic()
        commander.action(action, now)
        self._command_now()
        # the node's latency: from the image's arrival to its command sent
        self._latency_ms.append((time.perf_counter() - received) * 1e3)
        self._last_action_at = now
        self.inferences += 1
        if np.all(np.isfinite(action)):
            from std_msgs.msg import Float32MultiArray

            self._action_out.publish(
                Float32MultiArray(data=action.astype(np.float32).ravel().tolist())
            )

    def _note_truncation(self, tokenizer: Any, before: int, instruction: str | bytes) -> None:
        """A warning when this act tokenised ``instruction`` and cut it to the model's sequence
        (the policy tokenises an instruction once, when it changes: one warning for each)."""
        if tokenizer is not None and tokenizer.truncated > before:
            self.get_logger().warning(
                f"instruction: expected at most {tokenizer.length} tokens (the model's "
                f"sequence), given more; truncated to its first {tokenizer.length}: "
                f"{instruction[:60]!r}"
            )

    def _on_control_tick(self) -> None:
        assert self.commander is not None
        with self._command_lock:
            self._send(self.commander.command(time.monotonic()).values)

    def _command_now(self) -> None:
        """A new action (or a failed inference): its command goes out now where it changes what
        was last sent, not at the next tick (never once the loops are stopping: their zero is
        the last word)."""
        assert self.commander is not None
        with self._command_lock:
            if self._stop.is_set():
                return
            command = self.commander.changed_command(time.monotonic(), self._sent)
            if command is not None:
                self._send(command.values)

    def _send(self, values: np.ndarray) -> None:
        """Publishes six Twist values (with the command lock held). A context already shut
        down (rclpy's own signal handlers do that before any node is destroyed) or a publisher
        already destroyed is logged, never raised: the rest of a shutdown still runs."""
        try:
            if self._serialized_twist:
                self._cmd_vel.publish(twist_cdr(values))
            else:
                twist = self._twist()
                twist.linear.x, twist.linear.y, twist.linear.z = (float(v) for v in values[:3])
                twist.angular.x, twist.angular.y, twist.angular.z = (float(v) for v in values[3:])
                self._cmd_vel.publish(twist)
        except (_rclpy.RCLError, InvalidHandle) as exc:
            self.get_logger().error(
                f"cmd_vel: command {values.tolist()} not published: {exc}",
                throttle_duration_sec=5.0,
            )
            return
        self._sent = values

    # -- diagnostics ---------------------------------------------------------------------------

    def publish_diagnostics(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

        assert self.commander is not None
        latencies = list(self._latency_ms)
        age = (
            f"{(time.monotonic() - self._last_action_at) * 1e3:.1f}"
            if self._last_action_at is not None
            else "n/a"
        )
        stops = dict(self.commander.stops)
        with self._lock:
            dropped = self.dropped.copy()
        tokenizer = getattr(self.policy, "tokenizer", None)
        count, at = self._reported
        now = time.monotonic()
        self._reported = (self.inferences, now)
        values = [
            ("inference_rate_hz", f"{(self.inferences - count) / max(now - at, 1e-9):.2f}"),
            ("inferences", str(self.inferences)),
            ("inference_errors", str(self.inference_errors)),
            ("rejected_images", str(self.rejected_images)),
            ("received", str(self.received)),
            *((f"dropped.{reason}", str(dropped[reason])) for reason in IMAGE_DROPS),
            ("dropped.instruction_too_long", str(dropped["instruction_too_long"])),
            *self._image_gaps.diagnostic_values("sequence_gap.image", "sequence_gap_counter.image"),
            ("action_age_ms", age),
        ]
        for q in (50, 99):
            value = f"{np.percentile(latencies, q):.3f}" if latencies else "n/a"
            values.append((f"latency_p{q}_ms", value))
        values += [(f"stops.{reason}", str(n)) for reason, n in sorted(stops.items())]
        if tokenizer is not None:
            values += [
                ("tokenizer.truncated", str(tokenizer.truncated)),
                ("tokenizer.replaced", str(tokenizer.replaced)),
            ]
        # what runs where; a Policy keeps no performance monitor, so no stage times or NVML here
        values += model_values(self.policy, self.params.model)
        level = WARN if self.inference_errors else OK
        out = DiagnosticArray()
        out.header.stamp = self.get_clock().now().to_msg()
        out.status.append(
            DiagnosticStatus(
                level=bytes([level]),
                name=f"{self.get_name()}: policy",
                message="inference errors" if self.inference_errors else "running",
                hardware_id="trtpipe",
                values=[KeyValue(key=k, value=v) for k, v in values],
            )
        )
        self._diagnostics_out.publish(out)
