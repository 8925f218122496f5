"""Which inference backends can run here, checked by actually loading them."""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from trtpipe.tensorrt_flavour import FLAVOURS

# TensorRT runtimes trtpipe can drive, in the order they are preferred: the full runtime, then
# the lean runtime (runs only version-compatible engines). Majors 10 and 11 are supported.
TENSORRT_LIBRARY_NAMES = (
    "libnvinfer.so.10",
    "libnvinfer.so.11",
    "libnvinfer_lean.so.10",
    "libnvinfer_lean.so.11",
)
# The TensorRT-RTX runtime (engines built with TensorRT-RTX run only there), and the environment
# variable that names it.
TENSORRT_RTX_LIBRARY_NAMES = ("libtensorrt_rtx.so.1",)
TENSORRT_RTX_LIBRARY_VARIABLE = "TRTPIPE_TENSORRT_RTX_LIBRARY"


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


def tensorrt_rtx_wheel_library() -> str | None:
    """The runtime library in the ``tensorrt-rtx-cu13-libs`` wheel, where installed (looked up,
    not imported: importing the wheel's package loads every library in it)."""
    try:
        spec = importlib.util.find_spec("tensorrt_rtx_libs")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        for name in TENSORRT_RTX_LIBRARY_NAMES:
            path = Path(folder) / name
            if path.is_file():
                return str(path)
    return None


def runtime_library_for(flavour: str, library: str | None = None) -> str:
    """The library to hand ``_core``'s loader for an engine of ``flavour``: ``library`` when
    given; for TensorRT-RTX, unless TRTPIPE_TENSORRT_RTX_LIBRARY names one, the wheel's (pip puts
    it where the loader's own search does not look); else "" (the loader searches itself)."""
    if flavour not in FLAVOURS:
        from trtpipe.errors import InputError

        raise InputError(f"flavour: expected one of {', '.join(FLAVOURS)}, given {flavour!r}")
    if library:
        return library
    if flavour == "tensorrt-rtx" and not os.environ.get(TENSORRT_RTX_LIBRARY_VARIABLE):
        return tensorrt_rtx_wheel_library() or ""
    return ""


@dataclass(frozen=True)
class RuntimeLibrary:
    """One TensorRT runtime library: whether it loads here, its version, and its path or why
    not."""

    name: str  # "tensorrt", "tensorrt lean", "tensorrt-rtx"
    found: bool
    version: str | None
    detail: str


def _runtime_candidates() -> list[tuple[str, str, str]]:
    """(row name, library, flavour) for every runtime library ``trtpipe info`` reports."""
    from trtpipe import _core

    engine = getattr(_core, "engine", None) if _core.build_info().get("engine_module") else None
    explicit = os.environ.get("TRTPIPE_TENSORRT_LIBRARY")
    rows: list[tuple[str, str, str]] = []
    if explicit:
        rows.append(("tensorrt", explicit, "tensorrt"))
    else:
        names = list(engine.tensorrt_default_libraries) if engine else list(TENSORRT_LIBRARY_NAMES)
        for name in names:
            rows.append(("tensorrt lean" if "lean" in name else "tensorrt", name, "tensorrt"))
    rtx = os.environ.get(TENSORRT_RTX_LIBRARY_VARIABLE) or tensorrt_rtx_wheel_library()
    if rtx:
        rtx_names = [rtx]
    elif engine is not None:
        rtx_names = list(engine.tensorrt_rtx_default_libraries)
    else:
        rtx_names = list(TENSORRT_RTX_LIBRARY_NAMES)
    rows.extend(("tensorrt-rtx", name, "tensorrt-rtx") for name in rtx_names)
    return rows


def _short_reason(candidate: str, text: str) -> str:
    """The loader's reason for one candidate, from its message (one line per candidate)."""
    for line in str(text).splitlines():
        line = line.strip()
        if line.startswith(f"{candidate}: "):
            text = line[len(candidate) + 2 :]
            break
    if "cannot open shared object file" in text:
        return f"not found ({candidate})"
    return " ".join(str(text).split())


def probe_runtime_libraries() -> list[RuntimeLibrary]:
    """Each TensorRT runtime library trtpipe can load (full, lean, TensorRT-RTX): loaded by the
    engine module's own loader where compiled in (same search, same version check)."""
    from trtpipe import _core
    from trtpipe.errors import BackendUnavailableError

    with_loader = bool(_core.build_info().get("engine_module"))
    found: list[RuntimeLibrary] = []
    for row, candidate, flavour in _runtime_candidates():
        if with_loader:
            try:
                lib = _core.engine.load_tensorrt_library(candidate, flavour)
            except BackendUnavailableError as exc:
                found.append(RuntimeLibrary(row, False, None, _short_reason(candidate, str(exc))))
                continue
            found.append(RuntimeLibrary(row, True, lib["version"], _runtime_detail(lib)))
            continue
        try:
            cdll = ctypes.CDLL(candidate)
        except OSError as exc:
            found.append(RuntimeLibrary(row, False, None, _short_reason(candidate, str(exc))))
            continue
        found.append(RuntimeLibrary(row, True, _tensorrt_version(cdll), candidate))
    return found


def _runtime_detail(lib: dict[str, str]) -> str:
    if lib["flavour"] != "tensorrt-rtx":
        return lib["path"]
    from trtpipe import _core

    compiled = _core.engine.tensorrt_compiled_version
    return (
        f"{lib['path']} (deserialises TensorRT-RTX engines; running them is not supported by this "
        f"_core, whose engine module has the TensorRT {compiled} interface)"
    )


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
