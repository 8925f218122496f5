"""CamerasNode: several camera topics in, one model, each camera's Detection2DArray out.

One :class:`trtpipe.BatchDetector` serves every camera: each camera's newest frame waits for a
batch (``max_batch`` frames, or ``max_wait_ms`` for the oldest), the model runs once per batch,
and each frame's detections are published on its own camera's topic, with the frame's header.
A message that is not a valid image is a counted drop of its camera (the same frame rule as
every other input); the other cameras go on.

Topics: for an image topic ``/cam0/image_raw`` the detections go to ``/cam0/detections``
(``detections_topic`` in the image topic's namespace; remap as usual). Diagnostics on
``/diagnostics``: one status per camera (rates in and out since the last report, frames
received, detected, dropped by reason (``sequence_gap``: sent by its publishers, never
received; see :mod:`trtpipe.ros.sequence_gaps`), latency p50 / p99), one for the batches
(count, mean size, batches that waited out ``max_wait_ms``) and one for the shared model
(``<node>: model``: what runs where, frames run, fps, and the Detector's monitor's GPU stage
times, pools and NVML figures under the detector node's keys).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from rclpy.node import Node

from trtpipe.errors import InputError
from trtpipe.ros.diagnostics import OK, WARN, model_values, monitor_values
from trtpipe.ros.image_input import FrameRejected, raw_frame
from trtpipe.ros.params import DetectingNodeParams
from trtpipe.ros.qos import make_qos
from trtpipe.ros.sequence_gaps import SequenceGaps


@dataclass(frozen=True)
class CamerasParams(DetectingNodeParams):
    image_topics: tuple[str, ...] = ("image",)
    detections_topic: str = "detections"  # in each image topic's namespace
    max_batch: int = 4
    max_wait_ms: float = 5.0

    def __post_init__(self) -> None:
        topics = self.image_topics
        if not topics or any(not t for t in topics) or len(set(topics)) != len(topics):
            raise InputError(f"image_topics: expected distinct topic names, given {list(topics)}")
        super().__post_init__()


def detections_topic_of(image_topic: str, name: str) -> str:
    """``/cam0/image_raw`` -> ``/cam0/<name>``; a relative topic without a namespace ->
    ``<name>_<topic>``."""
    namespace, _, last = image_topic.rstrip("/").rpartition("/")
    if namespace or image_topic.startswith("/"):
        return f"{namespace}/{name}"
    return f"{name}_{last}"


class CamerasNode(Node):
    """Loads the model and serves every camera topic from the constructor."""

    def __init__(self, node_name: str = "trtpipe_cameras", **node_kwargs: Any) -> None:
        super().__init__(node_name, **node_kwargs)
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection2DArray

        from trtpipe.batch_detector import BatchDetector
        from trtpipe.samples import model_or_sample

        self.params = p = CamerasParams.declare(self)
        self._lock = threading.Lock()
        self._rejected: dict[str, Counter[str]] = {topic: Counter() for topic in p.image_topics}
        # per camera, the messages its publishers sent that never reached the node
        self._gaps = {topic: SequenceGaps() for topic in p.image_topics}
        # the Detector's own options, as the parameters name them
        detector_options = {name: getattr(p, name) for name in ("backend", "device", "conf", "iou")}
        self._model_file = model_or_sample(p.model)  # the file the diagnostics name
        self.batch = BatchDetector(
            self._model_file,
            max_batch=p.max_batch,
            max_wait_ms=p.max_wait_ms,
            on_result=self._publish,
            **detector_options,
        )
        out_qos = make_qos(p.detections_qos)
        in_qos = make_qos(p.qos)
        self._detections_out = {}
        self._images_in = []
        for topic in p.image_topics:
            out = detections_topic_of(topic, p.detections_topic)
            self._detections_out[topic] = self.create_publisher(Detection2DArray, out, out_qos)
            on_image = self._gaps[topic].wrap(lambda msg, camera=topic: self._on_image(camera, msg))
            self._images_in.append(self.create_subscription(Image, topic, on_image, in_qos))
            self.get_logger().info(f"camera '{topic}': detections on '{out}'")
        self._diagnostics_out = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        # per camera, the counts of the last report (frames in, detected): the rates since it
        self._reported: dict[str, tuple[int, int]] = {}
        self._reported_at = time.monotonic()
        self._reported_frames = 0  # frames the batches had run at the last report
        self._timer = self.create_timer(p.diagnostics_period_s, self.publish_diagnostics)

    def _on_image(self, camera: str, msg: Any) -> None:
        try:
            frame = raw_frame(msg)
            image = frame.as_array()  # a view of the message's bytes, kept until its batch ran
        except FrameRejected as exc:
            self._reject(camera, exc.reason, str(exc))
            return
        except InputError as exc:  # a valid frame of an encoding batches do not take (YUV)
            self._reject(camera, "unsupported_encoding", str(exc))
            return
        self.batch.submit(camera, image, frame.encoding, header=msg.header)

    def _reject(self, camera: str, reason: str, message: str) -> None:
        with self._lock:
            self._rejected[camera][reason] += 1
        self.get_logger().warning(
            f"camera '{camera}': message dropped ({reason}): {message}", throttle_duration_sec=5.0
        )

    def _publish(self, camera: str, detections: Any, header: Any) -> None:
        self._detections_out[camera].publish(detections.to_msg(header))

    def rejected(self, camera: str) -> dict[str, int]:
        """The camera's messages that were not valid images, by reason."""
        with self._lock:
            return dict(self._rejected[camera])

    def publish_diagnostics(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

        def status(name: str, values: list[tuple[str, str]], level: int, text: str) -> Any:
            return DiagnosticStatus(
                level=bytes([level]),
                name=f"{self.get_name()}: {name}",
                message=text,
                hardware_id="trtpipe",
                values=[KeyValue(key=k, value=v) for k, v in values],
            )

        out = DiagnosticArray()
        out.header.stamp = self.get_clock().now().to_msg()
        sources = self.batch.sources
        now = time.monotonic()
        elapsed, self._reported_at = now - self._reported_at, now
        for camera in self.params.image_topics:
            s = sources.get(camera)
            rejected = self.rejected(camera)
            received = (s.received if s else 0) + sum(rejected.values())
            detected = s.detected if s else 0
            last_in, last_out = self._reported.get(camera, (0, 0))
            self._reported[camera] = (received, detected)
            values = [
                ("rate_in_hz", f"{(received - last_in) / elapsed:.2f}"),
                ("rate_out_hz", f"{(detected - last_out) / elapsed:.2f}"),
                ("frames_received", str(received)),
                ("frames_detected", str(detected)),
                ("dropped.newest_frame_wins", str(s.dropped_replaced if s else 0)),
                ("dropped.bad_input", str(s.dropped_bad_input if s else 0)),
                ("dropped.engine_error", str(s.dropped_engine_error if s else 0)),
            ]
            values += self._gaps[camera].diagnostic_values("dropped.sequence_gap")
            values += [(f"rejected.{reason}", str(n)) for reason, n in sorted(rejected.items())]
            for q in (50, 99):
                latency = s.latency_percentile(q) if s else None
                values.append((f"latency_p{q}_ms", "n/a" if latency is None else f"{latency:.3f}"))
            bad = sum(rejected.values()) + (s.dropped_bad_input if s else 0)
            level, text = (WARN, f"{bad} bad input messages dropped") if bad else (OK, "running")
            out.status.append(status(f"camera {camera}", values, level, text))
        batches = self.batch.batch_stats
        out.status.append(
            status(
                "batches",
                [
                    ("batches", str(batches.batches)),
                    ("mean_batch", f"{batches.mean_batch:.2f}"),
                    ("waited_out_max_wait", str(batches.timed_out)),
                    ("max_batch", str(self.batch.max_batch)),
                    ("max_wait_ms", f"{self.batch.max_wait_ms:g}"),
                ],
                OK,
                "running",
            )
        )
        # the one model every camera shares: what runs where, its GPU times, pools, GPU health.
        # Batches record no per-frame host times or frame count into the monitor
        # (frames=False): fps and frames_processed are the batches' own frames run.
        detector = self.batch.detector
        frames = batches.frames
        last_frames, self._reported_frames = self._reported_frames, frames
        model = [
            *model_values(detector, self._model_file),
            ("fps", f"{(frames - last_frames) / elapsed:.2f}"),
            ("frames_processed", str(frames)),
            *monitor_values(detector.monitor.snapshot(), frames=False),
        ]
        out.status.append(status("model", model, OK, "running"))
        self._diagnostics_out.publish(out)

    def destroy_node(self) -> None:
        # also on a constructor that failed part-way (a bad parameter): what exists is released
        for subscription in getattr(self, "_images_in", ()):
            self.destroy_subscription(subscription)
        self._images_in = []
        batch = getattr(self, "batch", None)
        if batch is not None:
            batch.close()
        super().destroy_node()
