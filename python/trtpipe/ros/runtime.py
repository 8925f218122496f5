"""The detector node's machinery, shared by the plain and the lifecycle node.

Threading: the subscription callback validates a message and puts it into a one-slot mailbox
(:class:`~trtpipe.ros.mailbox.LatestMailbox`); one worker thread takes the newest frame, runs the
detector and publishes. A frame that arrives while another is still waiting replaces it and is
counted as dropped (``dropped.newest_frame_wins``). The executor thread never waits for a slow
model, so parameter services, lifecycle transitions, QoS events and the diagnostics timer stay
live even when inference is slower than the camera, and every dropped frame is seen and counted
by the node. A fast model (its last runs all within ``inline_detect_max_ms``; see
:mod:`trtpipe.ros.inline_runs`) runs a frame in the callback itself while the worker is idle,
sparing the hand-over; a frame the worker then takes that is older than one already served is
a ``newest_frame_wins`` drop, so detections never go out of order.
Frames that never reach the callback (lost in transport, or overwritten in the subscription's
keep-last queue while the executor was busy) are counted from the gaps in each publisher's
sequence numbers where the middleware reports them (``dropped.sequence_gap``;
:mod:`trtpipe.ros.sequence_gaps`).
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from trtpipe.errors import InputError
from trtpipe.monitor import PerformanceMonitor
from trtpipe.ros.annotate import draw_boxes
from trtpipe.ros.counters import NodeCounters
from trtpipe.ros.detector_factory import CPU_BACKEND, CPU_DEVICE, DetectorFactory, load_detector
from trtpipe.ros.diagnostics import diagnostic_array, model_values
from trtpipe.ros.image_cdr import (
    CompressedFields,
    ImageFields,
    compressed_from_cdr,
    image_from_cdr,
)
from trtpipe.ros.image_input import (
    PACKED,
    FrameRejected,
    RawFrame,
    decode_compressed,
    raw_frame,
)
from trtpipe.ros.inline_runs import InlineGate
from trtpipe.ros.mailbox import LatestMailbox
from trtpipe.ros.params import DetectorParams
from trtpipe.ros.qos import make_qos
from trtpipe.ros.sequence_gaps import SequenceGaps

MONITOR_STAGES = ("preprocess", "inference", "postprocess")
WORKER_JOIN_TIMEOUT_S = 30.0  # one inference at most; a CPU fallback can be slow
LOST_COUNT_CAP = 2**31 - 1  # a message-lost report this large is the middleware's overflow


def _event_module() -> Any:
    try:
        from rclpy import event_handler  # Iron and later
    except ImportError:  # Humble
        from rclpy import qos_event as event_handler
    return event_handler


def event_callbacks(kind: str, **callbacks: Any) -> Any:
    """``rclpy`` Subscription/PublisherEventCallbacks with the callbacks this rclpy knows."""
    cls = getattr(_event_module(), kind)
    known = inspect.signature(cls).parameters
    return cls(**{name: cb for name, cb in callbacks.items() if name in known})


@dataclass
class Frame:
    header: Any
    # RawFrame (Image), or the CompressedImage message or its CompressedFields, decoded later
    payload: RawFrame | Any
    received_s: float


def _model_file(model: str) -> str:
    """The model file the diagnostics name: the parameter, or the sample model's path."""
    from trtpipe.errors import BackendUnavailableError
    from trtpipe.samples import model_or_sample

    try:
        return model_or_sample(model)
    except BackendUnavailableError:  # a detector of a factory of its own, no sample here
        return "(sample model, not available)"


def _header(fields: ImageFields | CompressedFields) -> Any:
    from builtin_interfaces.msg import Time
    from std_msgs.msg import Header

    stamp = Time(sec=fields.stamp_sec, nanosec=fields.stamp_nanosec)
    return Header(stamp=stamp, frame_id=fields.frame_id)


class DetectorRuntime:
    """Owns the detector, the worker thread, the publishers, the subscription and diagnostics.

    ``configure`` loads the detector and creates the publishers; ``activate`` starts the worker,
    subscribes and starts diagnostics; ``deactivate`` and ``cleanup`` undo them in reverse.
    """

    def __init__(
        self,
        node: Any,
        params: DetectorParams,
        detector_factory: DetectorFactory | None = None,
        lifecycle: bool = False,
    ):
        self.node = node
        self.params = params
        self.counters = NodeCounters()
        self._factory = detector_factory or load_detector
        self._lifecycle = lifecycle
        self._log = node.get_logger()
        self._lock = threading.Lock()  # guards counters and monitor across worker and executor
        self._mailbox: LatestMailbox[Frame] = LatestMailbox()
        self._worker: threading.Thread | None = None
        # run times, and the lock of one frame through the detector at a time
        self._gate = InlineGate(params.inline_detect_max_ms)
        self._served_s = float("-inf")  # the arrival of the newest frame run (under its lock)
        self.detector: Any = None
        self.backend = params.backend
        self._on_cpu = False
        self._reloads_without_success = 0
        self.monitor: PerformanceMonitor | None = None
        self._det_pub: Any = None
        self._debug_pub: Any = None
        self._diag_pub: Any = None
        self._sub: Any = None
        self._gaps = SequenceGaps()
        self._timer: Any = None
        self._log_timer: Any = None
        self._model_file = ""

    # -- transitions ------------------------------------------------------------------------

    def configure(self) -> None:
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection2DArray

        p = self.params
        # the QoS presets first: a bad one fails before minutes of model loading
        out_qos = make_qos(
            p.detections_qos, deadline_ms=p.deadline_ms, liveliness_lease_ms=p.liveliness_lease_ms
        )
        make_qos(p.qos, deadline_ms=p.deadline_ms, liveliness_lease_ms=p.liveliness_lease_ms)
        self.monitor = PerformanceMonitor(
            deadline_ms=p.latency_budget_ms,
            nvml_device=p.nvml_device if p.nvml_device >= 0 else None,
            prometheus_port=p.metrics_port if p.metrics_port >= 0 else None,
            prometheus_addr=p.metrics_address,
            logger=logging.getLogger(f"trtpipe.ros.{self.node.get_name()}"),
        )
        if self.monitor.prometheus_port is not None:
            self._log.info(f"Prometheus metrics on port {self.monitor.prometheus_port}")
        self.detector = self._factory(p, p.backend, p.device, self.monitor)
        self._model_file = _model_file(p.model)
        self.backend = p.backend
        create = (
            self.node.create_lifecycle_publisher if self._lifecycle else self.node.create_publisher
        )
        self._det_pub = create(
            Detection2DArray, p.detections_topic, out_qos, event_callbacks=self._publisher_events()
        )
        if p.publish_debug_image:
            self._debug_pub = create(Image, p.debug_image_topic, out_qos)
        self._log.info(
            f"configured: model {p.model or '(sample model)'} on backend {p.backend}, "
            f"{p.input_type} images from '{p.image_topic}' ({p.qos}), detections on "
            f"'{p.detections_topic}' ({p.detections_qos})"
        )

    def activate(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import CompressedImage, Image

        p = self.params
        self._mailbox.reopen()
        with self._gate.lock:
            self._gate.reset()  # the first frames of an activation time the model on the worker
        self._worker = threading.Thread(
            target=self._run, name=f"trtpipe-ros-worker:{self.node.get_name()}", daemon=True
        )
        self._worker.start()
        # Diagnostics go out while active; a plain publisher so they need no activation.
        self._diag_pub = self.node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._timer = self.node.create_timer(p.diagnostics_period_s, self.publish_diagnostics)
        if p.log_period_s > 0:
            self._log_timer = self.node.create_timer(p.log_period_s, self.log_performance)
        in_qos = make_qos(
            p.qos, deadline_ms=p.deadline_ms, liveliness_lease_ms=p.liveliness_lease_ms
        )
        msg_type = Image if p.input_type == "raw" else CompressedImage
        callbacks = {
            ("raw", False): self.on_image,
            ("raw", True): self.on_serialized_image,
            ("compressed", False): self.on_compressed,
            ("compressed", True): self.on_serialized_compressed,
        }
        self._sub = self._subscribe(msg_type, callbacks, in_qos)

    def _subscribe(self, msg_type: Any, callbacks: dict, qos: Any) -> Any:
        """The image subscription: serialized messages where asked for and this rclpy has
        them, with message-lost events where the middleware reports them, and the messages
        that never reached it counted (``dropped.sequence_gap``) where it numbers them."""
        p = self.params
        unsupported = getattr(_event_module(), "UnsupportedEventTypeError", RuntimeError)
        serialized = p.serialized_input
        if serialized and "raw" not in inspect.signature(self.node.create_subscription).parameters:
            self._log.warning("this rclpy has no serialized subscriptions; deserialising images")
            serialized = False
        extra = {"raw": True} if serialized else {}
        # a new subscription counts each publisher afresh: what was sent while the node was
        # inactive is not lost
        self._gaps = SequenceGaps(on_gap=lambda n: self._count_drop("sequence_gap", n))
        callback = self._gaps.wrap(callbacks[(p.input_type, serialized)])
        try:
            events = self._subscription_events()
            return self.node.create_subscription(
                msg_type, p.image_topic, callback, qos, event_callbacks=events, **extra
            )
        except unsupported:  # a middleware without message-lost events
            events = self._subscription_events(message_lost=False)
            return self.node.create_subscription(
                msg_type, p.image_topic, callback, qos, event_callbacks=events, **extra
            )

    def deactivate(self) -> None:
        if self._sub is not None:
            self.node.destroy_subscription(self._sub)
            self._sub = None
        for timer in (self._timer, self._log_timer):
            if timer is not None:
                self.node.destroy_timer(timer)
        self._timer = self._log_timer = None
        self._stop_worker()
        if self._diag_pub is not None:
            self.node.destroy_publisher(self._diag_pub)
            self._diag_pub = None

    def cleanup(self) -> None:
        destroy = (
            self.node.destroy_lifecycle_publisher
            if self._lifecycle
            else self.node.destroy_publisher
        )
        for pub in (self._det_pub, self._debug_pub):
            if pub is not None:
                destroy(pub)
        self._det_pub = self._debug_pub = None
        close = getattr(self.detector, "close", None)
        if callable(close):
            close()
        self.detector = None
        if self.monitor is not None:
            self.monitor.close()

    def shutdown(self) -> None:
        self.deactivate()
        self.cleanup()

    @property
    def worker_alive(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def _stop_worker(self) -> None:
        if self._mailbox.discard_pending():
            self._count_drop("shutdown")
        self._mailbox.close()
        if self._worker is not None:
            self._worker.join(WORKER_JOIN_TIMEOUT_S)
            if self._worker.is_alive():
                self._log.error(
                    f"worker thread still running {WORKER_JOIN_TIMEOUT_S:g} s after stop "
                    "(an inference call has not returned)"
                )
            else:
                self._worker = None

    # -- QoS events -------------------------------------------------------------------------

    def _subscription_events(self, message_lost: bool = True) -> Any:
        callbacks = {
            "deadline": self._on_input_deadline,
            "incompatible_qos": self._on_incompatible_qos,
            "liveliness": self._on_liveliness,
        }
        if message_lost:
            callbacks["message_lost"] = self._on_message_lost
        return event_callbacks("SubscriptionEventCallbacks", **callbacks)

    def _publisher_events(self) -> Any:
        return event_callbacks(
            "PublisherEventCallbacks",
            deadline=self._on_output_deadline,
            incompatible_qos=self._on_incompatible_qos,
        )

    def _on_input_deadline(self, info: Any) -> None:
        with self._lock:
            self.counters.deadline_missed_input += info.total_count_change

    def _on_output_deadline(self, info: Any) -> None:
        with self._lock:
            self.counters.deadline_missed_output += info.total_count_change

    def _on_incompatible_qos(self, info: Any) -> None:
        from rclpy.qos import qos_policy_name_from_kind

        policy = qos_policy_name_from_kind(info.last_policy_kind)
        with self._lock:
            self.counters.incompatible_qos[policy] += info.total_count_change
        self._log.warning(
            f"a peer on '{self.params.image_topic}' or '{self.params.detections_topic}' has "
            f"incompatible QoS (policy {policy}); it will not be connected. This node requests/"
            f"offers the '{self.params.qos}'/'{self.params.detections_qos}' presets"
        )

    def _on_liveliness(self, info: Any) -> None:
        if info.not_alive_count_change > 0:
            with self._lock:
                self.counters.liveliness_lost += info.not_alive_count_change
            self._log.warning(f"an image publisher on '{self.params.image_topic}' lost liveliness")

    def _on_message_lost(self, info: Any) -> None:
        change = info.total_count_change
        if change >= LOST_COUNT_CAP:
            # Fast DDS reports a best-effort frame lost in fragments twice: as one lost sample,
            # and again as 2**31 - 1 (its cap of one report), wrapping its own total: not a count
            return
        with self._lock:
            self.counters.messages_lost += change

    # -- the frame path ---------------------------------------------------------------------

    def _arrived(self) -> float:
        """Counts a message in; returns when it came, for the latency figures."""
        received = time.perf_counter()
        with self._lock:
            self.counters.received += 1
        return received

    def on_image(self, msg: Any) -> None:
        received = self._arrived()
        try:
            frame = raw_frame(msg)
        except FrameRejected as exc:
            self._reject(exc)
            return
        self._enqueue(Frame(header=msg.header, payload=frame, received_s=received))

    def on_serialized_image(self, serialized: bytes) -> None:
        """A sensor_msgs/Image as the middleware delivered it: read in place."""
        received = self._arrived()
        try:
            fields = image_from_cdr(serialized)
            frame = raw_frame(fields)  # the pixels stay a view of ``serialized``
        except FrameRejected as exc:
            self._reject(exc)
            return
        self._enqueue(Frame(header=_header(fields), payload=frame, received_s=received))

    def on_serialized_compressed(self, serialized: bytes) -> None:
        received = self._arrived()
        try:
            fields = compressed_from_cdr(serialized)
        except FrameRejected as exc:
            self._reject(exc)
            return
        # Decoding takes milliseconds: the worker does it, for the newest frame only.
        self._enqueue(Frame(header=_header(fields), payload=fields, received_s=received))

    def on_compressed(self, msg: Any) -> None:
        received = self._arrived()
        self._enqueue(Frame(header=msg.header, payload=msg, received_s=received))

    @property
    def inline_frames(self) -> int:
        """Frames run in their own callback (see ``inline_detect_max_ms``)."""
        return self._gate.inline_runs

    def _enqueue(self, frame: Frame) -> None:
        # (a failure in the callback is the first in a row: reloading the engine, which takes
        # seconds, stays on the worker unless every failure reloads it)
        inline_safe = self.params.max_consecutive_failures > 1
        if inline_safe:
            with self._gate.inline() as here:
                if here:
                    if self._mailbox.discard_pending():  # older, and not taken yet
                        self._count_drop("newest_frame_wins")
                    self._run_frame(frame)
                    return
        if self._mailbox.put(frame):
            self._count_drop("newest_frame_wins")

    def _count_drop(self, reason: str, count: int = 1) -> None:
        with self._lock:
            if self.monitor is not None:
                self.monitor.count_drop(reason, count)

    def _reject(self, exc: InputError) -> None:
        reason = getattr(exc, "reason", "rejected_by_detector")
        with self._lock:
            self.counters.rejected_since_report += 1
            if self.monitor is not None:
                self.monitor.count_drop(f"bad_message.{reason}")
        self._log.warning(f"dropped a message on '{self.params.image_topic}': {exc}")

    def _run(self) -> None:
        while True:
            frame = self._mailbox.take()
            if frame is None:
                return
            with self._gate.lock:
                if frame.received_s < self._served_s:  # a newer one ran in its callback
                    self._count_drop("newest_frame_wins")
                    continue
                self._run_frame(frame)

    def _run_frame(self, frame: Frame) -> None:
        """``process`` timed for the inline gate (with the run lock held)."""
        self._served_s = frame.received_s
        started = time.perf_counter()
        if self.process(frame):
            self._gate.record((time.perf_counter() - started) * 1e3)
        else:  # a failure or a bad frame: time the model anew on the worker
            self._gate.reset()

    def process(self, frame: Frame) -> bool:
        """Run one frame; a failure drops that frame only (counted and logged). Whether its
        detections went out."""
        image: np.ndarray | None = None
        try:
            if isinstance(frame.payload, RawFrame):
                raw = frame.payload
                dets = self.detector.detect_bytes(
                    raw.data, raw.width, raw.height, raw.encoding, step=raw.step
                )
            else:
                image = decode_compressed(frame.payload)
                dets = self.detector(image, encoding="rgb8")
            msg = dets.to_msg(header=frame.header)
            msg.header = frame.header
        except InputError as exc:
            self._reject(exc)
            return False
        except Exception as exc:
            self._failed(exc)
            return False
        try:
            self._det_pub.publish(msg)
            if self._debug_pub is not None:
                self._publish_debug(frame, image, dets)
        except Exception as exc:  # e.g. the context shut down under us
            self._count_drop("publish_error")
            self._log.error(f"publishing detections failed: {type(exc).__name__}: {exc}")
            return False
        end_to_end = (time.perf_counter() - frame.received_s) * 1e3
        timings = getattr(self.detector, "last_timings", None) or {}
        with self._lock:
            self.counters.published += 1
            self.counters.consecutive_failures = 0
            self._reloads_without_success = 0
            # a Detector on the node's monitor has recorded the frame itself (with its GPU
            # times); anything else is recorded here
            if self.monitor is not None and getattr(self.detector, "monitor", None) is not (
                self.monitor
            ):
                self.monitor.record_frame(
                    **{s: timings.get(s) for s in MONITOR_STAGES}, end_to_end=end_to_end
                )
        return True

    def _publish_debug(self, frame: Frame, image: np.ndarray | None, dets: Any) -> None:
        from sensor_msgs.msg import Image

        if image is None:
            if frame.payload.encoding not in PACKED:
                return  # no drawing on YUV frames; the detections went out regardless
            image, encoding = frame.payload.as_array(), frame.payload.encoding
        else:
            encoding = "rgb8"
        drawn = draw_boxes(image, np.asarray(dets.boxes))
        out = Image(
            header=frame.header,
            height=drawn.shape[0],
            width=drawn.shape[1],
            encoding=encoding,
            is_bigendian=0,
            step=drawn.shape[1] * (1 if drawn.ndim == 2 else drawn.shape[2]),
        )
        out.data = drawn.tobytes()
        self._debug_pub.publish(out)

    # -- failures ---------------------------------------------------------------------------

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            self.counters.inference_errors += 1
            self.counters.consecutive_failures += 1
            self.counters.errors_since_report += 1
            self.counters.last_error = f"{type(exc).__name__}: {exc}"
            failures = self.counters.consecutive_failures
            if self.monitor is not None:
                self.monitor.count_drop("inference_error")
        self._log.error(
            f"inference failed ({failures} in a row), frame dropped: {type(exc).__name__}: {exc}"
        )
        if failures >= self.params.max_consecutive_failures:
            self._recover()

    def _recover(self) -> None:
        """Reload the engine; when a reload did not help and it is allowed, go to the CPU."""
        p = self.params
        with self._lock:
            self.counters.consecutive_failures = 0
        to_cpu = p.fallback_to_cpu and not self._on_cpu and self._reloads_without_success >= 1
        if not to_cpu:
            self._log.warning(f"reloading the engine after {p.max_consecutive_failures} failures")
            try:
                self._replace_detector(self._factory(p, self.backend, p.device, self.monitor))
                with self._lock:
                    self.counters.reloads += 1
                self._reloads_without_success += 1
                return
            except Exception as exc:
                self._log.error(f"engine reload failed: {type(exc).__name__}: {exc}")
                with self._lock:
                    self.counters.last_error = f"reload: {type(exc).__name__}: {exc}"
                if not (p.fallback_to_cpu and not self._on_cpu):
                    return
        cpu_params = dataclasses.replace(p, model=p.fallback_model or p.model)
        self._log.warning(f"falling back to the CPU backend ({CPU_BACKEND})")
        try:
            self._replace_detector(self._factory(cpu_params, CPU_BACKEND, CPU_DEVICE, self.monitor))
        except Exception as exc:
            self._log.error(f"CPU fallback failed: {type(exc).__name__}: {exc}")
            with self._lock:
                self.counters.last_error = f"CPU fallback: {type(exc).__name__}: {exc}"
            return
        self._on_cpu = True
        self.backend = CPU_BACKEND
        with self._lock:
            self.counters.cpu_fallbacks += 1

    def _replace_detector(self, detector: Any) -> None:
        old, self.detector = self.detector, detector
        close = getattr(old, "close", None)
        if old is not detector and callable(close):
            try:
                close()
            except Exception as exc:  # a broken engine may fail to close too
                self._log.warning(f"closing the replaced engine failed: {exc}")

    # -- diagnostics ------------------------------------------------------------------------

    def log_performance(self) -> None:
        """The reference line: ``Inference Performance - Time: 4.21ms, GPU: 37.5%, FPS: 30``."""
        if self.monitor is not None:
            self._log.info(self.monitor.log_line())

    def publish_diagnostics(self) -> None:
        if self._diag_pub is None or self.monitor is None:
            return
        with self._lock:
            snap = self.monitor.snapshot()
            counters = dataclasses.replace(
                self.counters,
                incompatible_qos=Counter(self.counters.incompatible_qos),
                sequence_gap_counter=self._gaps.state,
            )
            self.counters.errors_since_report = 0
            self.counters.rejected_since_report = 0
        # the backend that runs, not the one asked for ("auto")
        engine = getattr(self.detector, "engine", None)
        loaded = getattr(engine, "backend", None) or self.backend
        device = getattr(engine, "device", None) or self.params.device
        array = diagnostic_array(
            self.node.get_clock().now().to_msg(),
            name=f"trtpipe: {self.node.get_fully_qualified_name()}",
            hardware_id=f"{loaded}:{device}",
            snap=snap,
            counters=counters,
            backend=loaded,
            model=model_values(self.detector, self._model_file),
        )
        self._diag_pub.publish(array)
