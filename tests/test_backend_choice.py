"""backend="auto" for ONNX models: TensorRT, else PyTorch on the GPU, else ONNX Runtime; each
choice logged with why, and a PyTorch conversion failure falls back to ONNX Runtime."""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import dataclass

import pytest

from onnx_models import detector_model
from trtpipe import _core, load
from trtpipe.backends import availability, loader

LOGGER = "trtpipe.backends.loader"
REAL_TORCH_PROBE = loader.torch_gpu_unusable_reason
NO_TRT = "no TensorRT runtime found (searched libnvinfer.so.10); install TensorRT"


@dataclass
class FakeEngine:
    backend: str
    device: str


@pytest.fixture
def model(tmp_path):
    """A file load() takes for an ONNX model; the fakes below never read it."""
    path = tmp_path / "m.onnx"
    path.write_bytes(b"onnx")
    return path


@pytest.fixture
def opened(monkeypatch):
    """Replaces the three ways an ONNX model is opened by fakes that record the calls."""
    calls: list[tuple[str, str | None, dict]] = []

    def built(path, device, options, build_options):
        calls.append(("tensorrt", device, dict(options)))
        return FakeEngine("tensorrt", "cuda:0"), "cached engine m.engine"

    def torch(path, device, options):
        calls.append(("torch", device, dict(options)))
        return FakeEngine("torch", device or "cuda:0")

    def ort(path, device, options):
        calls.append(("onnxruntime", device, dict(options)))
        return FakeEngine("onnxruntime", "cpu")

    monkeypatch.setattr(loader, "_open_built_engine", built)
    monkeypatch.setattr(loader, "_open_onnx_as_torch", torch)
    monkeypatch.setattr(loader, "_open_onnxruntime", ort)
    return calls


def probes(monkeypatch, tensorrt: str | None, torch_gpu: str | None) -> list[str | None]:
    """Sets what the TensorRT and PyTorch-GPU probes answer; returns the devices the PyTorch
    probe was asked about."""
    asked: list[str | None] = []

    def torch_reason(device=None):
        asked.append(device)
        return torch_gpu

    monkeypatch.setattr(loader, "tensorrt_unusable_reason", lambda: tensorrt)
    monkeypatch.setattr(loader, "torch_gpu_unusable_reason", torch_reason)
    return asked


def auto_lines(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER and r.levelno == logging.INFO and "backend auto" in r.getMessage()
    ]


def test_tensorrt_when_usable(monkeypatch, model, opened, caplog):
    asked = probes(monkeypatch, tensorrt=None, torch_gpu=None)
    assert loader.choose_onnx_backend() == loader.AutoChoice("tensorrt")
    assert asked == []  # PyTorch is not even probed
    with caplog.at_level(logging.INFO, logger="trtpipe"):
        engine = load(model)
    assert engine.backend == "tensorrt"
    assert [c[0] for c in opened] == ["tensorrt"]
    assert auto_lines(caplog) == ["backend auto: tensorrt on cuda:0 (cached engine m.engine)"]


def test_torch_on_the_gpu_when_tensorrt_is_not(monkeypatch, model, opened, caplog):
    probes(monkeypatch, tensorrt=NO_TRT, torch_gpu=None)
    choice = loader.choose_onnx_backend()
    assert choice.backend == "torch"
    assert choice.passed_over == (("TensorRT", NO_TRT),)
    with caplog.at_level(logging.INFO, logger="trtpipe"):
        engine = load(model)
    assert engine.backend == "torch"
    assert [c[0] for c in opened] == ["torch"]
    # One short line: a plain reason is cut to its first clause.
    assert auto_lines(caplog) == [
        "backend auto: torch on cuda:0 (TensorRT: no TensorRT runtime found)"
    ]


def test_onnxruntime_when_neither(monkeypatch, model, opened, caplog):
    probes(monkeypatch, tensorrt=NO_TRT, torch_gpu="torch, onnx2torch not installed")
    assert loader.choose_onnx_backend().backend == "onnxruntime"
    with caplog.at_level(logging.INFO, logger="trtpipe"):
        engine = load(model)
    assert engine.backend == "onnxruntime"
    assert [c[0] for c in opened] == ["onnxruntime"]
    (line,) = auto_lines(caplog)
    assert line.startswith("backend auto: onnxruntime on cpu (TensorRT: ")
    assert line.endswith("; PyTorch GPU: torch, onnx2torch not installed)")


def test_torch_conversion_failure_falls_back_to_onnxruntime(monkeypatch, model, opened, caplog):
    probes(monkeypatch, tensorrt=NO_TRT, torch_gpu=None)

    def failing(path, device, options):
        opened.append(("torch", device, dict(options)))
        raise NotImplementedError("Converter is not implemented (OnnxNode(op_type=NonZero))")

    monkeypatch.setattr(loader, "_open_onnx_as_torch", failing)
    with caplog.at_level(logging.INFO, logger="trtpipe"):
        engine = load(model)
    assert engine.backend == "onnxruntime"
    assert [c[0] for c in opened] == ["torch", "onnxruntime"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "falling back to ONNX Runtime" in warnings[0]
    assert "NotImplementedError: Converter is not implemented" in warnings[0]
    (line,) = auto_lines(caplog)
    assert line.startswith("backend auto: onnxruntime on cpu (TensorRT: ")
    assert line.endswith("PyTorch GPU: failed (NotImplementedError))")


def test_the_failed_torch_attempt_leaves_the_options_for_onnxruntime(monkeypatch, model, opened):
    probes(monkeypatch, tensorrt=NO_TRT, torch_gpu=None)

    def failing(path, device, options):
        options.pop("warmup")  # the PyTorch path consumes its options
        raise RuntimeError("boom")

    monkeypatch.setattr(loader, "_open_onnx_as_torch", failing)
    load(model, warmup=2)
    assert opened == [("onnxruntime", None, {"warmup": 2})]


def test_cpu_device_leaves_only_onnxruntime(monkeypatch, model, opened):
    asked = probes(monkeypatch, tensorrt=None, torch_gpu=None)
    choice = loader.choose_onnx_backend("cpu")
    assert choice.backend == "onnxruntime"
    assert choice.reasons() == "TensorRT: cpu asked for; PyTorch GPU: cpu asked for"
    assert choice.passed_over[0][1] == "device 'cpu' asked for"  # the full reason
    assert asked == []  # no probe runs
    load(model, device="cpu")
    assert opened == [("onnxruntime", "cpu", {})]
    # The real PyTorch probe says no to the CPU before looking at anything else.
    assert REAL_TORCH_PROBE("cpu") == "device 'cpu' asked for, not a GPU"


def test_gpu_device_goes_to_the_probe_and_the_engine(monkeypatch, model, opened):
    asked = probes(monkeypatch, tensorrt=NO_TRT, torch_gpu=None)
    load(model, device="cuda:1")
    assert asked == ["cuda:1"]
    assert opened == [("torch", "cuda:1", {})]


def test_options_of_another_backend_skip_torch(monkeypatch, model, opened):
    probes(monkeypatch, tensorrt=NO_TRT, torch_gpu=None)
    choice = loader.choose_onnx_backend(options={"threads": 2})
    assert choice.backend == "onnxruntime"
    assert choice.passed_over[-1] == ("PyTorch GPU", "options threads are not the torch backend's")
    assert loader.choose_onnx_backend(options={"warmup": 1, "image_size": (320, 320)}).backend == (
        "torch"
    )
    load(model, threads=2)
    assert opened == [("onnxruntime", None, {"threads": 2})]


def test_torch_probe_reasons_without_importing_torch(monkeypatch):
    real = sys.modules.get("torch")
    monkeypatch.setattr(availability, "is_installed", lambda name: name != "onnx2torch")
    assert loader.torch_gpu_unusable_reason() == "onnx2torch not installed"
    monkeypatch.setattr(availability, "is_installed", lambda name: True)
    monkeypatch.setattr(_core, "build_info", lambda: {"with_cuda": False})
    assert loader.torch_gpu_unusable_reason() == "trtpipe._core was built without CUDA"
    monkeypatch.setattr(_core, "build_info", lambda: {"with_cuda": True})
    monkeypatch.setattr(_core, "query_devices", lambda: {"gpus": [], "reason": "no driver"})
    assert loader.torch_gpu_unusable_reason() == "no GPU visible to trtpipe._core (no driver)"
    assert sys.modules.get("torch") is real  # none of these imported PyTorch


def test_the_probe_does_not_import_torch_without_a_gpu():
    from conftest import gpu_unusable_reason

    if gpu_unusable_reason() is None:
        pytest.skip("a GPU is visible here, so the probe may import PyTorch")
    code = (
        "import sys\n"
        "from trtpipe.backends.loader import choose_onnx_backend\n"
        "print(choose_onnx_backend().backend, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    backend, imported = out.stdout.split()
    assert backend in ("tensorrt", "onnxruntime")
    assert imported == "False"


def test_info_reports_the_same_choice():
    import trtpipe

    report = trtpipe.info()
    choice = loader.choose_onnx_backend()
    assert report.auto_onnx.startswith(choice.backend)
    assert "backend auto (.onnx)" in report.format_table()
    assert trtpipe.info(backends=False).auto_onnx == ""


def test_real_model_on_this_machine_picks_onnxruntime_and_says_why(caplog):
    """Without TensorRT and without PyTorch on a GPU, the sample model runs on ONNX Runtime."""
    pytest.importorskip("onnxruntime")
    path = detector_model()
    if path is None:
        pytest.skip("nudenet (which ships the YOLOv8n detector model) is not installed")
    trt_reason = loader.tensorrt_unusable_reason()
    torch_reason = loader.torch_gpu_unusable_reason()
    if trt_reason is None or torch_reason is None:
        pytest.skip("TensorRT or PyTorch on the GPU is usable here, so auto rightly picks it")
    from trtpipe.backends.onnxruntime import OnnxRuntimeEngine

    with caplog.at_level(logging.INFO, logger="trtpipe"):
        engine = load(path)
    assert isinstance(engine, OnnxRuntimeEngine)
    (line,) = auto_lines(caplog)
    assert line.startswith(f"backend auto: onnxruntime on {engine.device} (")
    assert f"TensorRT: {loader._short(trt_reason)}" in line
    assert f"PyTorch GPU: {loader._short(torch_reason)}" in line
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_auto_line_is_short_and_the_full_reasons_are_at_debug(sample_model_path, caplog):
    """The INFO line fits a terminal line with the CLI's 'INFO <logger>: ' prefix (a few words
    per backend passed over); the probes' full reasons are logged at DEBUG (trtpipe -v)."""
    pytest.importorskip("onnxruntime")
    trt_reason = loader.tensorrt_unusable_reason()
    torch_reason = loader.torch_gpu_unusable_reason()
    if trt_reason is None:
        pytest.skip("TensorRT is usable here: no backend is passed over")
    with caplog.at_level(logging.DEBUG, logger="trtpipe"):
        load(sample_model_path)
    (line,) = auto_lines(caplog)
    assert len(f"INFO {LOGGER}: {line}") <= 120, line
    assert "TensorRT: " in line and trt_reason not in line
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any(m.endswith(f"not TensorRT: {trt_reason}") for m in debug)
    if torch_reason is not None:
        assert any(m.endswith(f"not PyTorch GPU: {torch_reason}") for m in debug)


def test_max_batch_gives_torch_buckets_and_tensorrt_a_profile(monkeypatch, tmp_path):
    """load(max_batch=N): a dynamic-batch ONNX model goes to PyTorch with max_batch (its batch
    buckets) and to a TensorRT build with the profile 1:N:N; a static one gets no profile."""
    pytest.importorskip("onnx")
    from onnx_models import write_conv_net

    dynamic = write_conv_net(tmp_path / "dynamic.onnx", batch="N")
    static = write_conv_net(tmp_path / "static.onnx", batch=1)
    builds: list[dict] = []

    def built(path, device, options, build_options):
        builds.append(dict(build_options))
        return FakeEngine("tensorrt", "cuda:0"), "cached engine"

    torch_options: list[dict] = []
    monkeypatch.setattr(loader, "_open_built_engine", built)
    monkeypatch.setattr(
        loader,
        "_open_onnx_as_torch",
        lambda path, device, options: (
            torch_options.append(dict(options)) or FakeEngine("torch", "cuda:0")
        ),
    )
    probes(monkeypatch, tensorrt=None, torch_gpu=None)
    load(dynamic, max_batch=4)
    load(static, max_batch=4)
    load(dynamic, max_batch=4, profiles="1:2:8")  # a profile given is kept
    assert [b.get("profiles") for b in builds] == ["1:4:4", None, "1:2:8"]
    probes(monkeypatch, tensorrt=NO_TRT, torch_gpu=None)
    load(dynamic, max_batch=4)
    load(dynamic)
    assert torch_options == [{"max_batch": 4}, {}]
    with pytest.raises(loader.InputError, match="max_batch"):
        load(dynamic, max_batch=0)


def test_batch_buckets_are_powers_of_two_up_to_the_largest_batch():
    from trtpipe.backends.onnx_to_torch import batch_buckets

    assert batch_buckets(1) == [1]
    assert batch_buckets(4) == [1, 2, 4]
    assert batch_buckets(6) == [1, 2, 4, 6]
    assert batch_buckets(8) == [1, 2, 4, 8]
