"""``trtpipe build``: ONNX model -> TensorRT engine file (or an engine cache entry)."""

from __future__ import annotations

import argparse

from trtpipe.commands.shapes import parse_shapes
from trtpipe.samples import model_or_sample


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from trtpipe.build import OPTIMIZATION_LEVELS, PRECISIONS

    p = subparsers.add_parser("build", help="build a TensorRT engine from an ONNX model")
    p.add_argument("onnx", help="the ONNX model, or 'sample'")
    p.add_argument("-o", "--output", help="engine file to write (default: the engine cache)")
    p.add_argument("--precision", choices=PRECISIONS, help="default: the optimisation level's")
    p.add_argument(
        "--optimization", choices=list(OPTIMIZATION_LEVELS), default="balanced", help="%(default)s"
    )
    p.add_argument("--batch", help="dynamic batch range MIN:OPT:MAX, e.g. 1:4:8")
    p.add_argument(
        "--shape",
        action="append",
        metavar="NAME=DxD..",
        help="fix an input's other dynamic axes, e.g. images=-1x3x640x640 (repeatable)",
    )
    p.add_argument(
        "--workspace",
        type=int,
        metavar="MIB",
        help="builder workspace limit in MiB, >= 1 (default: no limit)",
    )
    p.add_argument("--timing-cache", help="timing cache file, read and updated")
    p.add_argument("--calibration", metavar="DIR", help="INT8 calibration images")
    p.add_argument(
        "--target",
        action="append",
        metavar="CC",
        help="TensorRT-RTX target compute capability, e.g. 8.6 (repeatable; default: this GPU, "
        "else all)",
    )
    p.add_argument("--cache-dir", help="engine cache folder (when no --output is given)")
    p.add_argument("--no-progress", action="store_true", help="no progress display")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from trtpipe.build import build_engine
    from trtpipe.engine_cache import EngineCache
    from trtpipe.errors import InputError

    # checked in MiB here: 0 is not "no limit" (leave the flag out for that), and the API's
    # message would count a negative value in bytes
    if args.workspace is not None and args.workspace < 1:
        raise InputError(f"--workspace: expected a size in MiB >= 1, given {args.workspace}")
    common = {
        "precision": args.precision,
        "profiles": args.batch,
        "optimization": args.optimization,
        "workspace": args.workspace << 20 if args.workspace is not None else None,
        "calibration": args.calibration,
        "shapes": parse_shapes(args.shape),
        "compute_capabilities": args.target,
        "progress": False if args.no_progress else None,
    }
    args.onnx = model_or_sample(args.onnx)
    if args.output:
        built = build_engine(
            args.onnx, timing_cache=args.timing_cache, output=args.output, **common
        )
        metadata, path, seconds = built.metadata, built.path, built.seconds
    else:
        cached = EngineCache(args.cache_dir).get_or_build(args.onnx, **common)
        metadata, path = cached.metadata, cached.path
        seconds = metadata.build_seconds if cached.built else 0.0
    print(f"engine     {path}")
    print(f"built by   {metadata.flavour} {metadata.flavour_version} for {metadata.target}")
    print(f"precision  {metadata.precision} ({metadata.options['optimization']})")
    print(f"size       {metadata.engine_bytes / 2**20:.2f} MiB")
    print(f"build time {seconds:.2f} s" if seconds else "build time 0 s (cached)")
    return 0
