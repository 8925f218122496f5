"""The ONNX Runtime backend against NumPy / the ONNX reference evaluator."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from onnx_models import conv_net_reference, detector_model, write_conv_net
from trtpipe import load
from trtpipe.backends.onnxruntime import OnnxRuntimeEngine
from trtpipe.errors import EngineError, InputError


@pytest.fixture
def dynamic_net(tmp_path):
    return write_conv_net(tmp_path / "dynamic.onnx", batch="N")


def test_io_table_marks_dynamic_axes(dynamic_net):
    engine = OnnxRuntimeEngine(dynamic_net, device="cpu")
    (x,) = engine.inputs
    (y,) = engine.outputs
    assert (x.name, x.shape, x.dtype, x.is_input) == ("x", (-1, 3, 16, 16), np.float32, True)
    assert (y.name, y.shape, y.is_input) == ("y", (-1, 4, 16, 16), False)
    assert x.is_dynamic and engine.device == "cpu" and engine.backend == "onnxruntime"


@pytest.mark.parametrize("batch", [1, 3])
def test_matches_numpy_reference(dynamic_net, batch):
    x = np.random.default_rng(batch).standard_normal((batch, 3, 16, 16)).astype(np.float32)
    with OnnxRuntimeEngine(dynamic_net, device="cpu") as engine:
        y = engine.infer({"x": x})["y"]
    np.testing.assert_allclose(y, conv_net_reference(x), rtol=1e-4, atol=1e-4)


def test_submit_result_gives_the_same_as_infer(tmp_path):
    engine = OnnxRuntimeEngine(write_conv_net(tmp_path / "s.onnx"), device="cpu")
    x = np.ones((1, 3, 16, 16), np.float32)
    np.testing.assert_array_equal(
        engine.result(engine.submit({"x": x}))["y"], engine.infer({"x": x})["y"]
    )


@pytest.mark.parametrize(
    ("inputs", "fragment"),
    [
        ({"z": np.zeros((1, 3, 16, 16), np.float32)}, "missing ['x']"),
        ({"x": np.zeros((1, 3, 16, 16), np.float64)}, "dtype float32"),
        ({"x": np.zeros((1, 3, 8, 16), np.float32)}, "shape (1, 3, 16, 16)"),
        ({"x": np.zeros((3, 16, 16), np.float32)}, "given (3, 16, 16)"),
    ],
)
def test_bad_inputs_raise_input_error(tmp_path, inputs, fragment):
    engine = OnnxRuntimeEngine(write_conv_net(tmp_path / "s.onnx"), device="cpu")
    with pytest.raises(InputError, match=None) as info:
        engine.infer(inputs)
    assert fragment in str(info.value)


def test_missing_and_corrupt_models(tmp_path):
    with pytest.raises(InputError, match="existing ONNX file"):
        OnnxRuntimeEngine(tmp_path / "absent.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(EngineError, match="could not load"):
        OnnxRuntimeEngine(bad)
    with pytest.raises(InputError, match="device"):
        OnnxRuntimeEngine(write_conv_net(tmp_path / "s.onnx"), device="gpu0")


def test_closed_engine_refuses_to_run(tmp_path):
    engine = OnnxRuntimeEngine(write_conv_net(tmp_path / "s.onnx"), device="cpu")
    engine.close()
    with pytest.raises(EngineError, match="close"):
        engine.infer({"x": np.zeros((1, 3, 16, 16), np.float32)})
    with pytest.raises(EngineError, match="close"):
        _ = engine.providers


def test_load_picks_onnxruntime_without_tensorrt_and_says_why(dynamic_net, caplog):
    from trtpipe.backends.loader import choose_onnx_backend

    if choose_onnx_backend().backend != "onnxruntime":
        pytest.skip("TensorRT or PyTorch on the GPU is usable here, so load() rightly picks it")
    with caplog.at_level(logging.INFO, logger="trtpipe"):
        engine = load(dynamic_net)
    assert isinstance(engine, OnnxRuntimeEngine)
    message = " ".join(r.getMessage() for r in caplog.records)
    assert "backend auto: onnxruntime" in message and "TensorRT: " in message


def test_load_rejects_unknown_backends_and_files(tmp_path, dynamic_net):
    with pytest.raises(InputError, match="backend"):
        load(dynamic_net, backend="tflite")
    with pytest.raises(InputError, match="existing model file"):
        load(tmp_path / "absent.onnx")
    other = tmp_path / "model.tflite"
    other.write_bytes(b"x")
    with pytest.raises(InputError, match=r"\.onnx"):
        load(other)
    with pytest.raises(InputError, match="PyTorch module"):
        load(object())


def test_detector_model_matches_onnx_reference_evaluator():
    path = detector_model()
    if path is None:
        pytest.skip("nudenet (which ships the YOLOv8n detector model) is not installed")
    import onnx
    from onnx.reference import ReferenceEvaluator

    x = np.random.default_rng(7).random((1, 3, 320, 320), dtype=np.float32)
    engine = load(path, backend="onnxruntime", device="cpu")
    assert [t.name for t in engine.inputs] == ["images"]
    assert engine.inputs[0].shape == (-1, 3, -1, -1)
    got = engine.infer({"images": x})["output0"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # exp overflow in its sigmoid
        want = ReferenceEvaluator(onnx.load(str(path))).run(None, {"images": x})[0]
    # YOLOv8 head: 4 box coordinates (pixels, up to 320) then 18 class scores in [0, 1].
    assert got.shape == want.shape == (1, 22, 2100)
    np.testing.assert_allclose(got[:, :4], want[:, :4], atol=5e-3)
    np.testing.assert_allclose(got[:, 4:], want[:, 4:], atol=1e-4)
