"""``trtpipe validate``: a built engine (or any backend or precision) against ONNX Runtime FP32
on real images: output error and detection agreement."""

from __future__ import annotations

import argparse
import filecmp
import json
import logging
from dataclasses import asdict
from pathlib import Path

from trtpipe.commands.shapes import parse_shapes
from trtpipe.errors import InputError
from trtpipe.samples import model_or_sample

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from trtpipe.build import PRECISIONS

    p = subparsers.add_parser(
        "validate", help="compare an engine or backend with ONNX Runtime FP32 on the same inputs"
    )
    p.add_argument(
        "onnx", help="the ONNX model, or 'sample' (the FP32 reference runs it on the CPU)"
    )
    p.add_argument(
        "--candidate",
        "--engine",
        dest="candidate",
        help="the model to check: a built engine or any model file, e.g. an fp16 ONNX "
        "(default: the ONNX model itself, on --backend)",
    )
    p.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "tensorrt", "onnxruntime", "torch"],
        help="backend for the candidate when no --engine is given (%(default)s)",
    )
    p.add_argument("--device", help="candidate device: cpu, cuda, cuda:N (default: auto)")
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="build precision when the candidate is built from ONNX",
    )
    p.add_argument(
        "--images",
        metavar="PATH",
        help="an image, a folder of images or a video to compare on (default: the sample images)",
    )
    p.add_argument(
        "--random",
        action="store_true",
        help="seeded random inputs instead of images (outputs only: no detections to compare)",
    )
    p.add_argument("--batch", type=int, default=1, help="batch size of the inputs (%(default)s)")
    p.add_argument("--shape", action="append", metavar="NAME=DxD..", help="input shape (--random)")
    p.add_argument("--seed", type=int, default=0, help="random input seed (%(default)s)")
    p.add_argument(
        "--threshold",
        type=float,
        default=1e-2,
        help="largest allowed max error relative to the output's range (%(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=run)


def _same_model(reference: str, candidate: str) -> bool:
    a, b = Path(reference), Path(candidate)
    return a.resolve() == b.resolve() or (
        a.is_file() and b.is_file() and filecmp.cmp(a, b, shallow=False)
    )


def _image_model(engine) -> bool:
    """One input of a layout the Detector feeds images to (NCHW or NHWC, 3 channels)."""
    from trtpipe.detector import _input_layout
    from trtpipe.errors import EngineError

    if len(engine.inputs) != 1:
        return False
    try:
        _input_layout(engine.inputs[0])
    except EngineError:
        return False
    return True


def _images(path: str | None):
    if path is not None:
        from trtpipe.commands.frames import open_source

        frames = []
        for name, image in open_source(path).frames():
            if isinstance(image, InputError):
                log.error("%s: skipped: %s", name, image)
            else:
                frames.append((name, image))
        return frames
    from trtpipe.errors import BackendUnavailableError
    from trtpipe.samples import sample_images

    try:
        return [(f"{name}.png", image) for name, image in sample_images()]
    except BackendUnavailableError as exc:
        raise InputError(
            f"validate: no images to compare on ({exc}); give --images PATH or --random"
        ) from None


def run(args: argparse.Namespace) -> int:
    from trtpipe.backends.loader import load
    from trtpipe.backends.onnxruntime import OnnxRuntimeEngine
    from trtpipe.validate import image_inputs, make_inputs, validate

    # The arguments first: loading (or building) the models may take long.
    if args.batch < 1:
        raise InputError(f"--batch: expected >= 1, given {args.batch}")
    shapes = parse_shapes(args.shape)
    if args.images is not None:
        from trtpipe.commands.frames import open_source

        open_source(args.images)
    args.onnx = model_or_sample(args.onnx)
    model = args.candidate or args.onnx
    for option, path in (("onnx", args.onnx), ("--candidate", model)):
        if not Path(path).is_file():
            raise InputError(f"{option}: expected an existing model file, given {path!r}")
    reference = OnnxRuntimeEngine(args.onnx, device="cpu")
    build = {"precision": args.precision} if args.precision else {}
    candidate = load(model, backend=args.backend, device=args.device, **build)
    if args.precision and candidate.backend != "tensorrt":
        raise InputError(
            f"--precision {args.precision}: only a TensorRT build changes the precision, and the "
            f"candidate runs on {candidate.backend}; give --backend tensorrt, or a converted "
            "model (e.g. an fp16 ONNX) as --candidate"
        )
    if (
        candidate.backend == reference.backend
        and candidate.device == reference.device
        and _same_model(args.onnx, model)
    ):
        raise InputError(
            f"validate: the candidate is the reference itself ({reference.backend} on "
            f"{reference.device}, the same model file): nothing to compare; give --candidate "
            "an engine or another model, or --backend tensorrt or torch"
        )
    if args.random or not _image_model(reference):
        inputs = make_inputs(reference.inputs, args.batch, shapes, args.seed)
    else:
        fixed = reference.inputs[0].shape[0]
        inputs = image_inputs(args.onnx, _images(args.images), fixed if fixed > 0 else args.batch)
    report = validate(reference, candidate, inputs, args.threshold)
    if args.json:
        detections = [
            {**asdict(d), "missed": d.missed, "extra": d.extra} for d in report.detections
        ]
        summary = {**asdict(report), "detections": detections}
        print(json.dumps({**summary, "verdict": report.verdict, "passed": report.passed}, indent=2))
    else:
        _print_report(report)
    return {"passed": 0, "failed": 1}.get(report.verdict, 3)


def _print_report(report) -> None:
    print(f"reference {report.reference}   candidate {report.candidate}")
    for o in report.outputs:
        flag = "  <-- beyond threshold" if o.relative > report.threshold else ""
        print(
            f"  {o.name:<20} max abs {o.max_abs:.4g}  mean abs {o.mean_abs:.4g}  "
            f"relative {o.relative:.3g}{flag}"
        )
    for i, d in enumerate(report.detections):
        print(
            f"  {d.source or f'input {i}'} ({d.format}): reference {d.reference_count}, "
            f"candidate {d.candidate_count}, matched {d.matched} (mean IoU {d.mean_iou:.3f}, "
            f"score drift {d.score_drift:.3g}), missed {d.missed}, extra {d.extra}"
        )
    for note in report.notes:
        print(f"  note: {note}")
    if report.verdict == "inconclusive":
        print(
            "NOT VALIDATED: the reference found no detections on these inputs, so none were "
            "compared; use images that show objects (--images)"
        )
    elif report.verdict == "failed":
        print(f"FAILED: ACCURACY BEYOND THRESHOLD (threshold {report.threshold:g})")
    else:
        print(
            f"PASSED (threshold {report.threshold:g}; {report.compared} reference detections "
            "compared)"
            if report.detector
            else f"PASSED (threshold {report.threshold:g}; outputs only, not a detector)"
        )
