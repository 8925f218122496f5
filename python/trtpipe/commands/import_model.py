"""``trtpipe import darknet``: a Darknet model (cfg + weights) -> an ONNX file the other commands
take."""

from __future__ import annotations

import argparse
from pathlib import Path

from trtpipe.commands.shapes import parse_size
from trtpipe.errors import InputError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("import", help="convert a model from another format to ONNX")
    formats = p.add_subparsers(dest="format", required=True)
    d = formats.add_parser(
        "darknet",
        help="a Darknet YOLO (v3, v4, their tiny forms) cfg + weights",
        description="Darknet cfg + weights to ONNX with the [yolo] heads decoded in the graph: "
        "output [batch, N, 5 + classes] (cx, cy, w, h, objectness, class probabilities), "
        "class names in the metadata.",
    )
    d.add_argument("cfg", type=Path, help="the .cfg file")
    d.add_argument("weights", type=Path, help="the .weights file")
    d.add_argument("--names", type=Path, help="class names, one per line (e.g. coco.names)")
    d.add_argument(
        "-o", "--output", type=Path, help="the ONNX file to write (default: CFG's name, .onnx)"
    )
    d.add_argument("--input-size", metavar="WxH", help="network input (default: the cfg's [net])")
    d.add_argument("--force", action="store_true", help="overwrite an existing output file")
    d.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from trtpipe.darknet import darknet_to_onnx
    from trtpipe.model_metadata import class_names, image_size, onnx_metadata

    output = args.output or Path(args.cfg.stem + ".onnx")
    if output.exists() and not args.force:
        raise InputError(f"import: {output} exists; pass --force to overwrite it")
    for path in (args.cfg, args.weights, args.names):
        if path is not None and not path.is_file():
            raise InputError(f"import: {path} does not exist")
    size = parse_size(args.input_size, "--input-size") if args.input_size else None
    darknet_to_onnx(args.cfg, args.weights, args.names, output, input_size=size)
    metadata = onnx_metadata(output)
    names = class_names(metadata) or []
    width, height = image_size(metadata) or (0, 0)
    print(f"wrote      {output} ({output.stat().st_size / 2**20:.1f} MiB)")
    print(f"input      images [batch, 3, {height}, {width}] RGB 0..1")
    print(f"classes    {len(names)}: {', '.join(names[:5])}{', ...' if len(names) > 5 else ''}")
    return 0
