"""``trtpipe demo``: the sample detector on the sample images, no arguments needed; annotated
images go to ./trtpipe-demo/."""

from __future__ import annotations

import argparse
import json
from typing import Any

from trtpipe.backends.loader import BACKEND_HELP
from trtpipe.commands.detect import output_folder, run_frames
from trtpipe.detector import Detector
from trtpipe.samples import sample_images, sample_model

DEFAULT_OUT = "trtpipe-demo"


def _cmd_demo(args: argparse.Namespace) -> int:
    out = output_folder(args.out, "--out")
    model = sample_model()
    det = Detector(model, backend=args.backend, device=args.device, conf=args.conf)
    if not args.json:
        print(
            f"model: {model} ({det.engine.backend}, input {det.input_size[0]}x{det.input_size[1]})"
        )
    images = sample_images()
    frames = ((f"{name}.png", image) for name, image in images)
    summary = run_frames(
        det, frames, total=len(images), save_dir=out, as_json=args.json, progress=False
    )
    if args.json:
        print(json.dumps({"summary": summary.to_dict(), "annotated": str(out)}))
    else:
        print(summary.format())
        print(f"annotated images in {out}/")
    return 0


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo", help="detect objects in the sample images with the sample model (YOLOv4-tiny, COCO)"
    )
    p.add_argument("--out", default=DEFAULT_OUT, help=f"where to write (default ./{DEFAULT_OUT})")
    p.add_argument("--json", action="store_true", help="JSON lines instead of text")
    p.add_argument("--backend", default="auto", help=BACKEND_HELP)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--conf", type=float, default=0.25)
    p.set_defaults(func=_cmd_demo, handler=_cmd_demo)
