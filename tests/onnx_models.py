"""Small ONNX models made with onnx.helper, and NumPy implementations of the same maths."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np


def conv_net_weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "w1": (rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(np.float32),
        "b1": (rng.standard_normal(8) * 0.1).astype(np.float32),
        "w2": (rng.standard_normal((4, 8, 1, 1)) * 0.3).astype(np.float32),
    }


def write_conv_net(path: Path, batch: int | str = 1, size: int = 16, seed: int = 0) -> Path:
    """Conv3x3(pad 1) + bias -> ReLU -> Conv1x1: input "x" [batch,3,size,size], output "y"."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = conv_net_weights(seed)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "conv_net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 4, size, size])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, pad: int) -> np.ndarray:
    """Direct NCHW convolution, stride 1 (the definition, written out)."""
    n, _, h, width = x.shape
    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))).astype(np.float64)
    out_h, out_w = h + 2 * pad - k + 1, width + 2 * pad - k + 1
    out = np.zeros((n, w.shape[0], out_h, out_w))
    for dy in range(k):
        for dx in range(k):
            patch = xp[:, :, dy : dy + out_h, dx : dx + out_w]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, dy, dx].astype(np.float64))
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def conv_net_reference(x: np.ndarray, seed: int = 0) -> np.ndarray:
    weights = conv_net_weights(seed)
    hidden = np.maximum(conv2d(x, weights["w1"], weights["b1"], pad=1), 0.0)
    return conv2d(hidden, weights["w2"], None, pad=0)


def detector_model() -> Path | None:
    """The YOLOv8n detector (MIT) that the nudenet package ships, or None when not installed."""
    spec = importlib.util.find_spec("nudenet")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "320n.onnx"
    return path if path.is_file() else None
