"""Loading the TensorRT runtime at run time, and the engine errors that come before any GPU work.

These run without a GPU. Stand-in runtime libraries are compiled from a few lines of C, so the
search order, the symbol look-up and the version check run for real; what a real TensorRT then
says is covered where TensorRT exists.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import trtpipe
from core_testing import core_testing
from trtpipe import _core
from trtpipe.errors import BackendUnavailableError, EngineError

BUILD = _core.build_info()
needs_engine_module = pytest.mark.skipif(
    not BUILD.get("engine_module"), reason="_core was built without the TensorRT engine module"
)

FAKE_RUNTIME = r"""
#include <stddef.h>
#include <stdint.h>
int32_t getInferLibVersion(void) { return VERSION; }
#ifndef NO_CREATE
void* createInferRuntime_INTERNAL(void* logger, int32_t version) {
  (void)logger; (void)version;
  return NULL;  /* what TensorRT returns when it refuses to make a runtime */
}
#endif
"""


def _compiled_major() -> int:
    return int(BUILD["tensorrt_headers_version"].split(".")[0])


def _fake_runtime(folder: Path, name: str, version: int, *, create: bool = True) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build a stand-in TensorRT runtime")
    source = folder / f"{name}.c"
    source.write_text(FAKE_RUNTIME)
    out = folder / name
    flags = [f"-DVERSION={version}"] + ([] if create else ["-DNO_CREATE"])
    subprocess.run([compiler, "-shared", "-fPIC", *flags, "-o", str(out), str(source)], check=True)
    return out


def _loadable(name: str) -> bool:
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def test_engine_module_compiled_when_headers_present():
    report = trtpipe.info(backends=False)
    assert report.engine_module == bool(BUILD.get("engine_module"))
    if BUILD["with_cuda"] and BUILD["tensorrt_headers_version"]:
        # CMake found the headers and CUDA is on: the adapter must have been compiled in.
        assert report.engine_module
        assert _core.engine.tensorrt_compiled_version == BUILD["tensorrt_headers_version"]
        assert "engine module compiled in" in report.format_table()
    else:
        assert not report.engine_module
    if os.environ.get("TENSORRT_ROOT") and BUILD["with_cuda"]:
        assert report.engine_module, "TENSORRT_ROOT was set for this build but no engine module"


@needs_engine_module
def test_missing_explicit_library_names_it_and_what_to_install(tmp_path):
    missing = tmp_path / "libnvinfer.so.404"
    with pytest.raises(BackendUnavailableError) as caught:
        _core.engine.load_tensorrt_library(str(missing))
    text = str(caught.value)
    assert str(missing) in text
    assert "searched the path given" in text
    assert f"Install TensorRT {_compiled_major()}" in text
    assert "TRTPIPE_TENSORRT_LIBRARY" in text


@needs_engine_module
def test_environment_variable_is_the_only_candidate(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "libnvinfer.so"
    monkeypatch.setenv("TRTPIPE_TENSORRT_LIBRARY", str(missing))
    with pytest.raises(BackendUnavailableError) as caught:
        _core.engine.load_tensorrt_library()
    text = str(caught.value)
    assert "searched TRTPIPE_TENSORRT_LIBRARY" in text
    assert str(missing) in text
    assert "libnvinfer_lean" not in text  # an explicit choice is not second-guessed


@needs_engine_module
def test_default_search_lists_full_then_lean_runtime(monkeypatch):
    monkeypatch.delenv("TRTPIPE_TENSORRT_LIBRARY", raising=False)
    major = _compiled_major()
    names = [f"libnvinfer.so.{major}", f"libnvinfer_lean.so.{major}"]
    assert list(_core.engine.tensorrt_default_libraries) == names
    if any(_loadable(name) for name in names):
        pytest.skip("a TensorRT runtime is installed here; nothing to report missing")
    with pytest.raises(BackendUnavailableError) as caught:
        _core.engine.load_tensorrt_library()
    text = str(caught.value)
    assert text.index(names[0]) < text.index(names[1])
    assert "not loaded" in text


@needs_engine_module
def test_library_of_another_major_version_is_refused(tmp_path):
    major = _compiled_major()
    other = (major - 1) * 10000 + 601
    lib = _fake_runtime(tmp_path, f"libnvinfer.so.{major - 1}", other)
    with pytest.raises(BackendUnavailableError) as caught:
        _core.engine.load_tensorrt_library(str(lib))
    text = str(caught.value)
    assert f"loaded TensorRT {major - 1}.6.1" in text
    assert f"compiled against TensorRT {major}.x headers" in text


@needs_engine_module
def test_library_without_runtime_entry_point_is_refused(tmp_path):
    major = _compiled_major()
    lib = _fake_runtime(tmp_path, "libnvinfer.so.x", major * 10000, create=False)
    with pytest.raises(BackendUnavailableError, match="createInferRuntime_INTERNAL"):
        _core.engine.load_tensorrt_library(str(lib))


@needs_engine_module
def test_matching_library_is_loaded_and_reports_its_version(tmp_path):
    major = _compiled_major()
    lib = _fake_runtime(tmp_path, f"libnvinfer.so.{major}", major * 10000 + 1403)
    found = _core.engine.load_tensorrt_library(str(lib))
    assert found == {"path": str(lib), "version": f"{major}.14.3", "flavour": "tensorrt"}


@needs_engine_module
def test_search_order_falls_through_to_the_lean_runtime(tmp_path):
    # dlopen reads LD_LIBRARY_PATH at process start, so the search runs in a fresh interpreter.
    major = _compiled_major()
    _fake_runtime(tmp_path, f"libnvinfer.so.{major}", (major + 1) * 10000)  # wrong major
    _fake_runtime(tmp_path, f"libnvinfer_lean.so.{major}", major * 10000 + 205)
    env = dict(os.environ, LD_LIBRARY_PATH=str(tmp_path))
    env.pop("TRTPIPE_TENSORRT_LIBRARY", None)
    code = (
        "import json; from trtpipe import _core; "
        "print(json.dumps(_core.engine.load_tensorrt_library()))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {
        "path": f"libnvinfer_lean.so.{major}",
        "version": f"{major}.2.5",
        "flavour": "tensorrt",
    }


@needs_engine_module
def test_runtime_refusal_becomes_engine_error(tmp_path):
    major = _compiled_major()
    lib = _fake_runtime(tmp_path, f"libnvinfer.so.{major}", major * 10000 + 1401)
    with pytest.raises(EngineError) as caught:
        _core.engine.load_tensorrt_bytes(b"not an engine", library=str(lib))
    text = str(caught.value)
    assert "createInferRuntime failed" in text
    assert str(lib) in text
    assert f"TensorRT {major}.14.1" in text


@needs_engine_module
def test_missing_engine_file_names_the_path(tmp_path):
    from trtpipe.backends.tensorrt import TensorRTEngine

    path = tmp_path / "model.engine"
    with pytest.raises(EngineError, match="cannot be opened") as caught:
        TensorRTEngine(path)
    assert str(path) in str(caught.value)


@needs_engine_module
def test_empty_engine_file_is_rejected_before_loading_tensorrt(tmp_path):
    from trtpipe.backends.tensorrt import TensorRTEngine

    path = tmp_path / "empty.engine"
    path.write_bytes(b"")
    with pytest.raises(EngineError, match="empty file"):
        TensorRTEngine(path, library=str(tmp_path / "never-loaded.so"))


@needs_engine_module
def test_corrupt_engine_file_is_an_engine_error_or_names_the_missing_runtime(tmp_path):
    from trtpipe.backends.tensorrt import TensorRTEngine

    path = tmp_path / "corrupt.engine"
    path.write_bytes(b"\x00garbage, not a TensorRT plan\xff" * 8)
    major = _compiled_major()
    if _loadable(f"libnvinfer.so.{major}") or _loadable(f"libnvinfer_lean.so.{major}"):
        with pytest.raises(EngineError) as caught:
            TensorRTEngine(path)
        assert "deserializing the engine" in str(caught.value)
        assert str(path) in str(caught.value)
        assert "TensorRT said" in str(caught.value)
    else:
        with pytest.raises(BackendUnavailableError, match="searched"):
            TensorRTEngine(path)


def test_backend_unavailable_without_engine_module(monkeypatch):
    from trtpipe.backends import tensorrt

    fake_build = dict(BUILD, engine_module=False)
    monkeypatch.setattr(tensorrt._core, "build_info", lambda: fake_build)
    with pytest.raises(BackendUnavailableError, match="engine module"):
        tensorrt.TensorRTEngine(b"anything")


@pytest.mark.skipif(not hasattr(_core, "engine"), reason="_core was built without CUDA")
def test_test_model_rejects_bad_profiles():
    with pytest.raises(trtpipe.InputError, match="min <= opt <= max"):
        core_testing().ScaleModel(profiles=[(4, 2, 8)])
    with pytest.raises(trtpipe.InputError, match="at least one"):
        core_testing().ScaleModel(profiles=[])


def test_device_argument_forms():
    from trtpipe.backends.tensorrt import _device_index

    assert [_device_index(d) for d in (None, "cuda", 0, 3, "cuda:2")] == [0, 0, 0, 3, 2]
    for bad in ("cpu", -1, "cuda:x"):
        with pytest.raises(trtpipe.InputError, match="device: expected"):
            _device_index(bad)


@needs_engine_module
def test_info_reports_the_runtime_the_engine_module_would_load(tmp_path, monkeypatch):
    from trtpipe.backends.availability import probe_tensorrt

    major = _compiled_major()
    good = _fake_runtime(tmp_path, f"libnvinfer.so.{major}", major * 10000 + 1207)
    monkeypatch.setenv("TRTPIPE_TENSORRT_LIBRARY", str(good))
    status = probe_tensorrt()
    assert (status.available, status.version) == (True, f"{major}.12.7")
    assert str(good) in status.detail
    wrong = _fake_runtime(tmp_path, "libnvinfer.so.old", (major - 2) * 10000)
    monkeypatch.setenv("TRTPIPE_TENSORRT_LIBRARY", str(wrong))
    status = probe_tensorrt()
    assert not status.available
    assert "searched" in status.detail and f"loaded TensorRT {major - 2}.0.0" in status.detail
