"""``trtpipe bench``: the stage breakdown and sustained FPS of a model on this machine.

The tool to run before choosing a precision or an input size: it feeds frames of the camera's
size and encoding through :class:`trtpipe.Detector` (sequentially, then pipelined with
``submit``/``result``) and prints per-stage latency percentiles and the frame rate sustained.
With ``--cameras N`` it measures N cameras served by one BatchDetector against one Detector per
camera instead (:mod:`trtpipe.commands.bench_cameras`).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from trtpipe import _core
from trtpipe.backends.loader import BACKEND_HELP
from trtpipe.errors import InputError
from trtpipe.frames import FRAME_ENCODINGS, Frame, encode_frame, resize_nearest
from trtpipe.preprocess import PACKED_CHANNELS
from trtpipe.samples import model_or_sample

log = logging.getLogger("trtpipe.bench")


@dataclass(frozen=True)
class InputSpec:
    width: int
    height: int
    encoding: str


def parse_input_spec(text: str) -> InputSpec:
    """``1920x1080:bgr8`` → InputSpec(1920, 1080, "bgr8"); the encoding defaults to bgr8."""
    match = re.fullmatch(r"(\d+)[x×](\d+)(?::(\w+))?", text.strip())
    if not match:
        raise InputError(
            f"--input: expected WIDTHxHEIGHT[:ENCODING], e.g. 1920x1080:bgr8, given {text!r}"
        )
    width, height, encoding = int(match[1]), int(match[2]), match[3] or "bgr8"
    if width <= 0 or height <= 0:
        raise InputError(f"--input: expected a positive size, given {width}x{height}")
    if encoding not in FRAME_ENCODINGS:
        raise InputError(f"--input: expected an encoding in {FRAME_ENCODINGS}, given {encoding!r}")
    # the frame rule every input applies (sizes, row step, chroma parity), before any is made
    reason, message, _ = _core.frame_problem(encoding, width, height, 0, 4 * width * height)
    if reason is not None:
        raise InputError(f"--input: {message}")
    return InputSpec(width, height, encoding)


def _count_from(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``minimum``."""

    def integer(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, given {text}")
        return value

    return integer


def _rate(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, given {text}")
    return value


def make_frame(spec: InputSpec) -> Frame:
    """A frame with real content (a sample image scaled to the size), so decoding does real work."""
    from trtpipe.samples import sample_images

    _, image = sample_images()[0]
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return encode_frame(resize_nearest(image[..., :3], spec.width, spec.height), spec.encoding)


@dataclass(frozen=True)
class BenchResult:
    model: str
    backend: str
    input: str
    frames: int
    sequential_fps: float
    pipelined_fps: float
    stages_ms: dict[str, dict[str, float]]
    detections_last_frame: int


def _stage_table(snapshot) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for clock, stages in (("host", snapshot.host), ("gpu", snapshot.gpu)):
        for stage, stats in stages.items():
            if stats is not None:
                out[f"{stage} ({clock})"] = {
                    "p50": stats.p50_ms,
                    "p90": stats.p90_ms,
                    "p99": stats.p99_ms,
                    "max": stats.max_ms,
                    "mean": stats.mean_ms,
                }
    return out


class _Progress:
    """A rich progress bar over frames, on stderr, shown only where stderr is a terminal."""

    def __init__(self, total: int, description: str):
        from rich.console import Console
        from rich.progress import Progress

        self._progress = Progress(console=Console(stderr=True), transient=True)
        self._task = self._progress.add_task(description, total=total)

    def __enter__(self) -> _Progress:
        self._progress.start()
        return self

    def update(self) -> None:
        self._progress.advance(self._task)

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


def run_bench(model: str, spec: InputSpec, frames: int, warmup: int, backend: str) -> BenchResult:
    from trtpipe.detector import Detector
    from trtpipe.monitor import PerformanceMonitor

    if frames < 1:
        raise InputError(f"--frames: expected at least 1, given {frames}")
    frame = make_frame(spec)
    # The window holds exactly the timed frames, so the warm-up frames fall out of it.
    monitor = PerformanceMonitor(window=max(frames, 2))
    det = Detector(model, backend=backend, monitor=monitor)

    def one() -> int:
        dets = det.detect_bytes(frame.data, frame.width, frame.height, frame.encoding, frame.step)
        return len(dets)

    for _ in range(warmup):
        one()
    count = 0
    with _Progress(frames, "sequential") as bar:
        start = time.perf_counter()
        for _ in range(frames):
            count = one()
            bar.update()
        sequential = frames / (time.perf_counter() - start)
    stages = _stage_table(monitor.snapshot())

    packed = frame.encoding in PACKED_CHANNELS
    image = frame.as_image() if packed else None
    pipelined = float("nan")
    if image is not None:
        with _Progress(frames, "pipelined") as bar:
            start = time.perf_counter()
            pending = det.submit(image, encoding=frame.encoding)
            for _ in range(frames - 1):
                following = det.submit(image, encoding=frame.encoding)
                det.result(pending)
                pending = following
                bar.update()
            det.result(pending)
            bar.update()
            pipelined = frames / (time.perf_counter() - start)
    return BenchResult(
        model=str(model),
        backend=getattr(det, "backend", backend),
        input=f"{spec.width}x{spec.height}:{spec.encoding}",
        frames=frames,
        sequential_fps=sequential,
        pipelined_fps=pipelined,
        stages_ms=stages,
        detections_last_frame=count,
    )


def format_result(result: BenchResult) -> str:
    lines = [
        f"model {result.model} · backend {result.backend} · input {result.input} · "
        f"{result.frames} frames",
        "",
        "| stage | p50 ms | p90 ms | p99 ms | max ms | mean ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for stage, s in result.stages_ms.items():
        lines.append(
            f"| {stage} | {s['p50']:.3f} | {s['p90']:.3f} | {s['p99']:.3f} | {s['max']:.3f} "
            f"| {s['mean']:.3f} |"
        )
    lines += [
        "",
        f"sustained: {result.sequential_fps:.1f} FPS one frame at a time, "
        f"{result.pipelined_fps:.1f} FPS pipelined (submit/result)",
        f"detections in the last frame: {result.detections_last_frame}",
    ]
    return "\n".join(lines)


def _cmd_bench(args: argparse.Namespace) -> int:

    model = model_or_sample(args.model or "sample")
    spec = parse_input_spec(args.input)
    if args.cameras > 1:
        from trtpipe.commands.bench_cameras import CameraRun, format_cases, run_camera_bench

        run = CameraRun(
            model,
            make_frame(spec),
            args.cameras,
            args.frames,
            args.fps,
            args.max_wait_ms,
            args.backend,
        )
        cases = run_camera_bench(run)
        what = (
            f"model {model} · input {args.input} · {args.cameras} cameras · "
            f"{args.frames} frames each"
        )
        if args.json:
            print(json.dumps([asdict(c) | {"throughput": c.throughput} for c in cases], indent=2))
        else:
            print(format_cases(cases, what))
        return 0
    result = run_bench(model, spec, args.frames, args.warmup, args.backend)
    print(json.dumps(asdict(result), indent=2) if args.json else format_result(result))
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench", help="stage breakdown and sustained FPS of a model on this machine"
    )
    p.add_argument(
        "--model", help="ONNX file, engine or model, or 'sample' (the default: the sample detector)"
    )
    p.add_argument("--input", default="1920x1080:bgr8", help="camera frames, WIDTHxHEIGHT:ENCODING")
    p.add_argument(
        "--frames", type=_count_from(1), default=1000, help="frames to time (default 1000)"
    )
    p.add_argument(
        "--warmup", type=_count_from(0), default=20, help="untimed frames first (default 20)"
    )
    p.add_argument("--backend", default="auto", help=BACKEND_HELP)
    p.add_argument(
        "--cameras",
        type=_count_from(1),
        default=1,
        help="N > 1: N cameras sending --frames frames each, one BatchDetector against one "
        "Detector per camera",
    )
    p.add_argument(
        "--fps",
        type=_rate,
        default=0.0,
        help="with --cameras: frames per second per camera "
        "(default 0: flat out, each camera sending its next frame when the last came back)",
    )
    p.add_argument(
        "--max-wait-ms",
        type=_rate,
        default=5.0,
        help="with --cameras: how long a batch waits for more frames (default 5)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=_cmd_bench)
