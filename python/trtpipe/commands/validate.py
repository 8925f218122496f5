"""``trtpipe validate``: a built engine (or any backend) against ONNX Runtime FP32."""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict

from trtpipe.commands.shapes import parse_shapes
from trtpipe.samples import model_or_sample

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
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
    p.add_argument("--precision", help="build precision when the candidate is built from ONNX")
    p.add_argument("--batch", type=int, default=1, help="batch size of the inputs (%(default)s)")
    p.add_argument("--shape", action="append", metavar="NAME=DxD..", help="input shape")
    p.add_argument("--seed", type=int, default=0, help="random input seed (%(default)s)")
    p.add_argument(
        "--threshold",
        type=float,
        default=1e-2,
        help="largest allowed max error relative to the output's range (%(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from trtpipe.backends.loader import load
    from trtpipe.backends.onnxruntime import OnnxRuntimeEngine
    from trtpipe.validate import make_inputs, validate

    args.onnx = model_or_sample(args.onnx)
    reference = OnnxRuntimeEngine(args.onnx, device="cpu")
    build = {"precision": args.precision} if args.precision else {}
    if args.candidate:
        candidate = load(args.candidate, backend=args.backend, device=args.device)
    else:
        candidate = load(args.onnx, backend=args.backend, device=args.device, **build)
    inputs = make_inputs(reference.inputs, args.batch, parse_shapes(args.shape), args.seed)
    report = validate(reference, candidate, inputs, args.threshold)
    if args.json:
        print(json.dumps({**asdict(report), "passed": report.passed}, indent=2))
    else:
        print(f"reference {report.reference}   candidate {report.candidate}")
        for o in report.outputs:
            flag = "  <-- beyond threshold" if o.relative > report.threshold else ""
            print(
                f"  {o.name:<20} max abs {o.max_abs:.4g}  mean abs {o.mean_abs:.4g}  "
                f"relative {o.relative:.3g}{flag}"
            )
        for i, d in enumerate(report.detections):
            print(
                f"  image {i} ({d.format}): reference {d.reference_count} detections, candidate "
                f"{d.candidate_count}, {d.matched} of the reference's matched"
            )
        for note in report.notes:
            print(f"  note: {note}")
        verdict = "PASSED" if report.passed else "FAILED: ACCURACY BEYOND THRESHOLD"
        print(f"{verdict} (threshold {report.threshold:g})")
    return 0 if report.passed else 1
