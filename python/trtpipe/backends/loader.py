"""``trtpipe.load``: one call from a model file (or a PyTorch module) to a running Engine.

``backend="auto"`` picks the fastest backend that is really usable here, and logs one short line
saying which and, in a few words each, why not the faster ones (the full reasons at DEBUG):

* ``.engine`` / ``.plan`` -> TensorRT (refreshed first when its sidecar shows it is stale);
* ``.onnx`` -> the first of (see :func:`choose_onnx_backend`)

  1. TensorRT through the engine cache, when a TensorRT runtime and builder are usable here;
  2. PyTorch on the GPU (the model converted by onnx2torch, run as a CUDA graph), when PyTorch,
     onnx and onnx2torch are installed, ``trtpipe._core`` is built with CUDA and sees a GPU, and
     ``torch.cuda.is_available()``; a model the conversion fails on goes on to ONNX Runtime,
     with a warning saying why;
  3. ONNX Runtime: its CUDA execution provider when installed, else the CPU.

  ``device="cpu"`` skips the first two;
* ``.pt`` / ``.pt2`` / ``.ts`` / ``.jit`` files, ``nn.Module``, TorchScript and ``torch.export``
  programs -> PyTorch.

Every backend module is imported only when it is chosen or probed; PyTorch is imported by the
probe only when it is installed and a GPU is visible to ``_core``.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtpipe.backends.base import Engine
from trtpipe.errors import BackendUnavailableError, InputError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "tensorrt", "onnxruntime", "torch")
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
TORCH_SUFFIXES = (".pt", ".pt2", ".pth", ".ts", ".jit")

#: the ``--backend`` help of the commands: what ``backend="auto"`` does with an ONNX model
BACKEND_HELP = (
    "tensorrt, onnxruntime, torch or auto (the default: for an ONNX model TensorRT when usable, "
    "else PyTorch on the GPU, else ONNX Runtime; the choice and why are logged)"
)

# What the PyTorch path for ONNX models needs installed: the runtime, and the converter with the
# ONNX package it reads models with.
TORCH_ONNX_PACKAGES = ("torch", "onnx", "onnx2torch")

# Options that belong to the engine build (the cache) rather than to a backend.
_BUILD_OPTIONS = (
    "precision",
    "profiles",
    "optimization",
    "workspace",
    "calibration",
    "shapes",
    "compute_capabilities",
    "cache_dir",
)

# Options the ONNX-on-PyTorch path takes besides TorchEngine's own.
_TORCH_ONNX_OPTIONS = ("image_size",)

# Longest reason a one-line auto log gives for passing over a backend (the full text is at DEBUG).
_SHORT_REASON = 40


class Reason(str):
    """Why a backend is not usable here: the full text, and ``short``, a few words of it for the
    one-line log of ``backend="auto"``."""

    short: str

    def __new__(cls, text: str, short: str) -> Reason:
        reason = super().__new__(cls, text)
        reason.short = short
        return reason

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return Reason, (str(self), self.short)


def _tensorrt_engine_class() -> Any:
    try:
        from trtpipe.backends.tensorrt import TensorRTEngine
    except ImportError as exc:
        raise BackendUnavailableError(
            f"tensorrt backend: trtpipe.backends.tensorrt is not available ({exc})"
        ) from exc
    return TensorRTEngine


def tensorrt_unusable_reason() -> str | None:
    """Why ONNX models cannot go through TensorRT here (None: they can)."""
    from trtpipe.backends.availability import probe_tensorrt

    status = probe_tensorrt()
    if not status.available:
        return Reason(status.detail, "no runtime")
    try:
        _tensorrt_engine_class()
    except BackendUnavailableError as exc:
        return Reason(str(exc), "no engine module")
    try:
        from trtpipe.tensorrt_flavour import find_flavour

        flavour = find_flavour("tensorrt")
    except Exception as exc:
        return Reason(
            f"the TensorRT runtime is here but no builder to make engines with ({exc})",
            "no builder",
        )
    from trtpipe import _core

    if not _core.query_devices()["gpus"]:
        return Reason(
            f"{flavour.tag} is installed but no GPU is usable to run its engines", "no GPU"
        )
    return None


def check_device(device: Any) -> None:
    """InputError unless ``device`` is None, "auto", "cpu", "cuda" or "cuda:N"."""
    if device in (None, "auto", "cpu", "cuda"):
        return
    if isinstance(device, str) and device.startswith("cuda:") and device[5:].isdigit():
        return
    raise InputError(f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', given {device!r}")


def _cuda_index(device: str | None) -> int | None:
    """The GPU index ``device`` names (None/"auto"/"cuda": 0); None where it names no GPU."""
    if device in (None, "auto", "cuda"):
        return 0
    kind, _, index = str(device).partition(":")
    return int(index) if kind == "cuda" and index.isdigit() else None


def torch_gpu_unusable_reason(device: str | None = None) -> str | None:
    """Why ONNX models cannot run on PyTorch's GPU path here (None: they can).

    Cheapest first: PyTorch, onnx and onnx2torch installed (looked up, not imported),
    ``trtpipe._core`` built with CUDA and seeing a GPU; only then is PyTorch imported, to ask
    ``torch.cuda.is_available()`` and whether it sees the GPU ``device`` names.
    """
    index = _cuda_index(device)
    if index is None:
        return Reason(f"device {device!r} asked for, not a GPU", f"{device} asked for")
    from trtpipe.backends.availability import is_installed

    missing = [name for name in TORCH_ONNX_PACKAGES if not is_installed(name)]
    if missing:
        return Reason(f"{', '.join(missing)} not installed", "not installed")
    from trtpipe import _core

    if not _core.build_info()["with_cuda"]:
        return Reason("trtpipe._core was built without CUDA", "trtpipe built without CUDA")
    devices = _core.query_devices()
    if not devices["gpus"]:
        return Reason(f"no GPU visible to trtpipe._core ({devices['reason']})", "no GPU")
    try:
        import torch
    except Exception as exc:  # installed but broken: not usable, and why
        return Reason(f"PyTorch failed to import ({exc})", "PyTorch failed to import")
    if not torch.cuda.is_available():
        return Reason("torch.cuda.is_available() is False", "no CUDA in PyTorch")
    count = torch.cuda.device_count()
    if index >= count:
        return Reason(
            f"device {device!r} asked for, PyTorch sees {count} GPU(s)",
            f"PyTorch sees {count} GPU(s)",
        )
    return None


def _foreign_torch_options(options: Mapping[str, Any]) -> str | None:
    """Why ``options`` rule the PyTorch path out (None: they do not): any it does not take."""
    if not options:
        return None
    from trtpipe.backends.torch import TorchEngine  # imports PyTorch only when an engine is made

    accepted = set(inspect.signature(TorchEngine.__init__).parameters) - {"self", "model"}
    foreign = sorted(set(options) - accepted - set(_TORCH_ONNX_OPTIONS))
    if not foreign:
        return None
    return Reason(
        f"options {', '.join(foreign)} are not the torch backend's",
        f"takes no {', '.join(foreign)}",
    )


def _short(reason: str) -> str:
    """A few words of a probe's reason, for the one-line log: its ``short`` where it is a
    :class:`Reason`, else its first clause without its parenthesis, cut short."""
    short = getattr(reason, "short", None) or " ".join(reason.split()).split("; ")[0].split(" (")[0]
    return short if len(short) <= _SHORT_REASON else short[: _SHORT_REASON - 3] + "..."


@dataclass(frozen=True)
class AutoChoice:
    """What ``backend="auto"`` runs an ONNX model on here, and why each faster one was not."""

    backend: str  # "tensorrt", "torch" or "onnxruntime"
    passed_over: tuple[tuple[str, str], ...] = ()  # (backend, why not), fastest first

    def reasons(self) -> str:
        """``"TensorRT: why not; PyTorch GPU: why not"``, each reason cut short."""
        return "; ".join(f"{name}: {_short(why)}" for name, why in self.passed_over)


def choose_onnx_backend(
    device: str | None = None, options: Mapping[str, Any] | None = None
) -> AutoChoice:
    """What ``load(model.onnx, backend="auto", device=device, **options)`` runs the model on,
    from the probes alone (the model is not read): TensorRT when usable, else PyTorch on the
    GPU when usable, else ONNX Runtime. ``device="cpu"`` leaves only ONNX Runtime."""
    if device == "cpu":
        why = Reason("device 'cpu' asked for", "cpu asked for")
        return AutoChoice("onnxruntime", (("TensorRT", why), ("PyTorch GPU", why)))
    passed_over: list[tuple[str, str]] = []
    why = tensorrt_unusable_reason()
    if why is None:
        return AutoChoice("tensorrt")
    passed_over.append(("TensorRT", why))
    why = torch_gpu_unusable_reason(device) or _foreign_torch_options(options or {})
    if why is None:
        return AutoChoice("torch", tuple(passed_over))
    passed_over.append(("PyTorch GPU", why))
    return AutoChoice("onnxruntime", tuple(passed_over))


def _is_torch_object(model: Any) -> bool:
    return type(model).__module__.split(".")[0] == "torch" or any(
        c.__module__.startswith("torch.") for c in type(model).__mro__
    )


def _split_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    build = {k: options.pop(k) for k in list(options) if k in _BUILD_OPTIONS}
    return build, options


def load(
    model: str | os.PathLike[str] | Any,
    backend: str = "auto",
    device: str | None = None,
    *,
    max_batch: int = 1,
    **options: Any,
) -> Engine:
    """Loads ``model`` on the best available backend (or the one named by ``backend``).

    ``device``: None/"auto", "cpu", "cuda" or "cuda:N". ``max_batch``: the largest batch the
    engine will run, for an ONNX model with a dynamic batch axis: PyTorch converts it at batch
    buckets 1, 2, 4, ... up to it (one CUDA graph each), and a TensorRT build without
    ``profiles`` gets the profile 1:max_batch:max_batch. ``options`` go to the backend's
    constructor, except the engine build options (precision, profiles, optimization, workspace,
    calibration, shapes, compute_capabilities, cache_dir), which apply when an ONNX model is built
    into a TensorRT engine. With ``backend="auto"`` an ONNX model goes to TensorRT, else PyTorch
    on the GPU, else ONNX Runtime (see :func:`choose_onnx_backend`), and one INFO line on the
    ``trtpipe.backends.loader`` logger says which and why.
    """
    if backend not in BACKENDS:
        raise InputError(f"backend: expected one of {list(BACKENDS)}, given {backend!r}")
    check_device(device)
    if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
        raise InputError(f"max_batch: expected an int >= 1, given {max_batch!r}")
    build_options, backend_options = _split_options(dict(options))
    if not isinstance(model, (str, os.PathLike)):
        if not _is_torch_object(model):
            raise InputError(
                "model: expected a path (.onnx, .engine, .pt, .pt2) or a PyTorch module, "
                f"given {type(model).__name__}"
            )
        if backend not in ("auto", "torch"):
            raise InputError(f"backend: a PyTorch module runs on 'torch', given {backend!r}")
        return _load_torch(model, device, backend_options, "a PyTorch object was given")
    path = Path(model)
    if not path.is_file():
        raise InputError(f"model: expected an existing model file, given {str(path)!r}")
    suffix = path.suffix.lower()
    if suffix in ENGINE_SUFFIXES:
        if backend not in ("auto", "tensorrt"):
            raise InputError(
                f"backend: a serialized TensorRT engine runs on 'tensorrt', given {backend!r}"
            )
        return _load_tensorrt_engine(path, device, backend_options, build_options)
    if suffix in TORCH_SUFFIXES:
        if backend not in ("auto", "torch"):
            raise InputError(f"backend: {suffix} files run on 'torch', given {backend!r}")
        return _load_torch(path, device, backend_options, f"{suffix} is a PyTorch file")
    if suffix != ".onnx":
        raise InputError(
            "model: expected a file ending in .onnx, "
            f"{', '.join(ENGINE_SUFFIXES + TORCH_SUFFIXES)}, given {path.name!r}"
        )
    if backend == "onnxruntime":
        return _load_onnxruntime(path, device, backend_options, "asked for")
    if max_batch > 1:
        backend_options["max_batch"] = max_batch  # consumed by the PyTorch conversion only
        if "profiles" not in build_options and _has_dynamic_batch(path):
            build_options["profiles"] = f"1:{max_batch}:{max_batch}"
    if backend == "torch":
        return _load_onnx_as_torch(path, device, backend_options)
    backend_options.pop("max_batch", None)
    if backend == "tensorrt":
        why_not = tensorrt_unusable_reason()
        if why_not:
            raise BackendUnavailableError(f"tensorrt backend: {why_not}")
        return _build_and_load(path, device, backend_options, build_options, "asked for")
    return _load_onnx_auto(path, device, backend_options, build_options, max_batch)


def _has_dynamic_batch(path: Path) -> bool:
    """Whether the ONNX model's inputs all have a dynamic batch axis (False without onnx)."""
    from trtpipe.backends.onnx_to_torch import has_dynamic_batch
    from trtpipe.onnx_model import read_onnx

    try:
        return has_dynamic_batch(read_onnx(path))
    except BackendUnavailableError:
        return False


def _load_onnx_auto(
    path: Path,
    device: str | None,
    options: dict[str, Any],
    build_options: dict[str, Any],
    max_batch: int = 1,
) -> Engine:
    choice = choose_onnx_backend(device, options)
    for name, why in choice.passed_over:
        log.debug("backend auto for %s: not %s: %s", path.name, name, why)
    if choice.backend == "tensorrt":
        engine, note = _open_built_engine(path, device, options, build_options)
        _log_auto(engine, note)
        return engine
    passed_over = list(choice.passed_over)
    if choice.backend == "torch":
        try:
            batch = {"max_batch": max_batch} if max_batch > 1 else {}
            engine = _open_onnx_as_torch(path, device, {**options, **batch})
        except Exception as exc:  # a conversion or capture failure: ONNX Runtime runs it still
            first_line = (str(exc).strip().splitlines() or [""])[0]
            why = Reason(
                f"could not run {path.name} ({type(exc).__name__}: {first_line})",
                f"failed ({type(exc).__name__})",
            )
            log.warning("backend auto: PyTorch %s; falling back to ONNX Runtime", why)
            log.debug("backend auto: the PyTorch failure", exc_info=True)
            passed_over.append(("PyTorch GPU", why))
        else:
            _log_auto(engine, AutoChoice("torch", tuple(passed_over)).reasons())
            return engine
    engine = _open_onnxruntime(path, device, options)
    _log_auto(engine, AutoChoice("onnxruntime", tuple(passed_over)).reasons())
    return engine


def _log_auto(engine: Engine, why: str) -> None:
    """The one INFO line of ``backend="auto"``: the backend, the device and a few words of why
    (the full reasons are logged at DEBUG)."""
    log.info("backend auto: %s on %s (%s)", engine.backend, engine.device, why)


def _open_onnxruntime(path: Path, device: str | None, options: dict[str, Any]) -> Any:
    from trtpipe.backends.onnxruntime import OnnxRuntimeEngine

    return OnnxRuntimeEngine(path, device=device, **options)


def _load_onnxruntime(path: Path, device: str | None, options: dict[str, Any], why: str) -> Engine:
    engine = _open_onnxruntime(path, device, options)
    log.info(
        "loaded %s on onnxruntime (%s, providers %s): %s",
        path.name,
        engine.device,
        ", ".join(engine.providers),
        why,
    )
    return engine


def _load_torch(model: Any, device: str | None, options: dict[str, Any], why: str) -> Engine:
    from trtpipe.backends.torch import TorchEngine

    engine = TorchEngine(model, device=device, **options)
    log.info(
        "loaded %s on torch (%s): %s",
        getattr(model, "name", type(model).__name__),
        engine.device,
        why,
    )
    return engine


def _open_onnx_as_torch(path: Path, device: str | None, options: dict[str, Any]) -> Engine:
    """The ONNX model converted by onnx2torch, on a TorchEngine (``options`` is consumed)."""
    try:
        import onnx2torch  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError(
            f"torch backend: running an ONNX model on PyTorch needs onnx2torch ({exc}); "
            "install it, or use backend='onnxruntime'"
        ) from exc
    from trtpipe.backends.onnx_to_torch import convert_onnx, onnx_input_dtypes
    from trtpipe.backends.torch import TorchEngine
    from trtpipe.model_metadata import image_size, onnx_metadata

    module, proto = convert_onnx(
        path,
        options.pop("image_size", None) or image_size(onnx_metadata(path)),
        options.pop("max_batch", 1),
    )
    shapes = {
        i.name: tuple(
            d.dim_value if d.HasField("dim_value") else -1 for d in i.type.tensor_type.shape.dim
        )
        for i in proto.graph.input
    }
    options.setdefault("input_shapes", shapes)
    options.setdefault("input_dtypes", onnx_input_dtypes(proto))
    options.setdefault("output_names", [o.name for o in proto.graph.output])
    return TorchEngine(module, device=device, **options)


def _load_onnx_as_torch(path: Path, device: str | None, options: dict[str, Any]) -> Engine:
    engine = _open_onnx_as_torch(path, device, options)
    log.info(
        "loaded %s on torch (%s): asked for, converted by onnx2torch", path.name, engine.device
    )
    return engine


def _open_built_engine(
    path: Path, device: str | None, options: dict[str, Any], build_options: dict[str, Any]
) -> tuple[Engine, str]:
    """The ONNX model built into a TensorRT engine (or taken from the cache), and a note
    saying which."""
    from trtpipe.engine_cache import EngineCache

    cache = EngineCache(build_options.pop("cache_dir", None))
    cached = cache.get_or_build(path, flavour="tensorrt", **build_options)
    engine = _tensorrt_engine_class()(cached.path, device=device, **options)
    note = f"{'freshly built' if cached.built else 'cached'} engine {cached.path.name}"
    return engine, note


def _build_and_load(
    path: Path,
    device: str | None,
    options: dict[str, Any],
    build_options: dict[str, Any],
    why: str,
) -> Engine:
    engine, note = _open_built_engine(path, device, options, build_options)
    log.info("loaded %s on tensorrt (%s): %s", path.name, note, why)
    return engine


def _load_tensorrt_engine(
    path: Path, device: str | None, options: dict[str, Any], build_options: dict[str, Any]
) -> Engine:
    from trtpipe.engine_info import read_sidecar

    engine_class = _tensorrt_engine_class()
    if read_sidecar(path) is not None:
        from trtpipe.engine_cache import EngineCache

        refreshed = EngineCache(build_options.pop("cache_dir", None)).refresh(path)
        why = "rebuilt first: it was stale" if refreshed.built else "its sidecar matches"
    else:
        why = "no sidecar, so its freshness is not checked"
    engine = engine_class(path, device=device, **options)
    log.info("loaded %s on tensorrt: %s", path.name, why)
    return engine
