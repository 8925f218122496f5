"""ONNX models as PyTorch modules that CUDA graphs can capture.

onnx2torch converts the graph op by op. Two things then keep a detector export off a CUDA graph:
a dynamic-shape export computes its anchors from ``Shape``/``Range`` ops at run time, and ops
such as Reshape, Slice, Resize and Split read their shape-like inputs (constant tensors) on the
host, which is a device-to-host copy once the module sits on the GPU. So, before converting, the
dynamic axes are fixed (batch 1, the image size the model records) and ONNX Runtime folds the
shape arithmetic into constants; after converting, the constants that only ever feed those
shape-like inputs stay on the CPU as plain attributes, which ``module.to("cuda")`` leaves alone.
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


def fix_input_shapes(proto: Any, image_size: tuple[int, int] | None) -> bool:
    """Sets dynamic input axes in place: batch 1, H×W from ``image_size`` (width, height).
    Returns False (and changes nothing) where an axis would stay unknown."""
    fixed = []
    for inp in proto.graph.input:
        dims = inp.type.tensor_type.shape.dim
        values = []
        for axis, d in enumerate(dims):
            if d.HasField("dim_value") and d.dim_value > 0:
                values.append(d.dim_value)
            elif axis == 0:
                values.append(1)
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


def convert_onnx(path: str | Path, image_size: tuple[int, int] | None) -> tuple[Any, Any]:
    """(torch module, the ONNX proto it came from), made capturable where the sizes are known."""
    import onnx
    from onnx2torch import convert

    proto = onnx.load(str(path))
    if fix_input_shapes(proto, image_size):
        try:
            proto = fold_constants(proto)
        except ImportError:
            log.info("onnxruntime missing: %s converts with its shape ops unfolded", path)
    else:
        log.info("%s: input size unknown, converted with dynamic axes (no CUDA graph)", path)
    module = convert(proto)
    moved = keep_shape_constants_on_host(module)
    log.debug("%s: %d shape constants kept on the host", path, moved)
    return module, proto
