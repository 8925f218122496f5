"""The PyTorch backend (eager on the CPU; CUDA graphs on the GPU) against ONNX Runtime on the CPU.

The ONNX Runtime reference runs the same network written independently with onnx.helper
(tests/onnx_models.py), with the same weights.
"""

from __future__ import annotations

import numpy as np
import pytest

from onnx_models import conv_net_weights, write_conv_net

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from trtpipe import load  # noqa: E402
from trtpipe.backends.onnxruntime import OnnxRuntimeEngine  # noqa: E402
from trtpipe.backends.torch import TorchEngine  # noqa: E402
from trtpipe.errors import EngineError, InputError  # noqa: E402

# cuDNN may pick TF32 kernels on the GPU: errors of ~1e-3 relative are expected there.
GPU_TOL = {"rtol": 1e-2, "atol": 1e-2}
CPU_TOL = {"rtol": 1e-4, "atol": 1e-4}


def conv_module(seed: int = 0) -> torch.nn.Module:
    weights = conv_net_weights(seed)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 4, 1, bias=False),
    )
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(weights["w1"]))
        net[0].bias.copy_(torch.from_numpy(weights["b1"]))
        net[2].weight.copy_(torch.from_numpy(weights["w2"]))
    return net.eval()


@pytest.fixture
def ort_reference(tmp_path):
    engine = OnnxRuntimeEngine(write_conv_net(tmp_path / "ref.onnx", batch="N"), device="cpu")
    return lambda x: engine.infer({"x": x})["y"]


def frames(batch: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, 3, 16, 16)).astype(np.float32)


# -- CPU (eager) -----------------------------------------------------------------------------


def test_module_on_cpu_matches_ort(ort_reference):
    engine = TorchEngine(conv_module(), device="cpu", input_shapes={"x": (-1, 3, 16, 16)})
    assert not engine.uses_cuda_graph
    assert [(t.name, t.shape) for t in engine.inputs] == [("x", (-1, 3, 16, 16))]
    assert [(t.name, t.shape, t.dtype) for t in engine.outputs] == [
        ("output0", (-1, 4, 16, 16), np.float32)
    ]
    for batch in (1, 3):
        x = frames(batch, batch)
        np.testing.assert_allclose(engine.infer({"x": x})["output0"], ort_reference(x), **CPU_TOL)


def test_torchscript_file_and_load(tmp_path, ort_reference):
    path = tmp_path / "net.pt"
    torch.jit.trace(conv_module(), torch.zeros(1, 3, 16, 16)).save(str(path))
    engine = load(path, device="cpu", input_shapes={"x": (1, 3, 16, 16)}, output_names=["y"])
    assert isinstance(engine, TorchEngine)
    x = frames(1, 5)
    np.testing.assert_allclose(engine.infer({"x": x})["y"], ort_reference(x), **CPU_TOL)


def test_exported_program_knows_its_inputs(tmp_path, ort_reference):
    program = torch.export.export(conv_module(), (torch.zeros(2, 3, 16, 16),))
    path = tmp_path / "net.pt2"
    torch.export.save(program, str(path))
    engine = TorchEngine(path, device="cpu")
    (x_info,) = engine.inputs
    assert x_info.shape == (2, 3, 16, 16) and x_info.dtype == np.float32
    x = frames(2, 9)
    np.testing.assert_allclose(
        engine.infer({x_info.name: x})["output0"], ort_reference(x), **CPU_TOL
    )


def test_bad_inputs_and_models():
    engine = TorchEngine(conv_module(), device="cpu", input_shapes={"x": (1, 3, 16, 16)})
    with pytest.raises(InputError, match="shape"):
        engine.infer({"x": np.zeros((1, 3, 8, 8), np.float32)})
    with pytest.raises(InputError, match="dtype"):
        engine.infer({"x": np.zeros((1, 3, 16, 16), np.float64)})
    with pytest.raises(InputError, match="input_shapes"):
        TorchEngine(conv_module(), device="cpu")
    with pytest.raises(InputError, match=r"nn\.Module"):
        TorchEngine(42, device="cpu")
    with pytest.raises(EngineError, match="close"):
        engine.close()
        engine.infer({"x": np.zeros((1, 3, 16, 16), np.float32)})


# -- GPU: CUDA graphs, zero-copy inputs ------------------------------------------------------


class _CudaArrayOnly:
    """A GPU array that offers only __cuda_array_interface__ (as CuPy or Numba arrays do)."""

    def __init__(self, tensor):
        self._tensor = tensor
        self.__cuda_array_interface__ = tensor.__cuda_array_interface__


@pytest.mark.gpu
def test_cuda_graph_matches_ort_cpu(ort_reference):
    engine = TorchEngine(conv_module(), device="cuda", input_shapes={"x": (2, 3, 16, 16)})
    assert engine.uses_cuda_graph and engine.device == "cuda:0"
    for seed in (1, 2, 3):  # each replay must read the new frame
        x = frames(2, seed)
        np.testing.assert_allclose(engine.infer({"x": x})["output0"], ort_reference(x), **GPU_TOL)
    assert engine.graph_count == 1


@pytest.mark.gpu
def test_cuda_graph_takes_gpu_arrays_zero_copy(ort_reference):
    engine = TorchEngine(conv_module(), device="cuda", input_shapes={"x": (1, 3, 16, 16)})
    x = frames(1, 11)
    on_gpu = torch.from_numpy(x).cuda()
    via_dlpack = engine.infer({"x": on_gpu})["output0"]
    via_cai = engine.infer({"x": _CudaArrayOnly(on_gpu)})["output0"]
    np.testing.assert_allclose(via_dlpack, ort_reference(x), **GPU_TOL)
    np.testing.assert_array_equal(via_cai, via_dlpack)
    # Writing into the graph's own input tensor skips the copy altogether.
    static = engine.input_tensor("x")
    static.copy_(torch.from_numpy(frames(1, 12)).cuda())
    np.testing.assert_allclose(
        engine.infer({"x": static})["output0"], ort_reference(frames(1, 12)), **GPU_TOL
    )


@pytest.mark.gpu
def test_cuda_graph_per_batch_size_and_eager_agree(ort_reference):
    graphed = TorchEngine(conv_module(), device="cuda", input_shapes={"x": (-1, 3, 16, 16)})
    eager = TorchEngine(
        conv_module(), device="cuda", input_shapes={"x": (-1, 3, 16, 16)}, cuda_graph=False
    )
    for batch in (1, 4, 1):
        x = frames(batch, 20 + batch)
        got = graphed.infer({"x": x})["output0"]
        np.testing.assert_allclose(got, ort_reference(x), **GPU_TOL)
        np.testing.assert_allclose(got, eager.infer({"x": x})["output0"], rtol=1e-5, atol=1e-5)
    assert graphed.graph_count == 2 and eager.graph_count == 0


@pytest.mark.gpu
def test_submit_result_pipelines_frames(ort_reference):
    engine = TorchEngine(conv_module(), device="cuda", input_shapes={"x": (1, 3, 16, 16)})
    xs = [frames(1, 30 + i) for i in range(3)]
    pending = [engine.submit({"x": x}) for x in xs]
    for x, p in zip(xs, pending, strict=True):
        np.testing.assert_allclose(engine.result(p)["output0"], ort_reference(x), **GPU_TOL)


@pytest.mark.gpu
def test_exported_program_and_torchscript_on_gpu(tmp_path, ort_reference):
    program = torch.export.export(conv_module(), (torch.zeros(1, 3, 16, 16),))
    exported = TorchEngine(program, device="cuda")
    scripted = TorchEngine(
        torch.jit.script(conv_module()), device="cuda", input_shapes={"x": (1, 3, 16, 16)}
    )
    x = frames(1, 40)
    name = exported.inputs[0].name
    np.testing.assert_allclose(exported.infer({name: x})["output0"], ort_reference(x), **GPU_TOL)
    np.testing.assert_allclose(scripted.infer({"x": x})["output0"], ort_reference(x), **GPU_TOL)


@pytest.mark.gpu
def test_torch_onnx_export_runs_the_same_on_ort_cpu(tmp_path):
    """The brief's end-to-end check: export with torch, run on ORT CPU and on the CUDA graph."""
    path = tmp_path / "exported.onnx"
    try:
        torch.onnx.export(
            conv_module(),
            (torch.zeros(1, 3, 16, 16),),
            str(path),
            input_names=["x"],
            output_names=["y"],
            dynamo=False,
        )
    except Exception as exc:  # exporter extras (onnxscript) missing in this torch
        pytest.skip(f"torch.onnx.export unavailable here: {exc}")
    x = frames(1, 50)
    want = OnnxRuntimeEngine(path, device="cpu").infer({"x": x})["y"]
    engine = TorchEngine(conv_module(), device="cuda", input_shapes={"x": (1, 3, 16, 16)})
    np.testing.assert_allclose(engine.infer({"x": x})["output0"], want, **GPU_TOL)


class _ReadsOnTheHost(torch.nn.Module):
    """forward() reads a GPU value on the host, which CUDA graph capture cannot record."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = conv_module()
        self.register_buffer("gain", torch.tensor([2.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x) * float(self.gain.tolist()[0])


@pytest.mark.gpu
def test_model_that_cannot_be_captured_runs_eagerly(ort_reference):
    engine = TorchEngine(_ReadsOnTheHost(), device="cuda", input_shapes={"x": (1, 3, 16, 16)})
    x = frames(1, seed=5)
    out = engine.infer({"x": x})["output0"]
    assert not engine.uses_cuda_graph and engine.graph_fallback_reason
    np.testing.assert_allclose(out, 2.0 * ort_reference(x), **GPU_TOL)
    # and it keeps serving frames
    np.testing.assert_allclose(engine.infer({"x": x})["output0"], out, rtol=0, atol=0)
    with pytest.raises(EngineError, match="static input"):
        engine.input_tensor("x")


@pytest.mark.gpu
def test_a_dynamic_size_detector_from_onnx_is_captured_and_matches_ort():
    """NudeNet's YOLOv8n (input ?x3x?x?, imgsz 320 in its metadata) on the GPU."""
    pytest.importorskip("onnx2torch")
    from onnx_models import detector_model

    path = detector_model()
    if path is None:
        pytest.skip("nudenet (which ships the YOLOv8n detector model) is not installed")
    engine = load(path, backend="torch", device="cuda")
    assert [t.shape for t in engine.inputs] == [(1, 3, 320, 320)]  # fixed from the model's imgsz
    x = np.random.default_rng(0).random((1, 3, 320, 320), dtype=np.float32)
    ours = engine.infer({"images": x})["output0"]
    assert engine.uses_cuda_graph and engine.graph_count == 1, engine.graph_fallback_reason
    want = OnnxRuntimeEngine(path, device="cpu").infer({"images": x})["output0"]
    np.testing.assert_allclose(ours, want, **GPU_TOL)
