"""RgbdNode: colour image + registered depth image + camera info in, objects in 3D out.

Subscribes ``color_topic`` (sensor_msgs/Image, or CompressedImage with ``color_input_type``
"compressed"), ``depth_topic`` (sensor_msgs/Image, 16UC1 mm or
32FC1 m, registered to the colour image) and ``camera_info_topic`` (the depth image's
sensor_msgs/CameraInfo; its K gives the intrinsics). A depth camera of its own: set
``depth_to_color`` (the 4x4 transform, depth optical frame -> colour optical frame) and the
colour camera's info arrives on ``color_camera_info_topic``; the depth is registered to the
colour camera before the boxes are placed, and positions are in the colour optical frame.
Colour and depth are paired by stamp within ``sync_slop`` seconds
(:class:`~trtpipe.ros.stamp_pairs.StampPairer`). Each pair is detected and its boxes placed in
3D (:mod:`trtpipe.rgbd`): ``detections_3d`` (vision_msgs/Detection3DArray, the boxes with depth)
and ``detections`` (vision_msgs/Detection2DArray, every box), both with the colour frame's
header. With ``rate_hz`` > 0 a timer processes the newest pair at that rate (the
fixed-rate mode); with 0, every pair as it forms.

Nothing is made up: a pair without camera info yet, a depth image that is not a depth encoding
or whose aspect ratio differs from the colour image's, camera info whose size is not the depth
image's, and unreadable images are counted drops (diagnostics, by reason); boxes without enough
measured depth are left out of the 3D array and counted.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from rclpy.node import Node

from trtpipe import _core
from trtpipe.errors import InputError
from trtpipe.rgbd import DEPTH_DTYPES
from trtpipe.ros.diagnostics import OK, WARN, model_values, monitor_values
from trtpipe.ros.image_input import FrameRejected, decode_compressed, message_step, raw_frame
from trtpipe.ros.params import INPUT_TYPES, DetectingNodeParams, check_at_least
from trtpipe.ros.qos import make_qos
from trtpipe.ros.sequence_gaps import SequenceGaps
from trtpipe.ros.stamp_pairs import StampPairer


@dataclass(frozen=True)
class RgbdParams(DetectingNodeParams):
    color_topic: str = "color/image_raw"
    color_input_type: str = "raw"  # "raw": sensor_msgs/Image, "compressed": CompressedImage
    depth_topic: str = "depth/image_raw"
    camera_info_topic: str = "depth/camera_info"
    detections_topic: str = "detections"
    detections_3d_topic: str = "detections_3d"
    sync_slop: float = 0.02  # seconds between a colour and a depth stamp that still pair
    rate_hz: float = 0.0  # > 0: process the newest pair at this rate; 0: every pair
    depth_scale: float = 0.0  # metres per depth unit; 0: the encoding's (16UC1 mm, 32FC1 m)
    # depth from a camera of its own: the 4x4 transform depth optical frame -> colour optical
    # frame (metres, row-major); empty: the depth image is registered to the colour image
    depth_to_color: tuple[float, ...] = ()
    color_camera_info_topic: str = "color/camera_info"  # the colour intrinsics, with the above
    inner: float = 0.5  # the DepthRule (trtpipe.rgbd)
    tolerance: float = 0.3
    min_depth: float = 0.0
    max_depth: float = 100.0
    min_pixels: int = 16

    def __post_init__(self) -> None:
        if self.color_input_type not in INPUT_TYPES:
            raise InputError(
                f"color_input_type: expected one of {INPUT_TYPES}, given {self.color_input_type!r}"
            )
        check_at_least("rate_hz", self.rate_hz, 0, "0: every pair")
        check_at_least("depth_scale", self.depth_scale, 0, "0: the encoding's")
        super().__post_init__()
        if self.depth_to_color:
            matrix = np.asarray(self.depth_to_color, np.float64)
            if matrix.size != 16 or not np.isfinite(matrix).all():
                raise InputError(
                    "depth_to_color: expected 16 finite numbers (a 4x4 row-major transform), "
                    f"given {len(self.depth_to_color)} values"
                )
            if not np.allclose(matrix.reshape(4, 4)[3], (0, 0, 0, 1)):
                raise InputError(
                    f"depth_to_color: expected a last row of 0 0 0 1, given {matrix[12:]}"
                )


@dataclass(frozen=True)
class ColourFrame:
    """A colour image's size and how to run the detector on it (raw bytes or decoded)."""

    width: int
    height: int
    detect: Callable[[Any], Any]


def depth_array(msg: Any) -> np.ndarray:
    """A ``sensor_msgs/Image`` of depth as an (H, W) view of its bytes (no copy; big-endian data
    viewed as such); raises FrameRejected by the frame rule."""
    encoding = str(msg.encoding)
    data = memoryview(msg.data).cast("B")
    width, height = int(msg.width), int(msg.height)
    reason, message, step = _core.depth.depth_problem(
        encoding, width, height, message_step(msg), data.nbytes
    )
    if reason is not None:
        raise FrameRejected(reason, message)
    dtype = DEPTH_DTYPES[encoding].newbyteorder(">" if msg.is_bigendian else "<")
    return np.ndarray((height, width), dtype, data, 0, (step, dtype.itemsize))


class RgbdNode(Node):
    """Loads the model and serves the colour + depth + camera info topics from the constructor."""

    def __init__(self, node_name: str = "trtpipe_rgbd", **node_kwargs: Any) -> None:
        super().__init__(node_name, **node_kwargs)
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import CameraInfo, CompressedImage, Image
        from vision_msgs.msg import Detection2DArray, Detection3DArray

        from trtpipe.detector import Detector
        from trtpipe.rgbd import DepthLifter, DepthRule
        from trtpipe.samples import model_or_sample

        self.params = p = RgbdParams.declare(self)
        rule = DepthRule(
            inner=p.inner,
            tolerance=p.tolerance,
            min_depth=p.min_depth,
            max_depth=p.max_depth,
            min_pixels=p.min_pixels,
        )
        self._model_file = model_or_sample(p.model)  # the file the diagnostics name
        self.detector = Detector(
            self._model_file,
            backend=p.backend,
            device=p.device,
            conf=p.conf,
            iou=p.iou,
        )
        self.detector.depth_lifter = DepthLifter(self.detector.device, rule)
        self._pairs = StampPairer(p.sync_slop)
        self._info: Any = None
        self._color_info: Any = None
        registered = not p.depth_to_color
        self._extrinsic = None if registered else np.reshape(p.depth_to_color, (4, 4))
        self._lock = threading.Lock()
        self.dropped: Counter[str] = Counter()
        self.boxes_3d = 0
        self.boxes_without_depth = 0
        self.processed = 0
        self._latency_ms: deque[float] = deque(maxlen=1000)
        self._newest: tuple[Any, Any] | None = None  # the fixed-rate mode's pair
        # colour and depth messages their publishers sent that never reached the node
        self._gaps = {"color": SequenceGaps(), "depth": SequenceGaps()}
        in_qos = make_qos(p.qos)
        out_qos = make_qos(p.detections_qos)
        self._out_2d = self.create_publisher(Detection2DArray, p.detections_topic, out_qos)
        self._out_3d = self.create_publisher(Detection3DArray, p.detections_3d_topic, out_qos)
        self._inputs = [
            self.create_subscription(
                Image if p.color_input_type == "raw" else CompressedImage,
                p.color_topic,
                self._gaps["color"].wrap(self._on_color),
                in_qos,
            ),
            self.create_subscription(
                Image, p.depth_topic, self._gaps["depth"].wrap(self._on_depth), in_qos
            ),
            self.create_subscription(CameraInfo, p.camera_info_topic, self._on_info, in_qos),
        ]
        if not registered:
            self._inputs.append(
                self.create_subscription(
                    CameraInfo, p.color_camera_info_topic, self._on_color_info, in_qos
                )
            )
        self._diagnostics_out = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._rgbd_timers = [self.create_timer(p.diagnostics_period_s, self.publish_diagnostics)]
        if p.rate_hz > 0:
            self._rgbd_timers.append(self.create_timer(1.0 / p.rate_hz, self._on_tick))

    # -- input ---------------------------------------------------------------------------------

    def _on_info(self, msg: Any) -> None:
        self._info = msg

    def _on_color_info(self, msg: Any) -> None:
        self._color_info = msg

    def _on_color(self, msg: Any) -> None:
        self._paired(self._pairs.add_color(msg))

    def _on_depth(self, msg: Any) -> None:
        self._paired(self._pairs.add_depth(msg))

    def _paired(self, pair: tuple[Any, Any] | None) -> None:
        if pair is None:
            return
        if self.params.rate_hz > 0:
            with self._lock:
                if self._newest is not None:
                    self.dropped["superseded_by_newer_pair"] += 1
                self._newest = pair
            return
        self.process(*pair)

    def _on_tick(self) -> None:
        with self._lock:
            pair, self._newest = self._newest, None
        if pair is not None:
            self.process(*pair)

    def _drop(self, reason: str, message: str) -> None:
        with self._lock:
            self.dropped[reason] += 1
        self.get_logger().warning(f"pair dropped ({reason}): {message}", throttle_duration_sec=5.0)

    # -- one pair ------------------------------------------------------------------------------

    def _colour_frame(self, color: Any) -> ColourFrame:
        """The colour message as a frame to detect in; raises FrameRejected."""
        if self.params.color_input_type == "raw":
            raw = raw_frame(color)
            return ColourFrame(
                raw.width,
                raw.height,
                lambda det: det.detect_bytes(
                    raw.data, raw.width, raw.height, raw.encoding, raw.step
                ),
            )
        rgb = decode_compressed(color)
        return ColourFrame(rgb.shape[1], rgb.shape[0], lambda det: det(rgb, "rgb8"))

    def process(self, color: Any, depth: Any) -> bool:
        """Detects, places and publishes one colour + depth pair; False if it was dropped."""
        from trtpipe.rgbd import Intrinsics

        start = time.perf_counter()
        info = self._info
        if info is None:
            self._drop("no_camera_info", f"nothing on '{self.params.camera_info_topic}' yet")
            return False
        try:
            frame = self._colour_frame(color)
            depth_image = depth_array(depth)
        except FrameRejected as exc:
            self._drop(exc.reason, str(exc))
            return False
        dh, dw = depth_image.shape
        if (int(info.width), int(info.height)) not in ((dw, dh), (0, 0)):
            self._drop(
                "camera_info_size",
                f"camera info is for {info.width}x{info.height}, the depth image is {dw}x{dh}",
            )
            return False
        color_info = self._color_info
        if self._extrinsic is not None:
            if color_info is None:
                self._drop(
                    "no_color_camera_info",
                    f"nothing on '{self.params.color_camera_info_topic}' yet",
                )
                return False
            if (int(color_info.width), int(color_info.height)) not in (
                (frame.width, frame.height),
                (0, 0),
            ):
                self._drop(
                    "camera_info_size",
                    f"colour camera info is for {color_info.width}x{color_info.height}, the "
                    f"colour image is {frame.width}x{frame.height}",
                )
                return False
        elif abs(frame.width * dh - frame.height * dw) > 0.01 * frame.height * dw:
            self._drop(
                "size_mismatch",
                f"depth {dw}x{dh} is not registered to colour {frame.width}x{frame.height} "
                "(aspect ratios differ)",
            )
            return False
        try:
            intrinsics = Intrinsics.from_camera_info(info)
            detections = frame.detect(self.detector)
            placed = self.detector.depth_lifter(
                detections,
                (frame.width, frame.height),
                depth_image,
                intrinsics,
                depth_scale=self.params.depth_scale or None,
                extrinsic=self._extrinsic,
                colour_intrinsics=color_info if self._extrinsic is not None else None,
            )
        except InputError as exc:
            self._drop("bad_input", str(exc))
            return False
        self._out_2d.publish(detections.to_msg(color.header))
        self._out_3d.publish(placed.to_msg_3d(color.header))
        with self._lock:
            self.processed += 1
            self.boxes_3d += len(placed) - placed.without_depth
            self.boxes_without_depth += placed.without_depth
            self._latency_ms.append((time.perf_counter() - start) * 1e3)
        return True

    # -- diagnostics ---------------------------------------------------------------------------

    def publish_diagnostics(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

        with self._lock:
            dropped = dict(self.dropped)
            latencies = list(self._latency_ms)
            values = [
                ("pairs_processed", str(self.processed)),
                ("boxes_3d", str(self.boxes_3d)),
                ("boxes_without_depth", str(self.boxes_without_depth)),
            ]
        counts = self._pairs.counts
        values += [
            ("pairs_formed", str(counts.paired)),
            ("unpaired.color", str(counts.unpaired_color)),
            ("unpaired.depth", str(counts.unpaired_depth)),
        ]
        for name, gaps in self._gaps.items():
            values += gaps.diagnostic_values(f"sequence_gap.{name}", f"sequence_gap_counter.{name}")
        values += [(f"dropped.{reason}", str(n)) for reason, n in sorted(dropped.items())]
        for q in (50, 99):
            value = f"{np.percentile(latencies, q):.3f}" if latencies else "n/a"
            values.append((f"latency_p{q}_ms", value))
        # the Detector's own monitor: one frame per pair detected, with its stage times
        values += model_values(self.detector, self._model_file)
        values += monitor_values(self.detector.monitor.snapshot())
        level, text = (
            (WARN, f"{sum(dropped.values())} pairs dropped") if dropped else (OK, "running")
        )
        out = DiagnosticArray()
        out.header.stamp = self.get_clock().now().to_msg()
        out.status.append(
            DiagnosticStatus(
                level=bytes([level]),
                name=f"{self.get_name()}: rgbd",
                message=text,
                hardware_id="trtpipe",
                values=[KeyValue(key=k, value=v) for k, v in values],
            )
        )
        self._diagnostics_out.publish(out)

    def destroy_node(self) -> None:
        # also on a constructor that failed part-way (a bad parameter): what exists is released
        for subscription in getattr(self, "_inputs", ()):
            self.destroy_subscription(subscription)
        self._inputs = []
        detector = getattr(self, "detector", None)
        if detector is not None:
            detector.close()
        super().destroy_node()
