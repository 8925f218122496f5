"""The detector node between processes: publish → detections latency with the node in a process
of its own, as ``trtpipe-ros`` runs it, and what of it the node adds to the model's own time.

    eval "$(scripts/ros-env.sh)"     # pip-only ROS 2: make the locally built vision_msgs importable
    python -m bench.ros_wire [--quick] [--detector noop|sample|both] [--backend B] [--out DIR]

The node (DetectorNode on a SingleThreadedExecutor, the shipped large-frame Fast DDS profile
applied as ``trtpipe-ros`` applies it) runs in a child process; the camera publisher and the
detections listener run here, with that profile too, as the README tells camera drivers. Cases:
640×480 and 1920×1080 bgr8, best effort (``sensor_data``) and reliable (the ``reliable`` preset,
its deadline 1.5 frame periods), images read in place (``serialized_input``, the default) and
deserialised by rclpy (as before), N frames at 10 Hz each; then a 1080p camera at 30 Hz for a few
seconds with the node's default QoS. The publisher sends each frame as serialized CDR, prepared
before its clock starts, as a C++ camera driver would (a Python message would add its conversion).

Per frame, one clock (CLOCK_MONOTONIC) in both processes, stage by stage (STAGES): the camera's
publish call; to the node's image callback (DDS, rclpy's take, and its deserialisation where the
node asks for messages); the callback (parse, validate, queue); the hand-over to the worker
thread; the detector call; to the detections' publish call; from there to the listener here. The
model's own time is the detector call (~0 with the no-op detector, so what is left is the node
and the transport); "added" is publish → detections minus it. Every wait has a deadline, so a
lost discovery fails a case (the node process's stderr tail in the report, the process restarted
for the next case) instead of hanging the run; ``--budget`` skips the cases that would not fit.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import queue
import random
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench import report
from bench.compare import SuiteUnavailable, machine_description
from bench.report import Series

log = logging.getLogger("bench.ros_wire")

ROOT = Path(__file__).resolve().parents[1]
SIZES = ((640, 480), (1920, 1080))
QOS_LABELS = {"sensor_data": "best effort", "reliable": "reliable"}
LATENCY_RATE_HZ = 10.0
SUSTAINED_RATE_HZ = 30.0
PROTOCOL = "@@ros_wire "  # prefix of the child's reply lines on its stdout
MATCH_TIMEOUT_S = 15.0  # publisher ↔ node ↔ listener discovered
FIRST_DETECTIONS_TIMEOUT_S = 15.0  # warm-up frames until one comes back
REPLY_TIMEOUT_S = 60.0  # a command to the child (starting a node loads its detector)
READY_TIMEOUT_S = (60.0, 300.0)  # the child up: no-op detector, the sample model (may build)
STRAGGLERS_S = 2.0  # after the last frame, how long detections may still come
# a frame's way, in order, adding up to publish → detections with the model's own time
# ("node_own": the node's stages from its callback to its publish call, but the model)
STAGES = {
    "publish": "publish call",
    "to_node": "→ node's callback",
    "callback": "callback (parse, queue)",
    "to_worker": "→ worker",
    "after_model": "model → publish",
    "back": "publish → listener",
    "node_own": "node's own",
}
CB, QUEUED, MODEL0, MODEL1, PUB = range(5)  # the node's times of a frame, in order


@dataclass(frozen=True)
class Case:
    width: int
    height: int
    qos: str | None  # the node's image QoS preset; None: the node's default
    serialized: bool
    rate_hz: float
    frames: int
    sustained: bool = False

    @property
    def qos_preset(self) -> str:
        from trtpipe.ros.params import DetectorParams

        return self.qos or DetectorParams.qos

    @property
    def size(self) -> str:
        return f"{self.width}×{self.height}"

    @property
    def label(self) -> str:
        qos = QOS_LABELS.get(self.qos_preset, self.qos_preset)
        if self.qos is None:
            qos = f"default QoS ({self.qos_preset}, {qos})"
        read = "in place" if self.serialized else "deserialised"
        what = f"{self.rate_hz:g} Hz for {self.frames / self.rate_hz:g} s" if self.sustained else ""
        return " · ".join(s for s in (f"{self.size} bgr8", qos, read, what) if s)

    def duration_s(self) -> float:
        return self.frames / self.rate_hz


def plan(quick: bool, frames: int | None = None, sustain_s: float | None = None) -> list[Case]:
    """The latency cases (every size, QoS and input path) and the sustained 30 Hz 1080p case."""
    n = frames or (20 if quick else 150)
    cases = [
        Case(w, h, qos, serialized, LATENCY_RATE_HZ, n)
        for w, h in SIZES
        for qos in ("sensor_data", "reliable")
        for serialized in (True, False)
    ]
    seconds = sustain_s if sustain_s is not None else (2.0 if quick else 5.0)
    if seconds > 0:
        frames_30 = round(seconds * SUSTAINED_RATE_HZ)
        cases.append(Case(1920, 1080, None, True, SUSTAINED_RATE_HZ, frames_30, sustained=True))
    return cases


# -- the frames --------------------------------------------------------------------------------


def frame(width: int, height: int) -> np.ndarray:
    """bgr8: scikit-image's astronaut resized (nearest), else a gradient with a few shapes."""
    try:
        from skimage import data

        rgb = data.astronaut()
        rows = np.arange(height) * rgb.shape[0] // height
        cols = np.arange(width) * rgb.shape[1] // width
        return np.ascontiguousarray(rgb[rows][:, cols][..., ::-1])
    except ImportError:
        pass
    y, x = np.mgrid[0:height, 0:width]
    img = np.empty((height, width, 3), np.uint8)
    img[..., 0] = 96
    img[..., 1] = (y * 255 // max(height - 1, 1)).astype(np.uint8)
    img[..., 2] = (x * 255 // max(width - 1, 1)).astype(np.uint8)
    img[height // 5 : height // 2, width // 8 : width // 3] = (40, 40, 220)
    cy, cx, r = height * 2 // 3, width * 2 // 3, min(width, height) // 6
    img[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = (230, 230, 230)
    img[height - height // 6 :, width // 2 - width // 10 : width // 2 + width // 10] = 10
    return img


def serialized_image(pixels: np.ndarray) -> bytes:
    """A sensor_msgs/Image as CDR bytes; its stamp is bytes 4..12 (see :func:`stamped`)."""
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import Image

    h, w = pixels.shape[:2]
    msg = Image(height=h, width=w, encoding="bgr8", is_bigendian=0, step=w * 3)
    msg.header.frame_id = "camera"
    msg.data = pixels.tobytes()
    wire = serialize_message(msg)
    if wire[:2] != b"\x00\x01":
        raise RuntimeError(f"expected little-endian CDR, given encapsulation {wire[:4]!r}")
    return wire


_STAMP = struct.Struct("<iI")


def stamped(wire: bytes, sec: int, nanosec: int) -> bytes:
    """``wire`` with header.stamp = (sec, nanosec): one copy of the frame."""
    return b"".join((wire[:4], _STAMP.pack(sec, nanosec), memoryview(wire)[12:]))


def stamp_of(cdr: bytes) -> tuple[int, int]:
    order = "<" if cdr[1:2] == b"\x01" else ">"
    return struct.unpack_from(order + "iI", cdr, 4)


# -- the child: the node in a process of its own -----------------------------------------------


class TimedDetector:
    """The node's detector, timed: the last call's start and end (perf_counter, seconds)."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.started: float | None = None
        self.ended: float | None = None

    @property
    def monitor(self) -> Any:  # the node's monitor where the detector records into it
        return getattr(self.inner, "monitor", None)

    @property
    def last_timings(self) -> dict[str, float]:
        return getattr(self.inner, "last_timings", None) or {}

    def __getattr__(self, name: str) -> Any:  # engine, input_size, ... for the diagnostics
        return getattr(self.inner, name)

    def detect_bytes(self, *args: Any, **kwargs: Any) -> Any:
        self.started = time.perf_counter()
        try:
            return self.inner.detect_bytes(*args, **kwargs)
        finally:
            self.ended = time.perf_counter()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.started = time.perf_counter()
        try:
            return self.inner(*args, **kwargs)
        finally:
            self.ended = time.perf_counter()

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()


def _make_detector(kind: str) -> Callable[..., TimedDetector]:
    """The node's detector factory: the no-op detector, or the sample model loaded as the node
    loads its model (``load_detector``, recording into the node's monitor)."""
    if kind == "noop":
        from bench.ros import NoOpDetector

        return lambda *_: TimedDetector(NoOpDetector())
    from trtpipe.ros.detector_factory import load_detector

    return lambda params, backend, device, monitor: TimedDetector(
        load_detector(params, backend, device, monitor)
    )


class _Profiles:
    """cProfile of the node's worker thread and of the executor thread, per case."""

    def __init__(self) -> None:
        import cProfile

        self.make = cProfile.Profile
        self.worker: Any = None
        self.executor: Any = None

    def patch_worker(self) -> None:
        from trtpipe.ros.runtime import DetectorRuntime

        run, profiles = DetectorRuntime._run, self

        def profiled_run(runtime: Any) -> None:
            prof = profiles.make()
            try:
                prof.enable()
            except ValueError:  # another profiler is active (Python 3.12+: one at a time)
                run(runtime)
                return
            profiles.worker = prof
            try:
                run(runtime)
            finally:
                prof.disable()

        DetectorRuntime._run = profiled_run  # this child process only

    def spin(self, executor: Any) -> None:
        prof = self.make()
        try:
            prof.enable()
        except ValueError:
            executor.spin()
            return
        self.executor = prof
        try:
            executor.spin()
        finally:
            prof.disable()

    def text(self) -> str:
        import io
        import pstats

        out = io.StringIO()
        for name, prof in (("executor thread", self.executor), ("worker thread", self.worker)):
            if prof is None:
                continue
            out.write(f"--- {name} (tottime) ---\n")
            pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(18)
        self.worker = self.executor = None
        return out.getvalue()


class NodeChild:
    """The child's side: one DetectorNode at a time, asked for by the parent on stdin."""

    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.factory = _make_detector(config["detector"])
        self.node: Any = None
        self.executor: Any = None
        self.thread: threading.Thread | None = None
        self.times: dict[str, list[float | None]] = {}  # see Result.node
        self.queued: dict[str, float] = {}
        self.profiles = _Profiles() if config.get("profile") else None
        if self.profiles is not None:
            self.profiles.patch_worker()

    def ready(self) -> dict[str, Any]:
        info: dict[str, Any] = {"pid": os.getpid()}
        if self.config["detector"] != "noop":  # the model built and cached once, timed
            from trtpipe.ros.params import DetectorParams

            start = time.perf_counter()
            params = DetectorParams(backend=self.config["backend"])
            det = self.factory(params, params.backend, params.device, None)
            engine = det.engine
            info["detector"] = f"sample model, {engine.backend} on {engine.device}"
            info["load_s"] = time.perf_counter() - start
            det.close()
        else:
            info["detector"] = "no-op detector"
        return info

    def start(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.parameter import Parameter

        from trtpipe.ros.node import DetectorNode

        start = time.perf_counter()
        self.node = DetectorNode(
            name,
            detector_factory=self.factory,
            parameter_overrides=[Parameter(k, value=v) for k, v in params.items()],
        )
        runtime = self.node.runtime
        process, enqueue, publish = runtime.process, runtime._enqueue, runtime._det_pub.publish
        times, queued = self.times, self.queued = {}, {}
        publishing: list[float | None] = [None]

        def key(frame: Any) -> str:
            return f"{frame.header.stamp.sec}:{frame.header.stamp.nanosec}"

        def timed_enqueue(frame: Any) -> None:  # the executor thread, after the parsing
            queued[key(frame)] = time.perf_counter()  # a fast detector runs inside the enqueue
            enqueue(frame)

        def timed_publish(msg: Any) -> None:  # the worker thread: the detections go out
            publishing[0] = time.perf_counter()
            publish(msg)

        def timed_process(frame: Any) -> bool:  # one frame at a time (worker or callback)
            detector = runtime.detector
            detector.started = detector.ended = publishing[0] = None
            served = process(frame)
            times[key(frame)] = [
                frame.received_s,
                queued.pop(key(frame), None),
                detector.started,
                detector.ended,
                publishing[0],
            ]
            return served

        runtime._det_pub.publish = timed_publish
        runtime._enqueue = timed_enqueue
        runtime.process = timed_process
        self.executor = SingleThreadedExecutor()  # as trtpipe-ros spins a node
        self.executor.add_node(self.node)
        executor, profiles = self.executor, self.profiles
        spin = executor.spin if profiles is None else (lambda: profiles.spin(executor))
        self.thread = threading.Thread(target=spin, name="ros-wire-executor", daemon=True)
        self.thread.start()
        return {"start_s": time.perf_counter() - start}

    def counts(self) -> dict[str, Any]:
        runtime = self.node.runtime
        with runtime._lock:
            c = runtime.counters
            drops = dict(runtime.monitor.snapshot().dropped_frames) if runtime.monitor else {}
            return {
                "received": c.received,
                "published": c.published,
                "messages_lost": c.messages_lost,
                "inference_errors": c.inference_errors,
                "dropped": drops,
            }

    def stop(self) -> dict[str, Any]:
        result = {"counts": self.counts(), "times": dict(self.times)}
        self.executor.shutdown(timeout_sec=5.0)
        if self.thread is not None:
            self.thread.join(10.0)
        self.node.destroy_node()
        self.node = self.executor = self.thread = None
        if self.profiles is not None:
            result["profile"] = self.profiles.text()
        return result

    def serve(self) -> None:
        _reply({"ready": self.ready()})
        for line in sys.stdin:
            command = json.loads(line)
            try:
                if command["cmd"] == "start":
                    _reply({"started": self.start(command["name"], command["params"])})
                elif command["cmd"] == "counts":
                    _reply({"counts": self.counts()})
                elif command["cmd"] == "stop":
                    _reply({"stopped": self.stop()})
                elif command["cmd"] == "exit":
                    break
            except Exception as exc:
                traceback.print_exc()
                _reply({"error": f"{type(exc).__name__}: {exc}"})
        if self.node is not None:
            self.stop()


def _reply(obj: dict[str, Any]) -> None:
    sys.stdout.write(PROTOCOL + json.dumps(obj) + "\n")
    sys.stdout.flush()


def child_main(config: dict[str, Any]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from trtpipe.ros.large_frames import use_in_this_process

    use_in_this_process()  # before rclpy starts, as trtpipe-ros does
    import rclpy

    rclpy.init(domain_id=config["domain_id"])
    try:
        NodeChild(config).serve()
    finally:
        rclpy.try_shutdown()
    return 0


# -- the parent: camera publisher, detections listener, the child's keeper ---------------------


class ChildFailed(RuntimeError):
    pass


class Child:
    """The node's process: commands on its stdin, replies on its stdout, stderr to a log file."""

    def __init__(self, config: dict[str, Any], log_path: Path, env: dict[str, str]):
        self.log_path = log_path
        self._log = open(log_path, "a")  # noqa: SIM115 (closed in close())
        self._log.write(f"--- the node's process, {time.strftime('%H:%M:%S')}: {config}\n")
        self._log.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.ros_wire", "--child", json.dumps(config)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            start_new_session=True,  # its own process group, ended as one
        )
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, name="ros-wire-child-stdout", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(PROTOCOL):
                self._replies.put(json.loads(line[len(PROTOCOL) :]))
            else:
                with contextlib.suppress(ValueError):  # the log closed meanwhile
                    self._log.write(f"[stdout] {line}")
        self._replies.put(None)  # the child is gone

    def expect(self, key: str, timeout: float) -> Any:
        try:
            reply = self._replies.get(timeout=timeout)
        except queue.Empty:
            raise ChildFailed(f"no '{key}' from the node's process within {timeout:g} s") from None
        if reply is None:
            self.proc.wait(5)
            raise ChildFailed(f"the node's process exited ({self.proc.returncode})")
        if "error" in reply:
            raise ChildFailed(f"the node's process: {reply['error']}")
        if key not in reply:
            raise ChildFailed(f"expected '{key}' from the node's process, given {reply}")
        return reply[key]

    def send(self, **command: Any) -> None:
        if self.proc.poll() is not None:
            raise ChildFailed(f"the node's process exited ({self.proc.returncode})")
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def ask(self, key: str, timeout: float = REPLY_TIMEOUT_S, **command: Any) -> Any:
        self.send(**command)
        return self.expect(key, timeout)

    def stderr_tail(self, lines: int = 25) -> str:
        if not self._log.closed:
            self._log.flush()
        return _log_tail(self.log_path, lines)

    def close(self) -> int | None:
        with contextlib.suppress(Exception):
            self.send(cmd="exit")
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            log.warning("the node's process did not exit in 15 s; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 9)
            self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


class Camera:
    """The camera publisher and the detections listener, spinning in the background."""

    def __init__(self, domain_id: int):
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(f"ros_wire_camera_{os.getpid()}", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.arrived: dict[tuple[int, int], float] = {}
        self._cond = threading.Condition()
        self.thread = threading.Thread(target=self._spin, name="ros-wire-camera", daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        with contextlib.suppress(ExternalShutdownException):
            self.executor.spin()

    def _on_detections(self, cdr: bytes) -> None:
        now = time.perf_counter()
        key = stamp_of(cdr)
        with self._cond:
            self.arrived.setdefault(key, now)
            self._cond.notify_all()

    def topics(self, image_topic: str, detections_topic: str, qos: Any) -> tuple[Any, Any]:
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection2DArray

        from trtpipe.ros.params import DetectorParams
        from trtpipe.ros.qos import make_qos

        pub = self.node.create_publisher(Image, image_topic, qos)
        sub = self.node.create_subscription(
            Detection2DArray,
            detections_topic,
            self._on_detections,
            make_qos(DetectorParams.detections_qos),
            raw=True,
        )
        return pub, sub

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def wait_arrived(self, key: tuple[int, int], timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: key in self.arrived, timeout)

    def close(self) -> None:
        import rclpy

        self.executor.shutdown(timeout_sec=5.0)
        self.thread.join(5.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


@dataclass
class Result:
    case: Case
    detector: str = ""
    sent: int = 0
    # per measured frame (seq), seconds on the shared clock
    published: dict[int, tuple[float, float]] = field(default_factory=dict)  # call start, end
    arrived: dict[int, float] = field(default_factory=dict)
    # in the node: callback entered, frame queued for the worker, detector started and
    # returned, detections publish call entered (see CB ... PUB)
    node: dict[int, list[float | None]] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)  # the node's, measured frames only
    error: str = ""
    stderr_tail: str = ""
    profile: str = ""

    def _us(self, fn: Callable[[int], float | None]) -> np.ndarray:
        values = [fn(seq) for seq in sorted(self.published)]
        return np.asarray([v * 1e6 for v in values if v is not None], dtype=float)

    def end_to_end(self) -> np.ndarray:
        return self._us(
            lambda s: self.arrived[s] - self.published[s][0] if s in self.arrived else None
        )

    def model(self) -> np.ndarray:
        return self._us(lambda s: self._span(s, MODEL0, MODEL1))

    def added(self) -> np.ndarray:
        def added(s: int) -> float | None:
            model = self._span(s, MODEL0, MODEL1)
            if s not in self.arrived or model is None:
                return None
            return self.arrived[s] - self.published[s][0] - model

        return self._us(added)

    def _span(self, seq: int, a: int, b: int) -> float | None:
        t = self.node.get(seq)
        if t is None or t[a] is None or t[b] is None:
            return None
        return t[b] - t[a]

    def stages(self) -> dict[str, np.ndarray]:
        """Where a frame's time goes (see STAGES), each stage's samples in µs."""

        def at(s: int, i: int) -> float | None:
            t = self.node.get(s)
            return None if t is None else t[i]

        def minus(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a - b

        def node_own(s: int) -> float | None:
            before, after = self._span(s, CB, MODEL0), self._span(s, MODEL1, PUB)
            return None if before is None or after is None else before + after

        return {
            "publish": self._us(lambda s: self.published[s][1] - self.published[s][0]),
            "to_node": self._us(lambda s: minus(at(s, CB), self.published[s][1])),
            "callback": self._us(lambda s: self._span(s, CB, QUEUED)),
            "to_worker": self._us(lambda s: self._span(s, QUEUED, MODEL0)),
            "after_model": self._us(lambda s: self._span(s, MODEL1, PUB)),
            "back": self._us(lambda s: minus(self.arrived.get(s), at(s, PUB))),
            "node_own": self._us(node_own),
        }

    @property
    def served(self) -> int:
        return len(self.arrived)

    @property
    def node_received(self) -> int:
        return int(self.counts.get("received", 0))

    @property
    def node_dropped(self) -> int:
        return int(sum(self.counts.get("dropped", {}).values()))


def _delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in after.items():
        if isinstance(value, dict):
            out[key] = {k: v - before.get(key, {}).get(k, 0) for k, v in value.items()}
            out[key] = {k: v for k, v in out[key].items() if v}
        else:
            out[key] = value - before.get(key, 0)
    return out


def _publisher_qos(case: Case) -> Any:
    """What the camera offers: best effort as camera drivers do; for the reliable preset, the
    deadline and liveliness it requests (or the node would find it incompatible)."""
    from trtpipe.ros.qos import make_qos

    if case.qos_preset == "reliable":
        return make_qos("reliable", deadline_ms=_deadline_ms(case))
    return make_qos("sensor_data")


def _deadline_ms(case: Case) -> float:
    return 1.5e3 / case.rate_hz


def run_case(
    camera: Camera,
    child: Child,
    case: Case,
    index: int,
    detector: str,
    backend: str = "",
    node_params: dict[str, Any] | None = None,
) -> Result:
    """One case against the node's process: a node of its own, warm-up, N frames, counts."""
    result = Result(case, detector=detector)
    name = f"ros_wire_{os.getpid()}_{index}"
    image_topic, detections_topic = f"/{name}/image", f"/{name}/detections"
    params: dict[str, Any] = {
        "image_topic": image_topic,
        "detections_topic": detections_topic,
        "serialized_input": case.serialized,
    }
    if case.qos is not None:
        params["qos"] = case.qos
    if case.qos_preset == "reliable":
        params["deadline_ms"] = _deadline_ms(case)
    if backend:
        params["backend"] = backend
    params.update(node_params or {})
    pub, sub = camera.topics(image_topic, detections_topic, _publisher_qos(case))
    started = False
    try:
        child.ask("started", cmd="start", name=name, params=params)
        started = True
        if not camera.wait(lambda: pub.get_subscription_count() > 0, MATCH_TIMEOUT_S):
            raise ChildFailed(f"the node did not subscribe '{image_topic}' in {MATCH_TIMEOUT_S} s")
        if not camera.wait(lambda: sub.get_publisher_count() > 0, MATCH_TIMEOUT_S):
            raise ChildFailed(f"no detections publisher on '{detections_topic}' in 15 s")
        wire = serialized_image(frame(case.width, case.height))
        _warm_up(camera, pub, wire, case)
        time.sleep(0.3)  # warm-up stragglers settle before the counts are taken
        before = child.ask("counts", cmd="counts")
        _publish(camera, pub, wire, case, result)
        deadline = time.monotonic() + STRAGGLERS_S
        while time.monotonic() < deadline and len(result.arrived) < result.sent:
            time.sleep(0.01)
            result.arrived = {s: t for (sec, s), t in list(camera.arrived.items()) if sec == 1}
        result.arrived = {s: t for (sec, s), t in list(camera.arrived.items()) if sec == 1}
        stopped = child.ask("stopped", cmd="stop")
        started = False
        result.counts = _delta(stopped["counts"], before)
        result.node = {
            int(key.split(":")[1]): value
            for key, value in stopped["times"].items()
            if key.startswith("1:")
        }
        result.profile = stopped.get("profile", "")
    except ChildFailed as exc:
        result.error = str(exc)
        result.stderr_tail = child.stderr_tail()
        log.error("%s: %s\n%s", case.label, exc, result.stderr_tail)
        if started:
            with contextlib.suppress(ChildFailed):
                child.ask("stopped", timeout=10.0, cmd="stop")
    finally:
        camera.node.destroy_publisher(pub)
        camera.node.destroy_subscription(sub)
        camera.arrived.clear()
    return result


def _warm_up(camera: Camera, pub: Any, wire: bytes, case: Case) -> None:
    """Warm-up frames (stamp.sec 0) until detections come back, then a few more."""
    deadline = time.monotonic() + FIRST_DETECTIONS_TIMEOUT_S
    seq = 0
    while True:
        seq += 1
        pub.publish(stamped(wire, 0, seq))
        if camera.wait_arrived((0, seq), 1.0 / case.rate_hz + 0.2):
            break
        if time.monotonic() > deadline:
            raise ChildFailed(
                f"no detections for {seq} warm-up frames in {FIRST_DETECTIONS_TIMEOUT_S:g} s "
                "(discovery, transport or the node?)"
            )
    for _ in range(5):
        seq += 1
        pub.publish(stamped(wire, 0, seq))
        camera.wait_arrived((0, seq), 1.0)


def _publish(camera: Camera, pub: Any, wire: bytes, case: Case, result: Result) -> None:
    """N frames at the case's rate, stamp (1, seq); each prepared before its clock starts."""
    start = time.perf_counter() + 0.05
    for seq in range(1, case.frames + 1):
        msg = stamped(wire, 1, seq)
        time.sleep(max(0.0, start + (seq - 1) / case.rate_hz - time.perf_counter()))
        t0 = time.perf_counter()
        pub.publish(msg)
        result.published[seq] = (t0, time.perf_counter())
        result.sent = seq


def measure(
    cases: list[Case],
    detector: str = "noop",
    backend: str = "auto",
    out_dir: Path | None = None,
    budget_s: float = 540.0,
    profile: bool = False,
    node_params: dict[str, Any] | None = None,
) -> tuple[list[Result], dict[str, Any]]:
    """Runs ``cases`` against one node process; every case gets a Result, failed or skipped
    ones with their reason. ``node_params``: parameters of the node beyond the case's."""
    _require_ros()
    from trtpipe.ros.large_frames import use_in_this_process

    started = time.monotonic()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    # camera-size frames through Fast DDS's shared memory: the camera side uses the profile too
    use_in_this_process()
    domain_id = int(os.environ.get("ROS_DOMAIN_ID") or random.Random(os.getpid()).randrange(1, 101))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    out_dir = out_dir or Path(os.environ.get("TRTPIPE_BENCH_OUT", "bench/results"))
    out_dir.mkdir(parents=True, exist_ok=True)
    config = {"detector": detector, "backend": backend, "domain_id": domain_id, "profile": profile}
    log_path = out_dir / f"ros_wire_node_{detector}.log"
    log_path.unlink(missing_ok=True)
    backend_param = backend if detector != "noop" else ""
    info: dict[str, Any] = {"domain_id": domain_id, "node_log": str(log_path), "restarts": 0}
    results: list[Result] = []
    camera = child = None

    def start_child() -> Child:
        """The node's process, ready (its detector loaded once); ChildFailed if it is not."""
        child = Child(config, log_path, env)
        left = budget_s - (time.monotonic() - started)
        try:
            info.update(child.expect("ready", min(READY_TIMEOUT_S[detector != "noop"], left)))
        except ChildFailed:
            info["exit_code"] = child.close()
            raise
        return child

    try:
        try:
            child = start_child()
        except ChildFailed as exc:
            tail = _log_tail(log_path)
            return [Result(c, detector, error=str(exc), stderr_tail=tail) for c in cases], info
        camera = Camera(domain_id)
        label = info.get("detector", detector)
        for i, case in enumerate(cases):
            left = budget_s - (time.monotonic() - started)
            if left < case.duration_s() + 20:
                results.append(Result(case, label, error=f"skipped: {left:.0f} s of budget left"))
                continue
            if child is None:  # a restart failed
                results.append(Result(case, label, error=info["error"]))
                continue
            result = run_case(camera, child, case, i, label, backend_param, node_params)
            log.info("%s: %s", case.label, _one_line(result))
            results.append(result)
            if result.error:  # a fresh node process for the cases left, whatever went wrong
                child.close()
                child = None
                info["restarts"] += 1
                try:
                    child = start_child()
                except ChildFailed as exc:
                    info["error"] = f"the node's process did not restart: {exc}"
    finally:
        if camera is not None:
            camera.close()
        if child is not None:
            info["exit_code"] = child.close()
        if info.get("exit_code") not in (0, None):
            info["stderr_tail"] = _log_tail(log_path)
    info["seconds"] = time.monotonic() - started
    return results, info


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


def _require_ros() -> None:
    from bench.ros import _require_ros as require

    require()


# -- what comes out ----------------------------------------------------------------------------


def _p(samples: np.ndarray, q: float) -> float:
    return float(np.percentile(samples, q)) if samples.size else float("nan")


def _ms(us: float) -> str:
    return "–" if np.isnan(us) else f"{us / 1e3:.2f}"


def _one_line(r: Result) -> str:
    if r.error:
        return f"FAILED: {r.error}"
    e2e, added = r.end_to_end(), r.added()
    return (
        f"{r.served}/{r.sent} served, publish→detections p50 {_ms(_p(e2e, 50))} ms, "
        f"added p50 {_ms(_p(added, 50))} ms"
    )


def _loss_note(r: Result) -> str:
    lost_before = max(r.sent - r.node_received, 0)
    note = (
        f"{r.served}/{r.sent} served; {lost_before} lost before the node, "
        f"{r.node_dropped} dropped by it"
    )
    drops = r.counts.get("dropped") or {}
    if drops:
        note += " (" + ", ".join(f"{k} {v}" for k, v in sorted(drops.items())) + ")"
    if r.counts.get("messages_lost"):
        note += f"; {r.counts['messages_lost']} reported lost by the middleware"
    return note


def to_series(results: list[Result]) -> list[Series]:
    series = []
    for r in results:
        if r.error or not r.arrived:
            continue
        case = f"{r.case.label} · {r.detector}"
        extra = {
            "sent": r.sent,
            "served": r.served,
            "node_received": r.node_received,
            "node_dropped": r.node_dropped,
            "lost": r.sent - r.served,
        }
        model = r.model()
        series.append(
            Series(
                case,
                "publish→detections",
                r.end_to_end(),
                note=_loss_note(r),
                extra=extra,
            )
        )
        if model.size:
            series.append(Series(case, "model (detector call)", model, note=""))
            added = r.added()
            if added.size:
                series.append(
                    Series(case, "added: publish→detections - model", added, note="node + ROS")
                )
        for key, samples in r.stages().items():
            if samples.size:
                series.append(Series(case, f"stage: {STAGES[key]}", samples))
    return series


def table(results: list[Result]) -> str:
    """One line per case: frames, latencies (ms) and where the time goes (p50, ms)."""
    head = [
        "case",
        "served/sent",
        "lost before node",
        "dropped by node",
        "publish→det p50 / p99",
        "model p50",
        "added p50 / p99",
        *(STAGES[k] for k in STAGES),
    ]
    rows = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in results:
        if r.error:
            rows.append(f"| {r.case.label} | {r.error} |" + " |" * (len(head) - 2))
            continue
        e2e, model, added, stages = r.end_to_end(), r.model(), r.added(), r.stages()
        cells = [
            r.case.label,
            f"{r.served}/{r.sent}",
            str(max(r.sent - r.node_received, 0)),
            str(r.node_dropped),
            f"{_ms(_p(e2e, 50))} / {_ms(_p(e2e, 99))}",
            _ms(_p(model, 50)),
            f"{_ms(_p(added, 50))} / {_ms(_p(added, 99))}",
            *(_ms(_p(stages[k], 50)) for k in STAGES),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def summary(results: list[Result]) -> str:
    """The issue's targets, read off the results."""
    lines = []
    for r in results:
        if r.error:
            continue
        if r.case.sustained:
            lost = r.sent - r.served
            verdict = "served without loss" if lost == 0 else f"{lost} frames not served"
            lines.append(
                f"- {r.case.label}, {r.detector}: {r.served}/{r.sent} served, "
                f"{max(r.sent - r.node_received, 0)} lost before the node, {r.node_dropped} "
                f"dropped by it: **{verdict}**"
            )
        elif r.case.width == 1920:
            added, stages = _p(r.added(), 50), r.stages()
            verdict = "≤ 1 ms" if added <= 1e3 else "> 1 ms"
            split = ", ".join(
                f"{STAGES[k]} {_ms(_p(stages[k], 50))}"
                for k in ("publish", "to_node", "node_own", "back")
            )
            lines.append(
                f"- {r.case.label}, {r.detector}: added p50 {_ms(added)} ms (**{verdict}**): "
                f"{split} ms"
            )
    return "\n".join(lines)


def failures(results: list[Result], info: dict[str, Any]) -> str:
    """Each failed case with the node process's stderr tail (each tail once)."""
    parts, seen = [], set()

    def tail(text: str) -> str:
        if not text:
            return ""
        if text in seen:
            return " (the node's stderr: as above)"
        seen.add(text)
        return f"\n\n```\n{text}\n```"

    for r in results:
        if r.error and not r.error.startswith("skipped"):
            parts.append(f"- {r.case.label}: {r.error}{tail(r.stderr_tail)}")
    if info.get("stderr_tail"):
        parts.append(
            f"- the node's process exited {info.get('exit_code')}" + tail(info["stderr_tail"])
        )
    return "\n".join(parts)


def collect(quick: bool = False) -> list[Series]:
    """For bench.compare: every case with the no-op detector (the node and the transport)."""
    results, _ = measure(plan(quick))
    if all(r.error for r in results):
        raise RuntimeError(f"every case failed: {results[0].error}\n{results[0].stderr_tail}")
    return to_series(results)


def _node_params(parser: argparse.ArgumentParser, given: list[str]) -> dict[str, Any]:
    """``NAME:=VALUE`` pairs as the node's parameters, each of its DetectorParams field's type."""
    from trtpipe.ros.params import DetectorParams

    defaults = DetectorParams.defaults()
    params: dict[str, Any] = {}
    for pair in given:
        name, sep, value = pair.partition(":=")
        if not sep or name not in defaults:
            parser.error(
                f"--param: expected NAME:=VALUE with a detector node parameter, got {pair!r}"
            )
        kind = type(defaults[name])
        try:
            params[name] = value.lower() in ("1", "true") if kind is bool else kind(value)
        except ValueError:
            parser.error(f"--param {name}: expected a {kind.__name__}, got {value!r}")
    return params


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ros_wire", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer frames (smoke run)")
    parser.add_argument(
        "--detector",
        choices=("noop", "sample", "both"),
        default="noop",
        help="the node's detector: no-op (node + transport only), trtpipe's sample model, or "
        "one run with each",
    )
    parser.add_argument("--backend", default="auto", help="the sample model's backend")
    parser.add_argument("--frames", type=int, help="frames per latency case (150; quick 20)")
    parser.add_argument(
        "--sustain", type=float, help="seconds of the 30 Hz 1080p case (5; quick 2; 0: none)"
    )
    parser.add_argument(
        "--budget", type=float, default=540.0, help="seconds for everything; later cases skip"
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the node's threads (slows them)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(os.environ.get("TRTPIPE_BENCH_OUT", "bench/results"))
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME:=VALUE",
        help="a parameter of the node (repeatable), e.g. inline_detect_max_ms:=0",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(json.loads(args.child))
    node_params = _node_params(parser, args.param)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    started = time.monotonic()
    detectors = ("noop", "sample") if args.detector == "both" else (args.detector,)
    results: list[Result] = []
    notes = []
    try:
        for detector in detectors:
            left = args.budget - (time.monotonic() - started)
            got, info = measure(
                plan(args.quick, args.frames, args.sustain),
                detector,
                args.backend,
                args.out,
                budget_s=left,
                profile=args.profile,
                node_params=node_params,
            )
            results += got
            notes.append(
                f"{info.get('detector', detector)}: {info.get('seconds', 0):.0f} s, node process "
                f"exit {info.get('exit_code')}, log {info.get('node_log')}"
                + (f", model load {info['load_s']:.1f} s" if "load_s" in info else "")
            )
            if failed := failures(got, info):
                notes.append(failed)
            profiles = [f"## {r.case.label}\n{r.profile}" for r in got if r.profile]
            if profiles:
                (args.out / f"ros_wire_profile_{detector}.txt").write_text("\n".join(profiles))
    except SuiteUnavailable as exc:
        print(f"bench.ros_wire skipped: {exc}", file=sys.stderr)
        return 0
    elapsed = time.monotonic() - started
    readable = table(results)
    header = (
        f"## ros_wire\n\nMachine: {machine_description()} · {elapsed:.0f} s\n\n"
        "Node and camera in separate processes; latencies in ms (stages: p50). "
        "Added = publish → detections - the detector call.\n\n"
        f"{readable}\n\n{summary(results)}\n\n" + "\n".join(f"- {n}" for n in notes)
    )
    series = to_series(results)
    if series:
        report.write(series, args.out, "ros_wire", header=header)
    print(header)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
