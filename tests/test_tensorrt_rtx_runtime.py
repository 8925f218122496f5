"""Engines built with TensorRT-RTX go to the TensorRT-RTX runtime library, the real one.

On a machine without a GPU, the library is reached and its own reason (the CUDA driver) comes
back as an EngineError. On a GPU TensorRT-RTX refuses (compute capability 9.0: H100, H200), its
refusal comes back the same way. On a GPU it accepts, the engine deserialises, and trtpipe says
it cannot run it: _core's engine module is compiled against TensorRT 10 headers, and
TensorRT-RTX's engine interface lacks methods TensorRT 10 has, so calling it through those
headers would call the wrong methods.

The engine is built here with the TensorRT-RTX builder (it builds without a GPU), or taken from
TRTPIPE_RTX_TEST_ENGINE (a trtpipe-built engine, its sidecar beside it) where the builder is not
installed. The library is the tensorrt-rtx-cu13-libs wheel's, or TRTPIPE_TENSORRT_RTX_LIBRARY.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from pathlib import Path

import pytest

import trtpipe
from trtpipe import _core
from trtpipe.backends.availability import runtime_library_for, tensorrt_rtx_wheel_library
from trtpipe.errors import BackendUnavailableError, EngineError, InputError
from trtpipe.tensorrt_flavour import NO_GPU_MESSAGES

needs_engine_module = pytest.mark.skipif(
    not _core.build_info().get("engine_module"),
    reason="_core was built without the TensorRT engine module",
)
pytestmark = [pytest.mark.tensorrt, needs_engine_module]


@pytest.fixture(scope="module")
def rtx_library() -> dict[str, str]:
    """The TensorRT-RTX runtime as _core's loader finds it for a TensorRT-RTX engine."""
    try:
        return _core.engine.load_tensorrt_library(
            runtime_library_for("tensorrt-rtx"), "tensorrt-rtx"
        )
    except BackendUnavailableError as exc:
        pytest.skip(f"no TensorRT-RTX runtime library here: {' '.join(str(exc).split())}")


@pytest.fixture(scope="module")
def rtx_engine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trtpipe-built TensorRT-RTX engine of the small conv net, with its sidecar."""
    given = os.environ.get("TRTPIPE_RTX_TEST_ENGINE")
    if given:
        return Path(given)
    if importlib.util.find_spec("tensorrt_rtx_bindings") is None:
        pytest.skip("no TensorRT-RTX builder (tensorrt_rtx_bindings), no TRTPIPE_RTX_TEST_ENGINE")
    pytest.importorskip("onnx")
    from onnx_models import write_conv_net
    from trtpipe.build import build_engine

    folder = tmp_path_factory.mktemp("rtx")
    onnx_path = write_conv_net(folder / "conv_net.onnx", batch=1)
    out = folder / "conv_net.engine"
    # Default targets: the GPU here where TensorRT-RTX supports it, else every target it has.
    build_engine(onnx_path, precision="fp32", output=out, flavour="tensorrt-rtx")
    return out


def _flavour_of(engine: Path) -> str:
    from trtpipe.engine_info import read_sidecar

    built = read_sidecar(engine)
    assert built is not None, f"{engine} has no sidecar describing it"
    return built.flavour


def test_rtx_library_is_the_wheels_and_reports_its_version(rtx_library):
    assert list(_core.engine.tensorrt_rtx_default_libraries) == ["libtensorrt_rtx.so.1"]
    assert rtx_library["flavour"] == "tensorrt-rtx"
    assert rtx_library["version"].startswith("1.")
    if os.environ.get("TRTPIPE_TENSORRT_RTX_LIBRARY"):
        assert rtx_library["path"] == os.environ["TRTPIPE_TENSORRT_RTX_LIBRARY"]
        return
    assert rtx_library["path"] == tensorrt_rtx_wheel_library()
    wheel = importlib.metadata.version("tensorrt-rtx-cu13-libs")  # e.g. 1.7.1.116
    assert wheel.startswith(rtx_library["version"] + ".")


def test_rtx_library_is_not_taken_for_tensorrt(rtx_library):
    # Its version is 1.x: as a TensorRT library it fails the version check, and is never driven
    # through the TensorRT 10 logger and engine interface.
    with pytest.raises(BackendUnavailableError) as caught:
        _core.engine.load_tensorrt_library(rtx_library["path"], "tensorrt")
    text = str(caught.value)
    assert f"loaded TensorRT {rtx_library['version']}" in text
    assert "compiled against TensorRT 10.x headers" in text


def test_rtx_library_search(monkeypatch, tmp_path):
    missing = tmp_path / "nowhere" / "libtensorrt_rtx.so.1"
    monkeypatch.setenv("TRTPIPE_TENSORRT_RTX_LIBRARY", str(missing))
    assert runtime_library_for("tensorrt-rtx") == ""  # the loader reads the variable itself
    assert runtime_library_for("tensorrt-rtx", "/given/lib.so") == "/given/lib.so"
    with pytest.raises(BackendUnavailableError) as caught:
        _core.engine.load_tensorrt_library("", "tensorrt-rtx")
    text = str(caught.value)
    assert "no usable TensorRT-RTX 1 runtime found; searched TRTPIPE_TENSORRT_RTX_LIBRARY" in text
    assert str(missing) in text
    assert "pip install trtpipe[tensorrt]" in text
    assert "libnvinfer" not in text  # the TensorRT search is another flavour's
    monkeypatch.delenv("TRTPIPE_TENSORRT_RTX_LIBRARY")
    assert runtime_library_for("tensorrt-rtx") == (tensorrt_rtx_wheel_library() or "")
    assert runtime_library_for("tensorrt") == ""


def test_unknown_flavour_is_an_input_error():
    with pytest.raises(InputError, match="flavour: expected one of tensorrt, tensorrt-rtx"):
        runtime_library_for("tensorrt-llm")
    with pytest.raises(InputError, match="flavour: expected one of tensorrt, tensorrt-rtx"):
        _core.engine.load_tensorrt_library("", "tensorrt-llm")


def test_corrupt_plan_is_refused_in_tensorrt_rtx_words(rtx_library):
    from trtpipe.backends.tensorrt import TensorRTEngine

    with pytest.raises(EngineError) as caught:
        TensorRTEngine(b"\x00garbage, not a plan\xff" * 8, flavour="tensorrt-rtx")
    text = str(caught.value)
    assert "deserializing the engine from bytes" in text
    assert f"with TensorRT-RTX {rtx_library['version']} ({rtx_library['path']})" in text
    assert "TensorRT-RTX said: error:" in text


def test_rtx_engine_without_gpu_is_refused_by_the_library(rtx_library, rtx_engine):
    if _core.query_devices()["gpus"]:
        pytest.skip("a GPU is usable here: the gpu-marked test covers TensorRT-RTX's verdict")
    assert _flavour_of(rtx_engine) == "tensorrt-rtx"
    with pytest.raises(EngineError) as caught:
        trtpipe.load(rtx_engine)  # the flavour comes from the engine's sidecar
    text = str(caught.value)
    assert f"deserializing the engine '{rtx_engine}'" in text
    assert f"with TensorRT-RTX {rtx_library['version']} ({rtx_library['path']})" in text
    said = text.split("TensorRT-RTX said: ", 1)[1]  # the library's own messages
    assert any(message in said for message in NO_GPU_MESSAGES), text
    assert "there is no usable GPU here" in text


def test_info_lists_the_tensorrt_rtx_runtime(rtx_library):
    report = trtpipe.info()
    (rtx,) = [lib for lib in report.runtime_libraries if lib.name == "tensorrt-rtx"]
    assert (rtx.found, rtx.version) == (True, rtx_library["version"])
    assert rtx.detail.startswith(rtx_library["path"])
    assert "running them is not supported" in rtx.detail
    names = [lib.name for lib in report.runtime_libraries]
    assert names[-1] == "tensorrt-rtx" and "tensorrt" in names
    (row,) = [line for line in report.format_table().splitlines() if "tensorrt-rtx" in line]
    assert row.split()[:3] == ["runtime", "tensorrt-rtx", "yes"]
    assert f"yes {rtx_library['version']} - {rtx_library['path']}" in row
    assert report.to_dict()["runtime_libraries"][-1]["name"] == "tensorrt-rtx"


def _tensorrt_rtx_runs_on(engine: Path, compute_capability: tuple[int, int]) -> bool:
    """Whether TensorRT-RTX accepts the engine on a GPU of this compute capability: its targets
    (recorded in the sidecar) name it, or say "the GPU it was built on"."""
    from trtpipe.engine_info import read_sidecar

    targets = read_sidecar(engine).options.get("compute_capabilities") or []
    major, minor = compute_capability
    return "CURRENT" in targets or f"SM{major}{minor}" in targets


@pytest.mark.gpu
def test_rtx_engine_on_this_gpu(rtx_library, rtx_engine):
    from trtpipe.backends.tensorrt import TensorRTEngine

    gpu = _core.query_devices()["gpus"][0]
    major, minor = gpu["compute_capability"]
    assert _flavour_of(rtx_engine) == "tensorrt-rtx"
    if not _tensorrt_rtx_runs_on(rtx_engine, (major, minor)):
        # e.g. an H100 or H200 (9.0), which TensorRT-RTX does not target.
        with pytest.raises(EngineError) as caught:
            trtpipe.load(rtx_engine)
        text = str(caught.value)
        assert f"with TensorRT-RTX {rtx_library['version']} ({rtx_library['path']})" in text
        said = text.split("TensorRT-RTX said: ", 1)[1]
        assert f"cannot run on this GPU, which has compute capability {major}.{minor}" in said
        assert "Supported compute capabilities" in said
        assert "no usable GPU" not in text
        with pytest.raises(EngineError, match=f"compute capability {major}.{minor}"):
            TensorRTEngine(rtx_engine.read_bytes(), flavour="tensorrt-rtx")
        return
    # A GPU TensorRT-RTX accepts: the engine deserialises, and trtpipe refuses to drive it
    # through the TensorRT 10 interface its adapter is compiled with.
    with pytest.raises(BackendUnavailableError) as caught:
        trtpipe.load(rtx_engine)
    text = str(caught.value)
    assert f"TensorRT-RTX {rtx_library['version']} ({rtx_library['path']}) deserialised" in text
    assert "trtpipe cannot run it" in text
