"""ONNX models as PyTorch modules that CUDA graphs can capture.

onnx2torch converts the graph op by op. Two things then keep a detector export off a CUDA graph:
a dynamic-shape export computes its anchors from ``Shape``/``Range`` ops at run time, and ops
such as Reshape, Slice, Resize and Split read their shape-like inputs (constant tensors) on the
host, which is a device-to-host copy once the module sits on the GPU. So, before converting, the
dynamic axes are fixed (batch 1, the image size the model records) and ONNX Runtime folds the
shape arithmetic into constants; after converting, the constants that only ever feed those
shape-like inputs stay on the CPU as plain attributes, which ``module.to("cuda")`` leaves alone.

A model with a dynamic batch axis that must run batches (several cameras) is converted once per
batch bucket (1, 2, 4, ... up to the largest batch) into one module
(:func:`batch_buckets_module`): a batch runs on the smallest bucket that holds it, padded with
zeros, and the buckets share one set of weights.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# onnx2torch modules whose inputs after the first are shapes, indices or scales, read on the host
_SHAPE_INPUT_MODULES = frozenset(
    {
        "OnnxReshape",
        "OnnxSlice",
        "OnnxResize",
        "OnnxSplit13",
        "OnnxExpand",
        "OnnxTile",
        "OnnxUnsqueezeDynamicAxes",
        "OnnxSqueezeDynamicAxes",
        "OnnxPadDynamic",
        "OnnxConstantOfShape",
    }
)


def fix_input_shapes(proto: Any, image_size: tuple[int, int] | None, batch: int = 1) -> bool:
    """Sets dynamic input axes in place: ``batch``, H×W from ``image_size`` (width, height).
    Returns False (and changes nothing) where an axis would stay unknown."""
    fixed = []
    for inp in proto.graph.input:
        dims = inp.type.tensor_type.shape.dim
        values = []
        for axis, d in enumerate(dims):
            if d.HasField("dim_value") and d.dim_value > 0:
                values.append(d.dim_value)
            elif axis == 0:
                values.append(batch)
            elif image_size is not None and len(dims) == 4 and axis in (2, 3):
                values.append(image_size[1] if axis == 2 else image_size[0])
            else:
                return False
        fixed.append(values)
    for inp, values in zip(proto.graph.input, fixed, strict=True):
        for d, v in zip(inp.type.tensor_type.shape.dim, values, strict=True):
            d.ClearField("dim_param")
            d.dim_value = v
    for out in proto.graph.output:  # ONNX Runtime infers them again from the fixed inputs
        for d in out.type.tensor_type.shape.dim:
            d.ClearField("dim_param")
    return True


def fold_constants(proto: Any) -> Any:
    """The model with ONNX Runtime's basic graph optimisations (constant folding) applied."""
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        source, folded = Path(tmp) / "fixed.onnx", Path(tmp) / "folded.onnx"
        onnx.save(proto, str(source))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        return onnx.load(str(folded))


def keep_shape_constants_on_host(module: Any) -> int:
    """Turns the constant tensors that only feed shape-like inputs into plain attributes, so
    moving the module to a GPU leaves them on the CPU. Returns how many were moved."""
    moved = 0
    users: dict[Any, list[tuple[Any, int]]] = {}
    for node in module.graph.nodes:
        # keyword arguments (Resize passes scales so) are never the data input
        args = [*enumerate(node.args), *((1, v) for v in node.kwargs.values())]
        for position, arg in args:
            if getattr(arg, "op", None) == "get_attr":
                users.setdefault(arg, []).append((node, position))
    for const, uses in users.items():
        shape_like = all(
            node.op == "call_module"
            and position > 0
            and type(module.get_submodule(node.target)).__name__ in _SHAPE_INPUT_MODULES
            for node, position in uses
        )
        if not shape_like or len(const.users) != len(uses):
            continue
        parent_name, _, name = const.target.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        tensor = parent._buffers.pop(name, None)
        if tensor is None:
            continue
        setattr(parent, name, tensor.cpu())
        moved += 1
    return moved


def onnx_input_dtypes(proto: Any) -> dict[str, np.dtype]:
    """NumPy's dtype of each graph input (token ids are int64, images float32, ...)."""
    from onnx.helper import tensor_dtype_to_np_dtype

    return {
        i.name: np.dtype(tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type))
        for i in proto.graph.input
    }


def has_dynamic_batch(proto: Any) -> bool:
    """Whether every graph input has a dynamic first (batch) axis."""
    inputs = list(proto.graph.input)
    return bool(inputs) and all(
        len(i.type.tensor_type.shape.dim) > 0 and not i.type.tensor_type.shape.dim[0].dim_value > 0
        for i in inputs
    )


def batch_buckets(max_batch: int) -> list[int]:
    """The batch sizes a model is converted at to run batches of up to ``max_batch``: powers
    of two below it, and it."""
    buckets = [1]
    while buckets[-1] * 2 < max_batch:
        buckets.append(buckets[-1] * 2)
    return buckets if max_batch == 1 else [*buckets, max_batch]


def convert_onnx(
    path: str | Path, image_size: tuple[int, int] | None, max_batch: int = 1
) -> tuple[Any, Any]:
    """(torch module, the ONNX proto it came from), made capturable where the sizes are known.
    With ``max_batch`` > 1, a dynamic batch axis and known image sizes, a
    :func:`batch_buckets_module` of the model at each of :func:`batch_buckets`, and the proto
    with its batch axis left dynamic."""
    from trtpipe.onnx_model import read_onnx

    proto = read_onnx(path, external_data=True)
    if max_batch == 1 or not has_dynamic_batch(proto):
        return _convert(proto, image_size, 1, path)
    modules = {}
    for batch in batch_buckets(max_batch):
        bucket = type(proto)()
        bucket.CopyFrom(proto)  # the file read once; each bucket fixes its own copy
        modules[batch], fixed = _convert(bucket, image_size, batch, path)
        if batch == 1 and has_dynamic_batch(fixed):  # sizes unknown: one dynamic module
            return modules[batch], fixed
    for inp, fixed_inp in zip(proto.graph.input, fixed.graph.input, strict=True):
        dims = list(inp.type.tensor_type.shape.dim)
        for d, f in zip(dims[1:], list(fixed_inp.type.tensor_type.shape.dim)[1:], strict=True):
            d.ClearField("dim_param")  # the image size, as every bucket has it
            d.dim_value = f.dim_value
    return batch_buckets_module(modules), proto


def _convert(
    proto: Any, image_size: tuple[int, int] | None, batch: int, path: str | Path
) -> tuple[Any, Any]:
    from onnx2torch import convert

    if fix_input_shapes(proto, image_size, batch):
        try:
            proto = fold_constants(proto)
        except ImportError:
            log.info("onnxruntime missing: %s converts with its shape ops unfolded", path)
    else:
        log.info("%s: input size unknown, converted with dynamic axes (no CUDA graph)", path)
    module = convert(proto)
    moved = keep_shape_constants_on_host(module)
    log.debug("%s at batch %d: %d shape constants kept on the host", path, batch, moved)
    return module, proto


def _batch_buckets_module() -> type:
    import torch

    class _BatchBuckets(torch.nn.Module):
        """One model converted at several fixed batch sizes: ``forward`` runs a batch on the
        smallest bucket that holds it, its rows padded with zeros, and returns the batch's own
        rows of every output. Weights equal across buckets are one tensor."""

        def __init__(self, modules: dict[int, Any]) -> None:
            super().__init__()
            self.batch_sizes = sorted(modules)
            first = modules[self.batch_sizes[0]]
            shared = {**dict(first.named_parameters()), **dict(first.named_buffers())}
            for size in self.batch_sizes[1:]:
                _share_tensors(modules[size], shared)
            self.buckets = torch.nn.ModuleList(modules[size] for size in self.batch_sizes)

        def forward(self, *inputs: Any) -> Any:
            rows = int(inputs[0].shape[0])
            fits = [k for k, size in enumerate(self.batch_sizes) if size >= rows]
            if not fits:
                raise ValueError(
                    f"batch: expected at most {self.batch_sizes[-1]} rows (the largest bucket), "
                    f"given {rows}"
                )
            size, module = self.batch_sizes[fits[0]], self.buckets[fits[0]]
            if size > rows:
                inputs = tuple(
                    torch.cat([x, x.new_zeros((size - rows, *x.shape[1:]))]) for x in inputs
                )
            out = module(*inputs)
            if size == rows:
                return out
            if isinstance(out, dict):
                return {k: v[:rows] for k, v in out.items()}
            if isinstance(out, (tuple, list)):
                return type(out)(v[:rows] for v in out)
            return out[:rows]

    return _BatchBuckets


def _share_tensors(module: Any, shared: dict[str, Any]) -> None:
    """Points ``module``'s parameters and buffers at the equal ones in ``shared`` (by name)."""
    import torch

    for kind, named in (
        ("_parameters", module.named_parameters),
        ("_buffers", module.named_buffers),
    ):
        for name, tensor in list(named()):
            other = shared.get(name)
            if (
                other is None
                or other.shape != tensor.shape
                or other.dtype != tensor.dtype
                or not torch.equal(other, tensor)
            ):
                continue
            parent_name, _, leaf = name.rpartition(".")
            parent = module.get_submodule(parent_name) if parent_name else module
            getattr(parent, kind)[leaf] = other


def batch_buckets_module(modules: dict[int, Any]) -> Any:
    """A module running batches on ``modules`` (batch size -> the model fixed at it): the
    torch class is made here, so importing this file needs no torch."""
    return _batch_buckets_module()(modules)
