"""What the ROS tests share: a background executor, message builders, a scripted detector."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trtpipe.errors import EngineError


class Spinner:
    """A MultiThreadedExecutor spinning nodes in a background thread."""

    def __init__(self, context: Any, *nodes: Any):
        from rclpy.executors import MultiThreadedExecutor

        self.executor = MultiThreadedExecutor(num_threads=2, context=context)
        for node in nodes:
            self.executor.add_node(node)
        self.thread = threading.Thread(target=self._spin, name="test-spinner", daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        with contextlib.suppress(ExternalShutdownException):
            self.executor.spin()

    def add(self, node: Any) -> None:
        self.executor.add_node(node)

    def stop(self) -> None:
        self.executor.shutdown(timeout_sec=5.0)
        self.thread.join(5.0)
        assert not self.thread.is_alive(), "executor thread did not stop"


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)


def image_msg(
    pixels: np.ndarray, encoding: str, stamp_ns: int, frame_id: str = "camera", pad: int = 0
) -> Any:
    """sensor_msgs/Image of HWC (or HW) uint8 pixels; ``pad`` extra bytes at each row's end."""
    from sensor_msgs.msg import Image

    h, w = pixels.shape[:2]
    row = pixels.reshape(h, -1)
    if pad:
        row = np.concatenate([row, np.full((h, pad), 7, np.uint8)], axis=1)
    msg = Image(height=h, width=w, encoding=encoding, is_bigendian=0, step=row.shape[1])
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    msg.header.frame_id = frame_id
    msg.data = np.ascontiguousarray(row).tobytes()
    return msg


def stamp_ns(header: Any) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


@dataclass
class MeanDetections:
    """One full-frame box scored by the frame's mean pixel value / 255 (an oracle a test recomputes)."""

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    labels: list[str] | None = None

    def __len__(self) -> int:
        return len(self.scores)

    def to_msg(self, header: Any = None) -> Any:
        from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

        out = Detection2DArray()
        if header is not None:
            out.header = header
        for (x1, y1, x2, y2), score, cls in zip(self.boxes, self.scores, self.class_ids, strict=True):
            det = Detection2D()
            det.bbox.center.position.x = float(x1 + x2) / 2
            det.bbox.center.position.y = float(y1 + y2) / 2
            det.bbox.size_x, det.bbox.size_y = float(x2 - x1), float(y2 - y1)
            hyp = ObjectHypothesisWithPose()
            hyp.hypothesis.class_id, hyp.hypothesis.score = str(cls), float(score)
            det.results.append(hyp)
            out.detections.append(det)
        return out


@dataclass
class ScriptedDetector:
    """A stand-in for trtpipe.Detector with the same call surface; fails or stalls on request.

    Its answer (frame mean) is computed from the bytes it is handed, so a test that knows the
    published pixels can check the node handed over the right ones.
    """

    delay_s: float = 0.0
    fail_next: int = 0
    calls: int = 0
    buffers: list[int] = field(default_factory=list)  # addresses of the buffers handed in
    last_timings: dict[str, float] = field(default_factory=dict)

    def _answer(self, pixels: np.ndarray, width: int, height: int) -> MeanDetections:
        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail_next > 0:
            self.fail_next -= 1
            raise EngineError("scripted failure: enqueue failed")
        self.last_timings = {"preprocess": 0.1, "inference": 0.2, "postprocess": 0.05}
        return MeanDetections(
            boxes=np.array([[0, 0, width, height]], np.float32),
            scores=np.array([pixels.mean() / 255.0], np.float32),
            class_ids=np.array([0], np.int64),
        )

    def detect_bytes(self, data: Any, width: int, height: int, encoding: str, step: int | None = None):
        bpp = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}[encoding]
        step = step or width * bpp
        flat = np.frombuffer(data, np.uint8, count=height * step)
        self.buffers.append(flat.ctypes.data)
        pixels = flat.reshape(height, step)[:, : width * bpp]
        return self._answer(pixels, width, height)

    def __call__(self, image: np.ndarray, encoding: str | None = None) -> MeanDetections:
        return self._answer(np.asarray(image), image.shape[1], image.shape[0])


def factory_of(*detectors: Any) -> Callable[..., Any]:
    """A detector factory handing out ``detectors`` in turn (the last one repeats); logs calls."""
    calls: list[tuple[str, str]] = []

    def factory(params: Any, backend: str, device: str) -> Any:
        calls.append((backend, device))
        return detectors[min(len(calls) - 1, len(detectors) - 1)]

    factory.calls = calls  # type: ignore[attr-defined]
    return factory
