"""Which inference backends can run here, checked by actually loading them."""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import os
from dataclasses import dataclass

# TensorRT runtimes trtpipe can drive, in the order they are preferred: the full runtime, then
# the lean runtime (runs only version-compatible engines). Majors 10 and 11 are supported.
TENSORRT_LIBRARY_NAMES = (
    "libnvinfer.so.10",
    "libnvinfer.so.11",
    "libnvinfer_lean.so.10",
    "libnvinfer_lean.so.11",
)


@dataclass(frozen=True)
class BackendStatus:
    name: str
    available: bool
    version: str | None
    detail: str


def _tensorrt_version(lib: ctypes.CDLL) -> str | None:
    try:
        get_version = lib.getInferLibVersion
    except AttributeError:
        return None
    get_version.restype = ctypes.c_int32
    code = int(get_version())
    # TensorRT >= 10 encodes major * 10000 + minor * 100 + patch.
    return f"{code // 10000}.{code // 100 % 100}.{code % 100}"


def probe_tensorrt() -> BackendStatus:
    from trtpipe import _core

    if _core.build_info().get("engine_module"):
        # The engine module's own loader is the authority: same search, same version check.
        from trtpipe.errors import BackendUnavailableError

        try:
            found = _core.engine.load_tensorrt_library()
        except BackendUnavailableError as exc:
            return BackendStatus("tensorrt", False, None, " ".join(str(exc).split()))
        return BackendStatus("tensorrt", True, found["version"], f"runtime {found['path']}")
    return _probe_tensorrt_library()


def _probe_tensorrt_library() -> BackendStatus:
    """Looks for a TensorRT runtime where _core has no engine module to load it with."""
    explicit = os.environ.get("TRTPIPE_TENSORRT_LIBRARY")
    candidates = (explicit,) if explicit else TENSORRT_LIBRARY_NAMES
    broken = []
    for name in candidates:
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            # "cannot open shared object file" means absent; anything else is a broken install.
            if "cannot open shared object file" not in str(exc):
                broken.append(str(exc))
            continue
        return BackendStatus("tensorrt", True, _tensorrt_version(lib), f"runtime {name}")
    detail = f"no TensorRT runtime found (searched {', '.join(candidates)})"
    if broken:
        detail += f"; failed to load: {'; '.join(broken)}"
    detail += (
        "; install TensorRT (JetPack ships it; on x86 the TensorRT SDK or the `tensorrt` wheel)"
        " or set TRTPIPE_TENSORRT_LIBRARY to the library's path"
    )
    return BackendStatus("tensorrt", False, None, detail)


def is_installed(name: str) -> bool:
    """Whether the top-level package ``name`` can be imported, looked up without importing it."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: in sys.modules without a spec
        return False


def _not_installed(name: str) -> BackendStatus | None:
    """A "not installed" status where ``name`` cannot be found."""
    return (
        None if is_installed(name) else BackendStatus(name, False, None, f"{name} is not installed")
    )


def probe_onnxruntime() -> BackendStatus:
    missing = _not_installed("onnxruntime")
    if missing is not None:
        return missing
    try:
        ort = importlib.import_module("onnxruntime")
    except Exception as exc:  # an installed-but-broken package is "not available", with why
        return BackendStatus("onnxruntime", False, None, f"import failed: {exc}")
    providers = ", ".join(ort.get_available_providers())
    return BackendStatus("onnxruntime", True, ort.__version__, f"providers: {providers}")


def probe_torch() -> BackendStatus:
    missing = _not_installed("torch")
    if missing is not None:
        return missing
    try:
        torch = importlib.import_module("torch")
    except Exception as exc:
        return BackendStatus("torch", False, None, f"import failed: {exc}")
    if torch.cuda.is_available():
        detail = f"CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s)"
    else:
        detail = "CPU only (torch.cuda.is_available() is False)"
    return BackendStatus("torch", True, torch.__version__, detail)


def probe_backends() -> list[BackendStatus]:
    return [probe_tensorrt(), probe_onnxruntime(), probe_torch()]
