"""What the ROS tests share: a background executor, message builders, a scripted detector."""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from trtpipe.errors import EngineError

ROOT = Path(__file__).resolve().parents[2]
PREFIX = ROOT / ".cache" / "ros-msgs"

# Stay on this machine, in a domain of our own: other test runs may share the host.
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
DOMAIN_ID = random.Random(os.getpid()).randrange(1, 101)


def use_local_vision_msgs() -> None:
    site = PREFIX / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    if not (site / "vision_msgs").is_dir():
        return
    sys.path.insert(0, str(site))
    os.environ["AMENT_PREFIX_PATH"] = os.pathsep.join(
        p for p in (str(PREFIX), sys.prefix, os.environ.get("AMENT_PREFIX_PATH")) if p
    )
    # The middleware looks the type support libraries up by name; load them up front
    # since LD_LIBRARY_PATH cannot be changed for a running process.
    for lib in sorted((PREFIX / "lib").glob("libvision_msgs__*.so")):
        ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)


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


def spin_until(executor: Any, predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Spins ``executor`` here, one callback at a time, until ``predicate`` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        executor.spin_once(timeout_sec=0.05)


def vla_policy_node(ros_context, tmp_path, name: str, **params):
    """A PolicyNode over the test VLA model on ONNX Runtime, with ``params`` set."""
    from rclpy.parameter import Parameter

    from onnx_models import write_vla_model, write_vla_tokenizer
    from trtpipe.ros.policy_node import PolicyNode

    base = {
        "model": str(write_vla_model(tmp_path / "vla.onnx")),
        "tokenizer": str(write_vla_tokenizer(tmp_path / "tokenizer.json")),
        "backend": "onnxruntime",
        "device": "cpu",
        "image_qos": "default",
    }
    overrides = [Parameter(k, value=v) for k, v in {**base, **params}.items()]
    return PolicyNode(name, context=ros_context, parameter_overrides=overrides)


def node_process_env() -> dict[str, str]:
    """The environment of a node or publisher run as its own process: this run's domain, and
    the locally built vision_msgs where there is one."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(DOMAIN_ID))
    site = PREFIX / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    if site.is_dir():
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            filter(None, [str(PREFIX / "lib"), env.get("LD_LIBRARY_PATH")])
        )
        env["AMENT_PREFIX_PATH"] = os.pathsep.join([str(PREFIX), sys.prefix])
    return env


def run_trtpipe_ros(*args: str) -> subprocess.CompletedProcess:
    """``trtpipe-ros ARGS`` as its own process, in this run's domain; its exit and output."""
    return subprocess.run(
        [sys.executable, "-m", "trtpipe.ros.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=node_process_env(),
    )


def run_publisher(
    executor: Any, script: str, *args: str, env: dict[str, str], timeout: float = 40.0
) -> str:
    """Runs ``script`` (a publisher) in a second Python process in this run's domain, spinning
    ``executor`` here until it exits and a moment after (what is still in flight); its output,
    after a check that it exited cleanly."""
    process = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=dict(env, ROS_DOMAIN_ID=str(DOMAIN_ID)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        start = time.monotonic()
        while process.poll() is None and time.monotonic() - start < timeout:
            executor.spin_once(timeout_sec=0.05)
        for _ in range(20):
            executor.spin_once(timeout_sec=0.05)
        output = process.communicate(timeout=10)[0]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    return output


def diagnostics_now(
    owner: Any, attribute: str, publish: Callable[[], None]
) -> dict[str, dict[str, str]]:
    """The statuses a node's ``publish()`` sends on its ``/diagnostics`` publisher (``owner``'s
    ``attribute``), by name: key -> value, as a listener reads them."""
    sent: list[Any] = []
    real = getattr(owner, attribute)
    setattr(owner, attribute, SimpleNamespace(publish=sent.append))
    try:
        publish()
    finally:
        setattr(owner, attribute, real)
    return {s.name: {kv.key: kv.value for kv in s.values} for s in sent[0].status}


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
    """One full-frame box scored by the mean pixel value / 255 (an oracle a test recomputes)."""

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
        for (x1, y1, x2, y2), score, cls in zip(
            self.boxes, self.scores, self.class_ids, strict=True
        ):
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

    def detect_bytes(
        self, data: Any, width: int, height: int, encoding: str, step: int | None = None
    ):
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

    def factory(params: Any, backend: str, device: str, monitor: Any = None) -> Any:
        calls.append((backend, device))
        return detectors[min(len(calls) - 1, len(detectors) - 1)]

    factory.calls = calls  # type: ignore[attr-defined]
    return factory


def detector_node(context: Any, factory: Any, topic: str, **overrides: Any) -> Any:
    from rclpy.parameter import Parameter

    from trtpipe.ros.node import DetectorNode

    values = {
        "image_topic": f"{topic}/image",
        "detections_topic": f"{topic}/detections",
        "qos": "default",
        "nvml_device": -1,
        **overrides,
    }
    return DetectorNode(
        f"det_{topic}",
        context=context,
        detector_factory=factory,
        parameter_overrides=[Parameter(k, value=v) for k, v in values.items()],
    )


class Graph:
    """A camera publisher, the detector node and a detections subscriber, all spinning."""

    def __init__(self, context: Any, factory: Any, topic: str, **overrides: Any):
        import rclpy
        from sensor_msgs.msg import CompressedImage, Image
        from vision_msgs.msg import Detection2DArray

        self.node = detector_node(context, factory, topic, **overrides)
        self.peer = rclpy.create_node(f"peer_{topic}", context=context)
        msg_type = CompressedImage if overrides.get("input_type") == "compressed" else Image
        self.pub = self.peer.create_publisher(msg_type, f"{topic}/image", 10)
        self.received: list[Any] = []
        self._lock = threading.Lock()
        self.peer.create_subscription(
            Detection2DArray, f"{topic}/detections", self._on_detections, 10
        )
        self.spinner = Spinner(context, self.node, self.peer)
        wait_for(lambda: self.pub.get_subscription_count() > 0, what="detector subscription")
        wait_for(
            lambda: self.peer.count_publishers(f"{topic}/detections") > 0, what="detections pub"
        )

    def _on_detections(self, msg: Any) -> None:
        with self._lock:
            self.received.append(msg)

    def send_and_wait(self, msg: Any, count: int) -> Any:
        self.pub.publish(msg)
        wait_for(lambda: len(self.received) >= count, what=f"detections #{count}")
        return self.received[count - 1]

    def close(self) -> None:
        self.spinner.stop()
        self.node.destroy_node()
        self.peer.destroy_node()


def drops(node: Any) -> dict[str, int]:
    return node.runtime.monitor.snapshot().dropped_frames
