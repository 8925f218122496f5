"""``trtpipe bench --cameras N``: one model serving N cameras, batched (one BatchDetector)
against one Detector per camera, on this machine.

Each camera is a thread sending the same frame: at ``fps`` frames per second, or flat out (each
camera sends its next frame as soon as its previous one came back). Measured per case: the
frames detected per second over all cameras, the latency from a frame's send to its
detections (p50 / p99), the frames dropped (a camera's newer frame replaced one still
waiting), for the batched case the mean batch size, and on a GPU the peak device memory the
case added (NVML, over the whole process: models, pools, CUDA graphs, allocator caches; the
process's one-time GPU setup is made by a warm-up frame before the first case) and
the GPU time per frame (preprocessing + inference by CUDA events; a batch's divided by its
frames), whose inverse is the throughput once the GPU, not the host, is the bottleneck.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from trtpipe.errors import InputError
from trtpipe.frames import Frame
from trtpipe.preprocess import PACKED_CHANNELS

#: how long a camera waits for one frame's detections before the run is called stuck
RESULT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class CameraRun:
    """What the cameras send and to which model: ``frames`` frames each, at ``fps`` per camera
    (0: flat out)."""

    model: str
    frame: Frame
    cameras: int
    frames: int
    fps: float
    max_wait_ms: float
    backend: str

    def __post_init__(self) -> None:
        if self.cameras < 1:
            raise InputError(f"--cameras: expected at least 1, given {self.cameras}")
        if self.fps < 0:
            raise InputError(f"--fps: expected >= 0 (0: flat out), given {self.fps}")
        if self.frames < 1:
            raise InputError(f"--frames: expected at least 1, given {self.frames}")
        if self.frame.encoding not in PACKED_CHANNELS:
            raise InputError(
                f"--input: expected a packed encoding with --cameras (e.g. bgr8), given "
                f"{self.frame.encoding}"
            )


@dataclass(frozen=True)
class CameraCase:
    """One way of serving the cameras, measured."""

    name: str
    cameras: int
    fps: float  # per camera; 0: flat out
    detected: int
    dropped: int
    seconds: float
    p50_ms: float
    p99_ms: float
    mean_batch: float | None = None
    memory_mb: float | None = None  # peak device memory added by the case (None: no GPU)
    # GPU time (preprocessing + inference, CUDA events) per frame served (None: no GPU timing)
    gpu_ms_per_frame: float | None = None

    @property
    def throughput(self) -> float:
        return self.detected / self.seconds if self.seconds > 0 else 0.0


class _Camera(threading.Thread):
    """Sends ``frames`` frames through ``send`` (which returns once the frame is handed over),
    paced at ``fps`` or, flat out, after the previous frame's detections came back."""

    def __init__(self, send: Callable[[int], None], frames: int, fps: float) -> None:
        super().__init__(daemon=True)
        self._send, self._frames, self._fps = send, frames, fps
        self.returned = threading.Semaphore(0)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            start = time.perf_counter()
            for n in range(self._frames):
                if self._fps > 0:
                    delay = start + n / self._fps - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                self._send(n)
                if self._fps <= 0 and not self.returned.acquire(timeout=RESULT_TIMEOUT_S):
                    raise TimeoutError(f"frame {n}: no detections within {RESULT_TIMEOUT_S} s")
        except BaseException as exc:  # reported by the caller, in the main thread
            self.error = exc


def _run_cameras(cameras: list[_Camera]) -> None:
    for camera in cameras:
        camera.start()
    for camera in cameras:
        camera.join()
    for camera in cameras:
        if camera.error is not None:
            raise camera.error


class _MemoryPeak(threading.Thread):
    """The peak of GPU 0's used memory above its level at the start, sampled through NVML
    every 10 ms while the case runs (``peak_mb`` None where NVML cannot read it)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        from trtpipe.monitor.nvml import NvmlSampler

        self._release_caches()
        self._nvml = NvmlSampler()
        self._base = self._used()
        self._peak = self._base
        self._finished = threading.Event()

    @staticmethod
    def _release_caches() -> None:
        # the previous case's models are gone; an allocator cache must not count for this one
        gc.collect()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _used(self) -> int | None:
        return self._nvml.sample().memory_used_bytes if self._nvml.available else None

    def run(self) -> None:
        while not self._finished.wait(0.01):
            used = self._used()
            if used is not None and self._peak is not None:
                self._peak = max(self._peak, used)

    def __enter__(self) -> _MemoryPeak:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finished.set()
        self.join()
        self._nvml.close()

    @property
    def peak_mb(self) -> float | None:
        if self._base is None or self._peak is None:
            return None
        return (self._peak - self._base) / 2**20


def _gpu_ms_per_call(monitor: Any) -> float | None:
    """The mean GPU time of one call (a frame, or a batch) the monitor timed: preprocessing
    plus inference, from CUDA events."""
    gpu = monitor.snapshot().gpu
    stages = [gpu.get("preprocess"), gpu.get("inference")]
    if any(stage is None for stage in stages):
        return None
    return sum(stage.mean_ms for stage in stages)


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    if not latencies:
        return float("nan"), float("nan")
    return float(np.percentile(latencies, 50)), float(np.percentile(latencies, 99))


def batched_case(run: CameraRun) -> CameraCase:
    """One BatchDetector serving every camera."""
    from trtpipe.batch_detector import BatchDetector

    frame, cameras, frames, fps = run.frame, run.cameras, run.frames, run.fps
    lock = threading.Lock()
    sent: dict[tuple[str, int], float] = {}
    latencies: list[float] = []
    threads: list[_Camera] = []

    def on_result(source: str, dets, header: int | None) -> None:
        if header is None:  # a warm-up frame
            return
        with lock:
            latencies.append((time.perf_counter() - sent.pop((source, header))) * 1e3)
        threads[int(source[3:])].returned.release()

    image = frame.as_image()
    memory = _MemoryPeak()
    with (
        memory,
        BatchDetector(
            run.model,
            max_batch=cameras,
            max_wait_ms=run.max_wait_ms,
            on_result=on_result,
            backend=run.backend,
        ) as det,
    ):
        det.detect_batch([(image, frame.encoding)] * min(cameras, det.max_batch))  # warm-up
        # and one frame per camera through submit, which makes each camera's pinned copies
        # (a one-time cost of its first frame)
        for k in range(cameras):
            det.submit(f"cam{k}", image, frame.encoding, header=None)
        deadline = time.perf_counter() + RESULT_TIMEOUT_S * cameras
        while time.perf_counter() < deadline and any(
            s.detected + s.dropped_replaced < 1 for s in det.sources.values()
        ):
            time.sleep(0.001)
        # the case's counts start after the warm-up frames
        warm_detected = sum(s.detected for s in det.sources.values())
        warm_dropped = sum(s.dropped_replaced for s in det.sources.values())

        def sender(source: str) -> Callable[[int], None]:
            def send(n: int) -> None:
                with lock:
                    sent[(source, n)] = time.perf_counter()
                det.submit(source, image, frame.encoding, header=n)

            return send

        threads.extend(_Camera(sender(f"cam{k}"), frames, fps) for k in range(cameras))
        start = time.perf_counter()
        _run_cameras(threads)
        deadline = start + RESULT_TIMEOUT_S * frames
        while time.perf_counter() < deadline:  # paced: the last frames' detections
            stats = det.sources
            settled = sum(s.detected + s.dropped_replaced for s in stats.values())
            settled -= warm_detected + warm_dropped
            if settled >= cameras * frames:
                break
            time.sleep(0.0005)
        seconds = time.perf_counter() - start
        stats = det.sources
        batches = det.batch_stats
        per_batch = _gpu_ms_per_call(det.detector.monitor)
    p50, p99 = _percentiles(latencies)
    return CameraCase(
        "one BatchDetector",
        cameras,
        fps,
        detected=sum(s.detected for s in stats.values()) - warm_detected,
        dropped=sum(s.dropped_replaced for s in stats.values()) - warm_dropped,
        seconds=seconds,
        p50_ms=p50,
        p99_ms=p99,
        mean_batch=batches.mean_batch,
        memory_mb=memory.peak_mb,
        gpu_ms_per_frame=None if per_batch is None else per_batch / batches.mean_batch,
    )


def independent_case(run: CameraRun) -> CameraCase:
    """One Detector per camera, each run by its camera's thread (a frame that comes while the
    previous one still runs waits: none is dropped)."""
    from trtpipe.detector import Detector

    frame, cameras, frames, fps = run.frame, run.cameras, run.frames, run.fps
    image = frame.as_image()
    lock = threading.Lock()
    latencies: list[float] = []
    threads: list[_Camera] = []
    with _MemoryPeak() as memory:
        detectors = [Detector(run.model, backend=run.backend) for _ in range(cameras)]
        try:
            for det in detectors:
                det(image, frame.encoding)  # warm-up

            def sender(k: int) -> Callable[[int], None]:
                def send(n: int) -> None:
                    start = time.perf_counter()
                    detectors[k](image, frame.encoding)
                    with lock:
                        latencies.append((time.perf_counter() - start) * 1e3)
                    threads[k].returned.release()

                return send

            threads.extend(_Camera(sender(k), frames, fps) for k in range(cameras))
            start = time.perf_counter()
            _run_cameras(threads)
            seconds = time.perf_counter() - start
            per_frame = [_gpu_ms_per_call(det.monitor) for det in detectors]
        finally:
            for det in detectors:
                det.close()
    p50, p99 = _percentiles(latencies)
    return CameraCase(
        "one Detector per camera",
        cameras,
        fps,
        len(latencies),
        0,
        seconds,
        p50,
        p99,
        memory_mb=memory.peak_mb,
        gpu_ms_per_frame=None if None in per_frame else float(np.mean(per_frame)),
    )


def _warm_up_process(run: CameraRun) -> None:
    """One frame through a Detector that is then closed: the process's one-time GPU setup
    (the CUDA context, the libraries' handles and kernels) is made before either case, so
    neither case's memory counts it."""
    from trtpipe.detector import Detector

    with Detector(run.model, backend=run.backend) as det:
        det(run.frame.as_image(), run.frame.encoding)


def run_camera_bench(run: CameraRun) -> list[CameraCase]:
    """The batched case, then the independent one, after a warm-up of the process."""
    _warm_up_process(run)
    return [batched_case(run), independent_case(run)]


def format_cases(cases: list[CameraCase], what: str) -> str:
    lines = [
        what,
        "",
        "| case | cameras | fps per camera | frames/s detected | p50 ms | p99 ms | dropped | "
        "mean batch | GPU memory MiB | GPU ms per frame |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in cases:
        batch = "–" if c.mean_batch is None else f"{c.mean_batch:.2f}"
        memory = "–" if c.memory_mb is None else f"{c.memory_mb:.0f}"
        gpu = "–" if c.gpu_ms_per_frame is None else f"{c.gpu_ms_per_frame:.3f}"
        fps = "flat out" if c.fps <= 0 else f"{c.fps:g}"
        lines.append(
            f"| {c.name} | {c.cameras} | {fps} | {c.throughput:.1f} | {c.p50_ms:.2f} | "
            f"{c.p99_ms:.2f} | {c.dropped} | {batch} | {memory} | {gpu} |"
        )
    if len(cases) == 2 and cases[1].throughput > 0:
        ratio = cases[0].throughput / cases[1].throughput
        lines += ["", f"batched / independent throughput: {ratio:.2f}×"]
    if len(cases) == 2 and cases[0].gpu_ms_per_frame and cases[1].gpu_ms_per_frame:
        # frames per second of GPU time: what the GPU can serve once it is the bottleneck
        ratio = cases[1].gpu_ms_per_frame / cases[0].gpu_ms_per_frame
        lines += [f"batched / independent GPU-time throughput: {ratio:.2f}×"]
    return "\n".join(lines)
