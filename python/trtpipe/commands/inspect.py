"""``trtpipe inspect``: the IO table, profiles, precision and size of an engine or ONNX model."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from trtpipe.backends.base import Profile, TensorInfo
from trtpipe.errors import InputError
from trtpipe.samples import model_or_sample


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("inspect", help="IO table, profiles, precision and size of a model")
    p.add_argument("model", help="a .engine/.plan file, an .onnx model, or 'sample'")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=run)


def _onnx_summary(path: Path) -> dict[str, Any]:
    from trtpipe.onnx_model import read_onnx

    model = read_onnx(path)  # first: without the onnx package, one error saying what to install
    import onnx

    initializers = {i.name for i in model.graph.initializer}
    unknown_rank: list[str] = []

    def info(value: Any, is_input: bool) -> TensorInfo:
        kind = value.type.WhichOneof("value")
        if kind != "tensor_type":
            # a sequence, map or optional has no tensor shape or dtype; trtpipe runs tensors
            raise InputError(
                f"model: {path}: expected tensor inputs and outputs, given "
                f"{'input' if is_input else 'output'} {value.name!r} of type "
                f"{(kind or 'none').removesuffix('_type')}"
            )
        tensor_type = value.type.tensor_type
        if not tensor_type.HasField("shape"):
            unknown_rank.append(value.name)  # no shape at all, which is not a scalar's ()
        dims = tensor_type.shape.dim
        shape = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in dims)
        try:
            dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)
        except KeyError as exc:
            raise InputError(
                f"model: {path}: expected a known element type for {value.name!r}, given "
                f"{tensor_type.elem_type}"
            ) from exc
        return TensorInfo(value.name, shape, dtype, is_input)

    weight_types = Counter(
        onnx.helper.tensor_dtype_to_np_dtype(i.data_type).name for i in model.graph.initializer
    )
    quantized = any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node)
    inputs = [info(i, True) for i in model.graph.input if i.name not in initializers]
    outputs = [info(o, False) for o in model.graph.output]
    return {
        "kind": "onnx",
        "inputs": inputs,
        "outputs": outputs,
        "unknown_rank": unknown_rank,
        "profiles": [],
        "precision": ("int8 (Q/DQ) + " if quantized else "")
        + ", ".join(f"{k} weights x{v}" for k, v in weight_types.most_common()),
        "details": {
            "opset": ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import),
            "nodes": str(len(model.graph.node)),
        },
    }


def _engine_summary(path: Path) -> dict[str, Any]:
    from trtpipe.engine_info import describe_engine

    described = describe_engine(path)
    details = {"read from": described.source}
    metadata = described.metadata
    if metadata is not None:
        details.update(
            {
                "built by": f"{metadata.flavour} {metadata.flavour_version}",
                "target": metadata.target,
                "optimization": str(metadata.options.get("optimization")),
                "from": metadata.onnx_path,
                "build time": f"{metadata.build_seconds:.2f} s",
            }
        )
    for i, note in enumerate(described.notes):
        details[f"note {i + 1}"] = note
    return {
        "kind": "engine",
        "inputs": described.inputs,
        "outputs": described.outputs,
        "profiles": described.profiles,
        "precision": metadata.precision if metadata else "unknown (no sidecar)",
        "details": details,
    }


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join("?" if d < 0 else str(d) for d in shape)


def _profile_lines(profiles: list[Profile]) -> list[str]:
    lines = []
    for i, p in enumerate(profiles):
        for name in p.min:
            lines.append(
                f"  profile {i}  {name}: min {_shape(p.min[name])}  opt {_shape(p.opt[name])}  "
                f"max {_shape(p.max[name])}"
            )
    return lines


def run(args: argparse.Namespace) -> int:
    path = Path(model_or_sample(args.model))
    if not path.is_file():
        raise InputError(f"model: expected an existing file, given {str(path)!r}")
    summary = _onnx_summary(path) if path.suffix.lower() == ".onnx" else _engine_summary(path)
    summary["size"] = path.stat().st_size
    unknown_rank = set(summary.pop("unknown_rank", ()))
    if args.json:

        def tensor(t: TensorInfo) -> dict[str, Any]:
            shape = None if t.name in unknown_rank else list(t.shape)
            return {"name": t.name, "shape": shape, "dtype": str(t.dtype)}

        out = dict(summary)
        out["inputs"] = [tensor(t) for t in summary["inputs"]]
        out["outputs"] = [tensor(t) for t in summary["outputs"]]
        out["profiles"] = [
            {k: {n: list(s) for n, s in getattr(p, k).items()} for k in ("min", "opt", "max")}
            for p in summary["profiles"]
        ]
        print(json.dumps(out, indent=2))
        return 0
    print(f"{path.name}: {summary['kind']}, {summary['size'] / 2**20:.2f} MiB")
    print(f"  precision  {summary['precision']}")
    for key, value in summary["details"].items():
        print(f"  {key:<10} {value}")
    for t in summary["inputs"] + summary["outputs"]:
        kind = "input " if t.is_input else "output"
        shape = "unknown rank" if t.name in unknown_rank else _shape(t.shape)
        print(f"  {kind}  {t.name:<20} {shape:<20} {t.dtype}")
    for line in _profile_lines(summary["profiles"]):
        print(line)
    return 0
