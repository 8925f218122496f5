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


def coco_model() -> Path:
    """The sample model (YOLOv4-tiny COCO, made from its Darknet files on first use), or a
    skip with the reason; a failure where scripts/test.sh made it beforehand
    (TRTPIPE_EXPECT_SAMPLE=1)."""
    import os

    import pytest

    from trtpipe.errors import BackendUnavailableError
    from trtpipe.samples import sample_model

    try:
        return sample_model()
    except BackendUnavailableError as exc:
        if os.environ.get("TRTPIPE_EXPECT_SAMPLE") == "1":
            raise
        pytest.skip(f"the sample model is not available: {exc}")


#: the vocabulary of the VLA test model's tokenizer, and each word's (forward, turn) push
VLA_VOCAB = {"[PAD]": 0, "[UNK]": 1, "go": 2, "left": 3, "right": 4, "stop": 5, "slowly": 6}
VLA_EMBEDDING = np.array(
    [[0, 0], [0, 0], [0.3, 0], [0, 0.5], [0, -0.5], [-0.3, 0], [-0.1, 0]], np.float32
)
VLA_STATE_WEIGHTS = np.array([[0.5, 0.0], [0.0, 0.5]], np.float32)
VLA_GRIPPER_WEIGHTS = np.array([[0.0, 1.0]], np.float32)


def write_vla_tokenizer(path: Path) -> Path:
    """A real tokenizer.json (Hugging Face tokenizers: word level, whitespace split)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(models.WordLevel(VLA_VOCAB, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(path))
    return path


def write_vla_model(path: Path, length: int = 8, size: int = 32, gripper: bool = False) -> Path:
    """image [1,3,size,size] + input_ids [1,length] + attention_mask [1,length] + joints [1,2]
    -> action [1,2] = (mean(image), 0) + sum of the masked tokens' embeddings + joints @ W;
    with ``gripper``, a second state input gripper [1,1] adds gripper @ G."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("ReduceMean", ["image"], ["m"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Unsqueeze", ["m", "axis1"], ["m2"]),
        helper.make_node("Mul", ["m2", "forward"], ["image_term"]),
        helper.make_node("Gather", ["embedding", "input_ids"], ["emb"]),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["emb", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["token_term"], keepdims=0),
        helper.make_node("MatMul", ["joints", "w"], ["state_term"]),
        helper.make_node("Add", ["image_term", "token_term"], ["partial"]),
        helper.make_node("Add", ["partial", "state_term"], ["action" if not gripper else "a0"]),
    ]
    if gripper:
        nodes += [
            helper.make_node("MatMul", ["gripper", "g"], ["gripper_term"]),
            helper.make_node("Add", ["a0", "gripper_term"], ["action"]),
        ]
    init = [
        numpy_helper.from_array(np.array([[1.0, 0.0]], np.float32), "forward"),
        numpy_helper.from_array(VLA_EMBEDDING, "embedding"),
        numpy_helper.from_array(VLA_STATE_WEIGHTS, "w"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(np.array([2], np.int64), "axis2"),
    ]
    if gripper:
        init.append(numpy_helper.from_array(VLA_GRIPPER_WEIGHTS, "g"))
    graph = helper.make_graph(
        nodes,
        "vla",
        [
            helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, size, size]),
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, length]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, length]),
            helper.make_tensor_value_info("joints", TensorProto.FLOAT, [1, 2]),
            *(
                [helper.make_tensor_value_info("gripper", TensorProto.FLOAT, [1, 1])]
                if gripper
                else []
            ),
        ],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, [1, 2])],
        init,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def vla_reference(
    grey: float, words: list[str], joints, length: int = 8, gripper: float = 0.0
) -> np.ndarray:
    """The VLA test model's action for a uniform grey image (0..255), an instruction's words
    (the first `length` count), the joints (and the gripper, with that input)."""
    ids = [VLA_VOCAB.get(w, 1) for w in words][:length]
    tokens = VLA_EMBEDDING[ids].sum(axis=0) if ids else np.zeros(2)
    state = np.asarray(joints) @ VLA_STATE_WEIGHTS + gripper * VLA_GRIPPER_WEIGHTS[0]
    return np.array([grey / 255.0, 0.0]) + tokens + state
