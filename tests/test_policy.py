"""trtpipe.Policy on a real two-input (image + token ids, with mask and state) ONNX model and a
real tokenizer.json: actions equal a NumPy reference, different instructions give different
actions, and garbled, empty or over-long instructions are handled."""

from __future__ import annotations

import numpy as np
import pytest

from onnx_models import vla_reference, write_vla_model, write_vla_tokenizer
from trtpipe.errors import InputError

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("tokenizers")

from trtpipe.policy import Policy, classify_inputs


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("vla")
    return write_vla_model(root / "vla.onnx"), write_vla_tokenizer(root / "tokenizer.json")


@pytest.fixture(scope="module")
def policy(files):
    model, tokenizer = files
    return Policy(model, tokenizer, backend="onnxruntime", device="cpu")


@pytest.mark.gpu
def test_the_multi_input_model_on_the_gpu_gives_the_cpu_actions(files, policy):
    """The same model converted to PyTorch on the GPU: the image preprocessed by the kernel into
    a GPU buffer, tokens and state bound as tensors; the actions equal ONNX Runtime's."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx2torch")
    model, tokenizer = files
    gpu = Policy(model, tokenizer, backend="torch", device="cuda")
    assert gpu.device.startswith("cuda")
    for text, joints in (("go left", [0.2, -0.4]), ("go right slowly", [0.0, 1.0])):
        state = {"joints": joints}
        np.testing.assert_allclose(
            gpu.act(GREY, text, state, "rgb8"), policy.act(GREY, text, state, "rgb8"), atol=1e-4
        )


GREY = np.full((32, 32, 3), 128, np.uint8)


def test_inputs_are_told_apart_by_shape_dtype_and_name(policy):
    roles = policy.inputs
    assert roles.images == ("image",) and roles.token_ids == "input_ids"
    assert roles.attention_mask == "attention_mask" and roles.state == ("joints",)
    assert classify_inputs(policy.engine.inputs) == roles


def test_the_instruction_changes_the_action_as_the_model_says(policy):
    joints = [0.2, -0.4]
    left = policy.act(GREY, "go left", {"joints": joints}, "rgb8")
    right = policy.act(GREY, "go right", {"joints": joints}, "rgb8")
    np.testing.assert_allclose(left, vla_reference(128, ["go", "left"], joints), atol=1e-5)
    np.testing.assert_allclose(right, vla_reference(128, ["go", "right"], joints), atol=1e-5)
    assert left[1] > 0 > right[1]  # turn left vs turn right


def test_empty_long_and_garbled_instructions(policy):
    state = {"joints": [0.0, 0.0]}
    empty = policy.act(GREY, "", state, "rgb8")
    np.testing.assert_allclose(empty, vla_reference(128, [], [0, 0]), atol=1e-5)
    words = ["go", "slowly"] * 10  # 20 words: the first 8 count
    long = policy.act(GREY, " ".join(words), state, "rgb8")
    np.testing.assert_allclose(long, vla_reference(128, words, [0, 0]), atol=1e-5)
    assert policy.tokenizer.truncated >= 1
    garbled = policy.act(GREY, b"go \xff\xfe left", state, "rgb8")  # not UTF-8
    np.testing.assert_allclose(garbled, vla_reference(128, ["go", "?", "left"], [0, 0]), atol=1e-5)
    assert policy.tokenizer.replaced >= 1


def test_bad_calls_raise_input_errors(policy, files):
    with pytest.raises(InputError, match="joints"):
        policy.act(GREY, "go", {}, "rgb8")
    with pytest.raises(InputError, match="expected shape"):
        policy.act(GREY, "go", {"joints": [1.0, 2.0, 3.0]}, "rgb8")
    with pytest.raises(InputError, match="state"):
        policy.act(GREY, "go", {"joints": [0, 0], "speed": 1}, "rgb8")
    with pytest.raises(InputError, match="instruction"):
        policy.act(GREY, None, {"joints": [0, 0]}, "rgb8")
    with pytest.raises(InputError, match="tokenizer"):
        Policy(files[0], None, backend="onnxruntime", device="cpu")
    with pytest.raises(InputError, match=r"tokenizer\.json"):
        Policy(files[0], files[0], backend="onnxruntime", device="cpu")  # not a tokenizer
