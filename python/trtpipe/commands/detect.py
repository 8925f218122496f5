"""``trtpipe detect <image|folder|video> --model ...``: detections per frame, optionally
annotated copies and JSON lines, and a latency summary per stage."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from trtpipe.backends.loader import BACKEND_HELP
from trtpipe.commands.frames import open_source
from trtpipe.decode.detections import Detections
from trtpipe.detector import Detector
from trtpipe.errors import InputError
from trtpipe.samples import model_or_sample

log = logging.getLogger("trtpipe")
STAGES = ("preprocess", "inference", "postprocess", "end_to_end")


@dataclass
class Summary:
    frames: int = 0
    detections: int = 0
    skipped: list[str] = field(default_factory=list)  # frames that could not be read or run
    timings: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})

    def add(self, dets: Detections, timings: dict[str, float]) -> None:
        self.frames += 1
        self.detections += len(dets)
        for stage in STAGES:
            if stage in timings:
                self.timings[stage].append(timings[stage])

    def to_dict(self) -> dict[str, Any]:
        stages = {}
        for stage, values in self.timings.items():
            if values:
                p50, p99 = np.percentile(values, (50, 99))
                stages[stage] = {"p50_ms": round(float(p50), 3), "p99_ms": round(float(p99), 3)}
        return {
            "frames": self.frames,
            "detections": self.detections,
            "skipped": list(self.skipped),
            "latency": stages,
        }

    def format(self) -> str:
        d = self.to_dict()
        lines = [f"{_count(d['frames'], 'frame')}, {_count(d['detections'], 'detection')}"]
        if d["skipped"]:
            lines[0] += f", {_count(len(d['skipped']), 'file')} skipped: {', '.join(d['skipped'])}"
        for stage, v in d["latency"].items():
            lines.append(f"  {stage:<12} p50 {v['p50_ms']:8.2f} ms   p99 {v['p99_ms']:8.2f} ms")
        return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    """ "1 frame", "2 frames"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _progress(total: int | None, enabled: bool):
    """A rich progress bar on stderr where rich is installed and the run has several frames."""
    if not enabled:
        return None
    try:
        from rich.console import Console
        from rich.progress import Progress
    except ImportError:
        return None
    return Progress(console=Console(file=sys.stderr), transient=True), total


def describe(name: str, dets: Detections) -> str:
    found = ", ".join(
        f"{label} {score:.2f} [{', '.join(f'{v:.0f}' for v in box)}]"
        for label, score, box in zip(dets.class_names(), dets.scores, dets.boxes, strict=True)
    )
    return f"{name}: {len(dets)} detection{'s' if len(dets) != 1 else ''}" + (
        f": {found}" if found else ""
    )


def run_frames(
    det: Detector,
    frames: Iterable[tuple[str, np.ndarray | InputError]],
    *,
    total: int | None,
    save_dir: Path | None,
    as_json: bool,
    progress: bool,
    out: TextIO | None = None,
    video: tuple[str, float] | None = None,
) -> Summary:
    """Runs every frame, prints one line (or JSON line) each, saves annotated copies."""
    from trtpipe.annotate import draw

    out = out or sys.stdout
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)  # a path that cannot be a folder: fail first
    summary = Summary()
    writer = None
    bar = _progress(total, progress)
    task = None
    if bar is not None:
        bar[0].start()
        task = bar[0].add_task("detecting", total=bar[1])
    try:
        for name, image in frames:
            try:
                if isinstance(image, InputError):
                    raise image
                dets = det(image)
            except InputError as exc:  # this file is bad input; the others still run
                summary.skipped.append(name)
                log.error("%s: skipped: %s", name, exc)
                if as_json:
                    out.write(json.dumps({"source": name, "skipped": str(exc)}) + "\n")
                if bar is not None:
                    bar[0].advance(task)
                continue
            summary.add(dets, det.last_timings)
            if as_json:
                record = {"source": name, "detections": dets.to_dicts()}
                out.write(json.dumps(record) + "\n")
            elif bar is None or video is None:
                out.write(describe(name, dets) + "\n")
            if save_dir is not None:
                annotated = draw(image, dets)
                if video is not None:
                    writer = writer or _video_writer(save_dir, video, annotated.shape)
                    writer.write(annotated)
                else:  # the source's own name: x.jpg and x.png never overwrite each other
                    _write_image(save_dir / name, annotated)
            if bar is not None:
                bar[0].advance(task)
    finally:
        if bar is not None:
            bar[0].stop()
        if writer is not None:
            writer.release()
    return summary


def _write_image(path: Path, image: np.ndarray) -> None:
    from trtpipe.annotate import _cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        log.warning("%s exists: overwritten by this run's annotated image", path)
    if not _cv2().imwrite(str(path), image):
        raise OSError(f"could not write {path}")


def _video_writer(save_dir: Path, video: tuple[str, float], shape: tuple[int, ...]):
    from trtpipe.annotate import _cv2

    cv2 = _cv2()
    save_dir.mkdir(parents=True, exist_ok=True)
    path = save_dir / f"{video[0]}.mp4"
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*"mp4v"), video[1], (shape[1], shape[0])
    )
    if not writer.isOpened():
        raise OSError(f"could not open {path} for writing")
    return writer


def detector_from_args(args: argparse.Namespace) -> Detector:
    return Detector(
        model_or_sample(args.model),
        backend=args.backend,
        input_size=args.input_size,
        conf=args.conf,
        iou=args.iou,
        max_detections=args.max_detections,
        classes=args.classes,
        decoder=args.decoder,
        device=args.device,
    )


def output_folder(path: str, flag: str) -> Path:
    """Where annotated copies go, refused before any model loads if it cannot be a folder."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{flag}: expected a folder (new or existing), given the file {folder}")
    return folder


def _cmd_detect(args: argparse.Namespace) -> int:
    source = open_source(args.source)
    save = output_folder(args.save, "--save") if args.save else None
    det = detector_from_args(args)
    summary = run_frames(
        det,
        source.frames(),
        total=source.count,
        save_dir=save,
        as_json=args.json,
        progress=source.kind != "image" and not args.no_progress,
        video=(source.path.stem, source.fps) if source.kind == "video" else None,
    )
    if args.json:
        print(json.dumps({"summary": summary.to_dict()}))
    else:
        print(summary.format())
        if save is not None:
            print(f"annotated output in {save}/")
    return 1 if summary.skipped else 0


def add_detector_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="auto", help=BACKEND_HELP)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--conf", type=float, default=0.25, help="confidence threshold")
    parser.add_argument("--iou", type=float, default=0.45, help="NMS IoU threshold")
    parser.add_argument("--max-detections", type=int, default=300)
    parser.add_argument(
        "--classes", type=int, nargs="+", default=None, help="keep only these class ids"
    )
    parser.add_argument(
        "--input-size",
        type=int,
        nargs=2,
        metavar=("W", "H"),
        default=None,
        help="network input size for models with a dynamic input",
    )
    parser.add_argument("--decoder", default="auto", help="output format (default: detected)")


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "detect", help="run a detector on an image, a folder of images or a video"
    )
    p.add_argument("source", help="image file, folder of images, or video file")
    p.add_argument("--model", required=True, help="model file (ONNX, engine, ...) or 'sample'")
    p.add_argument("--save", metavar="DIR", help="write annotated images (or video) here")
    p.add_argument("--json", action="store_true", help="one JSON line per frame, then a summary")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_detector_options(p)
    p.set_defaults(func=_cmd_detect, handler=_cmd_detect)
