"""trtpipe.load: which backend each kind of model goes to, and what it says when it cannot."""

from __future__ import annotations

import importlib.util
import logging

import numpy as np
import pytest

from onnx_models import write_conv_net
from trtpipe import load
from trtpipe.backends.loader import tensorrt_unusable_reason
from trtpipe.errors import BackendUnavailableError, InputError


def test_engine_files_go_to_tensorrt_only(tmp_path):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"not really an engine")
    with pytest.raises(InputError, match="'tensorrt'"):
        load(engine, backend="onnxruntime")
    if importlib.util.find_spec("trtpipe.backends.tensorrt") is None:
        with pytest.raises(BackendUnavailableError, match=r"trtpipe\.backends\.tensorrt"):
            load(engine)


def test_asking_for_tensorrt_without_it_names_the_reason(tmp_path):
    reason = tensorrt_unusable_reason()
    if reason is None:
        pytest.skip("TensorRT is usable here")
    with pytest.raises(BackendUnavailableError) as info:
        load(write_conv_net(tmp_path / "m.onnx"), backend="tensorrt")
    assert reason in str(info.value)


def test_onnx_on_torch_needs_a_converter(tmp_path):
    if importlib.util.find_spec("onnx2torch") is not None:
        pytest.skip("onnx2torch is installed")
    with pytest.raises(BackendUnavailableError, match="onnx2torch"):
        load(write_conv_net(tmp_path / "m.onnx"), backend="torch")


def test_torch_modules_go_to_torch(caplog):
    torch = pytest.importorskip("torch")
    from trtpipe.backends.torch import TorchEngine

    module = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 1)).eval()
    with caplog.at_level(logging.INFO, logger="trtpipe"):
        engine = load(module, device="cpu", input_shapes={"x": (1, 3, 4, 4)})
    assert isinstance(engine, TorchEngine)
    assert "PyTorch object" in caplog.text
    x = np.ones((1, 3, 4, 4), np.float32)
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(engine.infer({"x": x})["output0"], want, rtol=1e-6)
    with pytest.raises(InputError, match="'torch'"):
        load(module, backend="onnxruntime")
