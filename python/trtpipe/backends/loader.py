"""``trtpipe.load``: one call from a model file (or a PyTorch module) to a running Engine.

``backend="auto"`` picks, and logs which and why:

* ``.engine`` / ``.plan`` -> TensorRT (refreshed first when its sidecar shows it is stale);
* ``.onnx`` -> TensorRT through the engine cache when a TensorRT runtime and builder are usable
  here, else ONNX Runtime (its CUDA execution provider when installed, else the CPU);
* ``.pt`` / ``.pt2`` / ``.ts`` / ``.jit`` files, ``nn.Module``, TorchScript and ``torch.export``
  programs -> PyTorch.

Every backend module is imported only when it is chosen.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from trtpipe.backends.base import Engine
from trtpipe.errors import BackendUnavailableError, InputError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "tensorrt", "onnxruntime", "torch")
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
TORCH_SUFFIXES = (".pt", ".pt2", ".pth", ".ts", ".jit")

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
        return status.detail
    try:
        _tensorrt_engine_class()
    except BackendUnavailableError as exc:
        return str(exc)
    try:
        from trtpipe.tensorrt_flavour import find_flavour

        flavour = find_flavour("tensorrt")
    except Exception as exc:
        return f"the TensorRT runtime is here but no builder to make engines with ({exc})"
    from trtpipe import _core

    if not _core.query_devices()["gpus"]:
        return f"{flavour.tag} is installed but no GPU is usable to run its engines"
    return None


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
    **options: Any,
) -> Engine:
    """Loads ``model`` on the best available backend (or the one named by ``backend``).

    ``device``: None/"auto", "cpu", "cuda" or "cuda:N". ``options`` go to the backend's
    constructor, except the engine build options (precision, profiles, optimization, workspace,
    calibration, shapes, compute_capabilities, cache_dir), which apply when an ONNX model is built
    into a TensorRT engine.
    """
    if backend not in BACKENDS:
        raise InputError(f"backend: expected one of {list(BACKENDS)}, given {backend!r}")
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
    if backend == "torch":
        return _load_onnx_as_torch(path, device, backend_options)
    why_not = tensorrt_unusable_reason()
    if backend == "tensorrt":
        if why_not:
            raise BackendUnavailableError(f"tensorrt backend: {why_not}")
        return _build_and_load(path, device, backend_options, build_options, "asked for")
    if why_not is None:
        return _build_and_load(
            path, device, backend_options, build_options, "TensorRT is usable here"
        )
    return _load_onnxruntime(path, device, backend_options, f"TensorRT is not: {why_not}")


def _load_onnxruntime(path: Path, device: str | None, options: dict[str, Any], why: str) -> Engine:
    from trtpipe.backends.onnxruntime import OnnxRuntimeEngine

    engine = OnnxRuntimeEngine(path, device=device, **options)
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


def _load_onnx_as_torch(path: Path, device: str | None, options: dict[str, Any]) -> Engine:
    try:
        import onnx2torch  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError(
            f"torch backend: running an ONNX model on PyTorch needs onnx2torch ({exc}); "
            "install it, or use backend='onnxruntime'"
        ) from exc
    from trtpipe.backends.onnx_to_torch import convert_onnx
    from trtpipe.model_metadata import image_size, onnx_metadata

    module, proto = convert_onnx(
        path, options.pop("image_size", None) or image_size(onnx_metadata(path))
    )
    shapes = {
        i.name: tuple(
            d.dim_value if d.HasField("dim_value") else -1 for d in i.type.tensor_type.shape.dim
        )
        for i in proto.graph.input
    }
    options.setdefault("input_shapes", shapes)
    options.setdefault("output_names", [o.name for o in proto.graph.output])
    return _load_torch(module, device, options, f"{path.name} converted by onnx2torch")


def _build_and_load(
    path: Path,
    device: str | None,
    options: dict[str, Any],
    build_options: dict[str, Any],
    why: str,
) -> Engine:
    from trtpipe.engine_cache import EngineCache

    cache = EngineCache(build_options.pop("cache_dir", None))
    cached = cache.get_or_build(path, flavour="tensorrt", **build_options)
    engine = _tensorrt_engine_class()(cached.path, device=device, **options)
    log.info(
        "loaded %s on tensorrt (%s engine %s): %s",
        path.name,
        "freshly built" if cached.built else "cached",
        cached.path.name,
        why,
    )
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
