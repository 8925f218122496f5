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
from trtpipe.text_tokens import TextTokenizer


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
    """The same model converted to PyTorch on the GPU, its steps in the frame pipeline: the
    image preprocessed by the kernel into the graph's input, tokens and state staged and copied
    in; the actions equal ONNX Runtime's, and the steps after the first ones run as graphs."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx2torch")
    model, tokenizer = files
    gpu = Policy(model, tokenizer, backend="torch", device="cuda")
    assert gpu.device.startswith("cuda")
    steps = (("go left", [0.2, -0.4]), ("go right slowly", [0.0, 1.0]), ("go left", [0.5, 0.5]))
    for text, joints in steps:
        state = {"joints": joints}
        np.testing.assert_allclose(
            gpu.act(GREY, text, state, "rgb8"), policy.act(GREY, text, state, "rgb8"), atol=1e-4
        )
    assert gpu.frame_path == "pipeline"
    stats = gpu._pipeline.stats
    assert stats["frames"] == len(steps) and stats["graph_frames"] >= 1, stats
    # engine.infer on the inputs feeds() builds gives the same action
    feeds = gpu.feeds(GREY, "go left", {"joints": [0.5, 0.5]}, "rgb8")
    out = gpu.engine.infer(feeds)[gpu.output]
    np.testing.assert_allclose(
        np.ravel(out), gpu.act(GREY, "go left", {"joints": [0.5, 0.5]}, "rgb8"), atol=1e-5
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


def test_an_instruction_is_tokenised_once_until_it_changes(files):
    model, tokenizer = files

    class Counting(TextTokenizer):
        calls = 0

        def __call__(self, text):
            self.calls += 1
            return super().__call__(text)

    counting = Counting(tokenizer, 8)
    policy = Policy(model, counting, backend="onnxruntime", device="cpu")
    joints = [0.2, -0.4]
    steps = [
        ("go left", ["go", "left"], 1),
        ("go left", ["go", "left"], 1),
        ("go right", ["go", "right"], 2),
        ("go left", ["go", "left"], 3),  # a change back takes effect too
        (b"go left", ["go", "left"], 4),  # bytes are not the str of the same text
        (b"go \xff", ["go", "?"], 5),
        (b"go \xff", ["go", "?"], 5),
    ]
    for text, words, calls in steps:
        action = policy.act(GREY, text, {"joints": joints}, "rgb8")
        np.testing.assert_allclose(action, vla_reference(128, words, joints), atol=1e-5)
        assert counting.calls == calls, text
    assert counting.replaced == 1  # a garbled instruction is reported once, not every step


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
    replaced = policy.tokenizer.replaced
    lone = policy.act(GREY, "go \ud800 left", state, "rgb8")  # a str with no UTF-8 form
    np.testing.assert_allclose(lone, vla_reference(128, ["go", "?", "left"], [0, 0]), atol=1e-5)
    assert policy.tokenizer.replaced == replaced + 1


def test_bad_calls_raise_input_errors(policy, files):
    with pytest.raises(InputError, match="joints"):
        policy.act(GREY, "go", {}, "rgb8")
    with pytest.raises(InputError, match="expected shape"):
        policy.act(GREY, "go", {"joints": [1.0, 2.0, 3.0]}, "rgb8")
    with pytest.raises(InputError, match="state"):
        policy.act(GREY, "go", {"joints": [0, 0], "speed": 1}, "rgb8")
    with pytest.raises(InputError, match="instruction"):
        policy.act(GREY, None, {"joints": [0, 0]}, "rgb8")
    with pytest.raises(InputError, match=r"state 'joints': expected numbers"):
        policy.act(GREY, "go", {"joints": ["a", "b"]}, "rgb8")
    (image_input,) = policy.inputs.images
    with pytest.raises(InputError, match=r"an \(image, encoding\) pair, given a tuple of 1"):
        policy.act({image_input: (GREY,)}, "go", {"joints": [0, 0]}, "rgb8")
    with pytest.raises(InputError, match="device: expected 'auto', 'cpu', 'cuda' or 'cuda:N'"):
        Policy(files[0], files[1], backend="onnxruntime", device=0)
    with pytest.raises(InputError, match="tokenizer"):
        Policy(files[0], None, backend="onnxruntime", device="cpu")
    with pytest.raises(InputError, match=r"tokenizer\.json"):
        Policy(files[0], files[0], backend="onnxruntime", device="cpu")  # not a tokenizer
