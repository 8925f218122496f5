"""ONNX -> TensorRT engine builds, with full TensorRT where installed, else TensorRT-RTX.

Optimisation levels (``optimization=``) map to the builder like this:

===================  =========================  =================  ======
optimization         builder_optimization_level  default precision  TF32
===================  =========================  =================  ======
``fastest``          5 (widest tactic search)    fp16 (int8 when    on
                                                 calibration given)
``balanced``         3 (TensorRT's default)      fp16               on
``highest-accuracy`` 3                           fp32               off
===================  =========================  =================  ======

An explicit ``precision`` overrides the level's default. How a precision is obtained depends on the
flavour (:mod:`trtpipe.tensorrt_flavour`):

* full TensorRT 10 (weakly typed): ``fp16`` sets ``BuilderFlag.FP16``; ``int8`` sets
  ``BuilderFlag.INT8`` (+ FP16) and calibrates with TensorRT's entropy calibrator over a folder of
  images, keeping its calibration cache beside the timing cache;
* TensorRT 11 and TensorRT-RTX (strongly typed): the network's types decide, so ``fp16`` converts
  the ONNX model's float32 tensors to float16 before parsing (inputs and outputs stay float32).
  These flavours have no INT8 calibrator: ``int8`` builds a model that already carries Q/DQ nodes
  as it is, and otherwise inserts them by entropy calibration over ``calibration`` (a folder of
  images) with ONNX Runtime's static quantization (see :mod:`trtpipe.calibration`); without
  either it stops with a message saying so.

Dynamic axes need an optimisation profile: ``profiles="1:4:8"`` sets min/opt/max of every dynamic
batch axis (axis 0); ``shapes={"images": (-1, 3, 320, 320)}`` fixes other dynamic axes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trtpipe.arguments import int_arg
from trtpipe.backends.base import Profile, TensorInfo
from trtpipe.engine_info import EngineMetadata, write_sidecar
from trtpipe.errors import BackendUnavailableError, EngineError, InputError, NoGpuError
from trtpipe.tensorrt_flavour import (
    NO_GPU_MESSAGES,
    Flavour,
    find_flavour,
    held_messages,
    make_logger,
)

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class OptimizationLevel:
    builder_level: int
    precision: str
    tf32: bool


OPTIMIZATION_LEVELS: dict[str, OptimizationLevel] = {
    "fastest": OptimizationLevel(builder_level=5, precision="fp16", tf32=True),
    "balanced": OptimizationLevel(builder_level=3, precision="fp16", tf32=True),
    "highest-accuracy": OptimizationLevel(builder_level=3, precision="fp32", tf32=False),
}

BatchRange = tuple[int, int, int]


def parse_batch(text: str) -> BatchRange:
    """ "1:4:8" -> (1, 4, 8); "4" -> (4, 4, 4)."""
    parts = text.split(":")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 1:
        values *= 3
    if len(values) != 3 or not 1 <= values[0] <= values[1] <= values[2]:
        raise InputError(
            f"batch: expected MIN:OPT:MAX with 1 <= MIN <= OPT <= MAX (e.g. 1:4:8), given {text!r}"
        )
    return values[0], values[1], values[2]


@dataclass(frozen=True)
class BuildOptions:
    """Everything that decides an engine's bytes, besides the ONNX model (the cache key's part)."""

    flavour: str
    flavour_version: str
    target: str
    compute_capabilities: tuple[str, ...]  # TensorRT-RTX targets ("CURRENT" on a supported GPU)
    precision: str
    optimization: str
    batch: BatchRange | None
    profiles: tuple[Profile, ...]
    shapes: tuple[tuple[str, tuple[int, ...]], ...]
    workspace: int | None
    calibration: str | None
    calibration_digest: str | None = None  # the images' names, sizes and times

    def key_dict(self) -> dict[str, Any]:
        return {
            "flavour": self.flavour,
            "flavour_version": self.flavour_version,
            "target": self.target,
            "compute_capabilities": list(self.compute_capabilities),
            "precision": self.precision,
            "optimization": self.optimization,
            "batch": list(self.batch) if self.batch else None,
            "profiles": [_profile_dict(p) for p in self.profiles],
            "shapes": {name: list(shape) for name, shape in self.shapes},
            "workspace": self.workspace,
            "calibration": self.calibration,
            "calibration_digest": self.calibration_digest,
        }


@dataclass
class BuiltEngine:
    data: bytes
    metadata: EngineMetadata
    path: Path | None
    seconds: float
    phases: list[str] = field(default_factory=list)


def _profile_dict(p: Profile) -> dict[str, Any]:
    return {k: {n: list(s) for n, s in getattr(p, k).items()} for k in ("min", "opt", "max")}


def _normalise_profiles(
    profiles: str | Sequence[int] | Profile | Sequence[Profile] | None,
) -> tuple[BatchRange | None, tuple[Profile, ...]]:
    def is_integer(value: Any) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))

    def plain(profile: Profile, index: int) -> Profile:
        # every dim a Python int: NumPy ints pass TensorRT but fail the sidecar's JSON dump
        # after the whole build
        shapes: dict[str, dict[str, tuple[int, ...]]] = {}
        for kind in ("min", "opt", "max"):
            shapes[kind] = {}
            for name, shape in dict(getattr(profile, kind)).items():
                dims = list(shape)
                if not all(is_integer(d) for d in dims):
                    raise InputError(
                        f"profiles[{index}].{kind}[{name!r}]: expected integer dims, "
                        f"given {shape!r}"
                    )
                shapes[kind][str(name)] = tuple(int(d) for d in dims)
        return Profile(min=shapes["min"], opt=shapes["opt"], max=shapes["max"])

    if profiles is None:
        return None, ()
    if isinstance(profiles, str):
        return parse_batch(profiles), ()
    if isinstance(profiles, Profile):
        return None, (plain(profiles, 0),)
    items = list(profiles)
    if items and all(isinstance(p, Profile) for p in items):
        return None, tuple(plain(p, i) for i, p in enumerate(items))
    if len(items) == 3 and all(is_integer(v) for v in items):
        return parse_batch(":".join(str(v) for v in items)), ()
    raise InputError(
        "profiles: expected 'MIN:OPT:MAX', (min, opt, max), a Profile or a list of Profiles, "
        f"given {profiles!r}"
    )


def _rtx_compute_capabilities(trt: Any) -> list[str]:
    return [n for n in trt.ComputeCapability.__members__ if n.startswith("SM")]


def _gpu0() -> dict[str, Any] | None:
    from trtpipe import _core

    gpus = _core.query_devices()["gpus"]
    return gpus[0] if gpus else None


def _target(flavour: Flavour, compute_capabilities: Sequence[str] | None) -> tuple[str, tuple]:
    """(target description, RTX compute-capability list) for the key and the builder."""
    gpu = _gpu0()
    if flavour.builds_without_gpu:
        supported = _rtx_compute_capabilities(flavour.module)
        if compute_capabilities:
            wanted = [c.upper().replace(".", "") for c in compute_capabilities]
            wanted = [c if c.startswith("SM") else f"SM{c}" for c in wanted]
            unknown = [c for c in wanted if c not in supported]
            if unknown:
                raise InputError(
                    f"compute_capabilities: expected some of {supported}, given {unknown}"
                )
            return f"cpu-build {' '.join(wanted)}", tuple(wanted)
        if gpu is not None:
            cc = "SM{}{}".format(*gpu["compute_capability"])
            if cc in supported:
                major, minor = gpu["compute_capability"]
                return f"{gpu['name']} (sm {major}.{minor})", ("CURRENT",)
            log.info(
                "%s cannot target this GPU (%s, %s); building for all its targets instead",
                flavour.tag,
                gpu["name"],
                cc,
            )
        return f"cpu-build {' '.join(supported)}", tuple(supported)
    if gpu is None:
        raise NoGpuError(
            f"{flavour.tag} builds engines only on a GPU, and none is usable here; "
            "install TensorRT-RTX (`pip install trtpipe[tensorrt]`) to build without one"
        )
    major, minor = gpu["compute_capability"]
    return f"{gpu['name']} (sm {major}.{minor})", ()


def _check_profile(profile: Profile, index: int) -> None:
    """Every input of ``profile`` with min, opt and max of one rank, each dim >= 1 and
    min <= opt <= max: TensorRT builds an engine for a 0-size profile that no frame can run, and
    a name missing from opt or max would fail with a KeyError while the network is set up."""
    names = set(profile.min)
    for kind in ("opt", "max"):
        if set(getattr(profile, kind)) != names:
            raise InputError(
                f"profiles[{index}].{kind}: expected the inputs of min {sorted(names)}, "
                f"given {sorted(getattr(profile, kind))}"
            )
    for name in sorted(names):
        low, mid, high = profile.min[name], profile.opt[name], profile.max[name]
        if not len(low) == len(mid) == len(high):
            raise InputError(
                f"profiles[{index}][{name!r}]: expected min, opt and max of one rank, "
                f"given {low}, {mid}, {high}"
            )
        for axis, dims in enumerate(zip(low, mid, high, strict=True)):
            if not 1 <= dims[0] <= dims[1] <= dims[2]:
                raise InputError(
                    f"profiles[{index}][{name!r}]: expected 1 <= min <= opt <= max on axis "
                    f"{axis}, given {low}, {mid}, {high}"
                )


def _check_shapes(
    shapes: Mapping[str, Sequence[int]] | None,
) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """``shapes`` as sorted (name, dims) pairs, each dim an int that is -1 (the batch axis left
    to the batch range) or >= 1: a 0-size axis builds an engine that can never run."""
    if shapes is None:
        return ()
    if not isinstance(shapes, Mapping):
        raise InputError(
            "shapes: expected a mapping of input name to dims, e.g. {'images': (-1, 3, 640, "
            f"640)}}, given {type(shapes).__name__} {shapes!r}"
        )
    checked = []
    for name, shape in shapes.items():
        if not isinstance(name, str):
            raise InputError(f"shapes: expected input names as strings, given {name!r}")
        if isinstance(shape, (str, bytes)) or not isinstance(shape, Iterable):
            raise InputError(f"shapes[{name!r}]: expected a sequence of ints, given {shape!r}")
        dims = tuple(int_arg(f"shapes[{name!r}]", d) for d in shape)
        if not dims or any(d == 0 or d < -1 for d in dims):
            raise InputError(
                f"shapes[{name!r}]: expected dims of -1 (batch) or >= 1, given {shape!r}"
            )
        checked.append((name, dims))
    return tuple(sorted(checked))


def _check_compute_capabilities(values: Sequence[str] | str | None) -> tuple[str, ...] | None:
    """``values`` as a tuple of strings ('8.6', 'SM86'); one string is one target (iterating
    it would give one target per character)."""
    if values is None:
        return None
    if isinstance(values, str):
        values = (values,)
    if not isinstance(values, Iterable) or not all(isinstance(v, str) for v in values):
        raise InputError(
            f"compute_capabilities: expected strings such as ['8.6'], given {values!r}"
        )
    return tuple(values)


@dataclass(frozen=True)
class BuildArguments:
    """A build's options as given to :func:`build_engine` or the engine cache, before they are
    checked; the field order is theirs."""

    precision: str | None = None
    profiles: str | Sequence[int] | Profile | Sequence[Profile] | None = None
    optimization: str = "balanced"
    workspace: int | None = None
    calibration: str | os.PathLike[str] | None = None
    shapes: Mapping[str, Sequence[int]] | None = None
    compute_capabilities: Sequence[str] | None = None

    def resolve(self, flavour: str | Flavour | None = None) -> tuple[Flavour, BuildOptions]:
        """Checks the arguments and fixes everything the engine's bytes depend on, for
        ``flavour`` (None: the one found here)."""
        optimization, precision, calibration = self.optimization, self.precision, self.calibration
        # a list or dict here would raise "unhashable type" from the lookup below
        if not isinstance(optimization, str) or optimization not in OPTIMIZATION_LEVELS:
            raise InputError(
                f"optimization: expected one of {list(OPTIMIZATION_LEVELS)}, given {optimization!r}"
            )
        level = OPTIMIZATION_LEVELS[optimization]
        if precision is None:
            precision = (
                "int8" if calibration is not None and optimization == "fastest" else level.precision
            )
        if not isinstance(precision, str) or precision not in PRECISIONS:
            raise InputError(f"precision: expected one of {list(PRECISIONS)}, given {precision!r}")
        workspace = None
        if self.workspace is not None:
            # an int: TensorRT's binding rejects a float with a pybind11 signature dump, and
            # 0 would leave the builder no workspace at all
            workspace = int_arg("workspace", self.workspace)
            if workspace <= 0:
                raise InputError(f"workspace: expected a positive byte count, given {workspace}")
        profiles = self.profiles
        if profiles is not None and not isinstance(profiles, (str, Profile, Iterable)):
            raise InputError(
                "profiles: expected 'MIN:OPT:MAX', (min, opt, max), a Profile or a list of "
                f"Profiles, given {profiles!r}"
            )
        batch, explicit = _normalise_profiles(profiles)
        for index, profile in enumerate(explicit):
            _check_profile(profile, index)
        shapes = _check_shapes(self.shapes)
        ccs_given = _check_compute_capabilities(self.compute_capabilities)
        resolved = flavour if isinstance(flavour, Flavour) else find_flavour(flavour)
        target, ccs = _target(resolved, ccs_given)
        calibration_dir = calibration_digest = None
        if calibration is not None:
            if not isinstance(calibration, (str, os.PathLike)):
                raise InputError(
                    "calibration: expected a folder of images, "
                    f"given {type(calibration).__name__} {calibration!r}"
                )
            calibration_dir = str(Path(calibration).resolve())
            if not Path(calibration_dir).is_dir():
                raise InputError(
                    f"calibration: expected a folder of images, given {str(calibration)!r}"
                )
            if precision == "int8":
                from trtpipe.calibration import images_digest

                calibration_digest = images_digest(calibration_dir)
        options = BuildOptions(
            flavour=resolved.name,
            flavour_version=resolved.version,
            target=target,
            compute_capabilities=ccs,
            precision=precision,
            optimization=optimization,
            batch=batch,
            profiles=explicit,
            shapes=shapes,
            workspace=workspace,
            calibration=calibration_dir,
            calibration_digest=calibration_digest,
        )
        return resolved, options

    def prepare(
        self, onnx: str | os.PathLike[str], flavour: str | Flavour | None = None
    ) -> BuildRequest:
        """The model checked and read, with these arguments resolved for ``flavour``."""
        onnx_path = onnx_file(onnx)
        resolved, options = self.resolve(flavour)
        return BuildRequest(onnx_path, onnx_path.read_bytes(), resolved, options)


@dataclass(frozen=True)
class BuildRequest:
    """What a build starts from: the ONNX model's bytes and the resolved options (the engine
    cache keys on both, so they are read and resolved once)."""

    onnx_path: Path
    onnx_bytes: bytes
    flavour: Flavour
    options: BuildOptions

    @property
    def onnx_sha256(self) -> str:
        return hashlib.sha256(self.onnx_bytes).hexdigest()

    def build(
        self,
        timing_cache: str | os.PathLike[str] | None = None,
        output: str | os.PathLike[str] | None = None,
        progress: bool | None = None,
    ) -> BuiltEngine:
        return build_from_options(
            self.onnx_path,
            self.onnx_bytes,
            self.flavour,
            self.options,
            timing_cache,
            output,
            progress,
        )


def onnx_file(onnx: str | os.PathLike[str]) -> Path:
    """``onnx`` as a Path, which must name an existing file: the first check of every build."""
    if not isinstance(onnx, (str, os.PathLike)):
        raise InputError(f"onnx: expected a file path, given {type(onnx).__name__} {onnx!r}")
    path = Path(onnx)
    if not path.is_file():
        raise InputError(f"onnx: expected an existing ONNX file, given {str(onnx)!r}")
    return path


def _has_qdq(model: Any) -> bool:
    return any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node)


def _calibration_shape(model: Any, options: BuildOptions) -> tuple[str, tuple[int, ...]]:
    """The one input's name and the shape to calibrate with (batch 1; `shapes` fills the rest)."""
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise InputError(
            "calibration: calibrating from images needs a model with one input, given "
            f"{[i.name for i in inputs]}"
        )
    (value,) = inputs
    dims = [
        d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim
    ]
    fixed = dict(options.shapes).get(value.name)
    shape = list(fixed) if fixed is not None else dims
    if options.profiles:
        shape = list(options.profiles[0].opt.get(value.name, shape))
    shape[0] = 1 if shape and shape[0] < 0 else shape[0]
    return value.name, tuple(shape)


def _model_for_precision(
    flavour: Flavour,
    onnx_bytes: bytes,
    options: BuildOptions,
    onnx_path: Path | None = None,
) -> bytes:
    """The ONNX bytes to parse: converted to float16 where a strongly typed flavour builds fp16,
    given Q/DQ nodes by calibration where it builds int8."""
    precision = options.precision
    if not flavour.strongly_typed or precision == "fp32":
        return onnx_bytes

    from trtpipe.onnx_model import read_onnx

    model = read_onnx(onnx_bytes, f"onnx {onnx_path}" if onnx_path else "onnx")
    if precision == "int8":
        if _has_qdq(model):
            return onnx_bytes
        if options.calibration is None:
            raise BackendUnavailableError(
                f"precision 'int8': {flavour.tag} builds strongly typed networks only and has no "
                "INT8 calibrator (no IInt8EntropyCalibrator2, no BuilderFlag.INT8), and the model "
                "has no Q/DQ nodes. Give calibration=<folder of images> (CLI: --calibration DIR) "
                "to quantize it by entropy calibration first, or quantize it yourself "
                "(onnxruntime.quantization with QuantFormat.QDQ, or NVIDIA ModelOpt)"
            )
        from trtpipe.cache_dir import default_cache_dir
        from trtpipe.calibration import quantize_with_calibration

        if onnx_path is None:
            raise InputError("calibration: the model's file path is needed to quantize it")
        name, shape = _calibration_shape(model, options)
        return quantize_with_calibration(
            onnx_path,
            onnx_bytes,
            options.calibration,
            name,
            shape,
            default_cache_dir() / "calibration",
        )
    try:
        from onnxconverter_common import float16
    except ImportError as exc:
        raise BackendUnavailableError(
            f"precision 'fp16' with {flavour.tag} converts the model to float16 first, which "
            f"needs onnxconverter-common ({exc}); install it with `pip install trtpipe[tensorrt]`"
        ) from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it warns about every value it clamps to the fp16 range
        converted = float16.convert_float_to_float16(model, keep_io_types=True)
    return converted.SerializeToString()


def _tensor(trt: Any, tensor: Any, is_input: bool) -> TensorInfo:
    return TensorInfo(
        tensor.name,
        tuple(int(d) for d in tensor.shape),
        np.dtype(trt.nptype(tensor.dtype)),
        is_input,
    )


def _profiles_for(inputs: list[TensorInfo], options: BuildOptions) -> list[Profile]:
    if options.profiles:
        # checked against the model here, where TensorRT would stop with an API usage error
        by_name = {t.name: t for t in inputs}
        for index, profile in enumerate(options.profiles):
            unknown = [n for n in profile.min if n not in by_name]
            if unknown:
                raise InputError(
                    f"profiles[{index}]: expected input names {list(by_name)}, given {unknown}"
                )
            missing = [t.name for t in inputs if t.is_dynamic and t.name not in profile.min]
            if missing:
                raise InputError(
                    f"profiles[{index}]: expected shapes for the dynamic inputs {missing}, "
                    f"given {sorted(profile.min)}"
                )
            for name, low in profile.min.items():
                model_shape = by_name[name].shape
                high = profile.max[name]
                if len(low) != len(model_shape):
                    raise InputError(
                        f"profiles[{index}][{name!r}]: expected {len(model_shape)} axes, "
                        f"given {low}"
                    )
                for axis, want in enumerate(model_shape):
                    if want >= 0 and not low[axis] == high[axis] == want:
                        raise InputError(
                            f"profiles[{index}][{name!r}]: axis {axis} is fixed at {want} by "
                            f"the model, given min {low[axis]}, max {high[axis]}"
                        )
        return list(options.profiles)
    dynamic = [t for t in inputs if t.is_dynamic]
    fixed = dict(options.shapes)
    for name in fixed:
        if name not in {t.name for t in inputs}:
            raise InputError(
                f"shapes: expected input names {[t.name for t in inputs]}, given {name!r}"
            )
    if not dynamic:
        if options.batch is not None:
            raise InputError(
                f"batch: the model has static input shapes {[t.shape for t in inputs]}; "
                "a batch range needs a dynamic batch axis"
            )
        return []
    batch = options.batch
    if batch is None:
        log.warning("the model has dynamic axes and no batch range was given; using batch 1:1:1")
        batch = (1, 1, 1)
    minimum, optimum, maximum = {}, {}, {}
    for t in dynamic:
        base = list(fixed.get(t.name, t.shape))
        if len(base) != len(t.shape):
            raise InputError(f"shapes[{t.name!r}]: expected {len(t.shape)} axes, given {base}")
        for axis, (want, have) in enumerate(zip(t.shape, base, strict=True)):
            if want >= 0 and have != want:
                raise InputError(
                    f"shapes[{t.name!r}]: axis {axis} is fixed at {want} by the model, given {have}"
                )
        for axis in range(1, len(base)):
            if base[axis] < 0:
                raise InputError(
                    f"input {t.name!r}: axis {axis} is dynamic; give its size with "
                    f"shapes={{{t.name!r}: (...)}} (CLI: --shape {t.name}=1x3x640x640)"
                )
        if t.shape[0] >= 0:
            shape = tuple(base)
            minimum[t.name] = optimum[t.name] = maximum[t.name] = shape
            continue
        minimum[t.name] = (batch[0], *base[1:])
        optimum[t.name] = (batch[1], *base[1:])
        maximum[t.name] = (batch[2], *base[1:])
    return [Profile(min=minimum, opt=optimum, max=maximum)]


# What TensorRT-RTX logs when it is given a timing cache to read and there is no GPU (reading one
# needs the CUDA driver), besides the CUDA errors. Harmless: the build goes on without it.
_UNREAD_CACHE_WARNINGS = ("The timing cache will not be used", "Failed to deserialize timing cache")


def _unread_for_want_of_a_gpu(messages: list[tuple[int, str]]) -> str | None:
    """The CUDA error, where ``messages`` (those of reading a timing cache) say only that it was
    not read because no GPU is usable here; else None."""
    shown = [msg for level, msg in messages if level >= logging.WARNING]
    no_gpu = [msg for msg in shown if any(e in msg for e in NO_GPU_MESSAGES)]
    unread = [msg for msg in shown if any(w in msg for w in _UNREAD_CACHE_WARNINGS)]
    if not no_gpu or len(no_gpu) + len(unread) != len(shown):
        return None
    return next(e for e in NO_GPU_MESSAGES if e in no_gpu[0])


def _load_timing_cache(config: Any, flavour: Flavour, path: Path | None, trt_logger: Any) -> bool:
    """Gives the builder the timing cache at ``path`` (an empty one where there is none). False
    where there is no GPU to read the file's content with: the file is then kept as it is, for a
    machine that can, rather than overwritten with this build's (empty) cache."""
    with warnings.catch_warnings():
        # TensorRT-RTX deprecates the timing cache API; its cache still carries compiled code.
        warnings.simplefilter("ignore", DeprecationWarning)
        data = path.read_bytes() if path is not None and path.is_file() else b""
        with held_messages() as messages:
            cache = config.create_timing_cache(data)
        no_gpu = _unread_for_want_of_a_gpu(messages) if data else None
        if no_gpu is not None:
            # One line instead of TensorRT-RTX's two CUDA errors and two warnings.
            log.debug(
                "timing cache %s not read: %s reads it only with a usable GPU (%s); building "
                "without it",
                path,
                flavour.tag,
                no_gpu,
            )
            trt_logger.replay([(level, msg) for level, msg in messages if level < logging.WARNING])
        else:
            trt_logger.replay(messages)
        readable = no_gpu is None
        if cache is None and data:
            log.warning("timing cache %s is unreadable (another TensorRT?); starting afresh", path)
            cache = config.create_timing_cache(b"")
        config.set_timing_cache(cache, True)  # True: ignore a cache from another device
    return readable


def _save_timing_cache(config: Any, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cache = config.get_timing_cache()
        data = bytes(cache.serialize()) if cache is not None else b""
    if data:
        _atomic_write(path, data)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        # a failed write or rename (path is a folder, disk full, ^C) must not leave a whole
        # engine's worth of hidden temp file beside the target
        tmp.unlink(missing_ok=True)
        raise


def build_engine(
    onnx: str | os.PathLike[str],
    precision: str | None = None,
    profiles: str | Sequence[int] | Profile | Sequence[Profile] | None = None,
    optimization: str = "balanced",
    workspace: int | None = None,
    timing_cache: str | os.PathLike[str] | None = None,
    calibration: str | os.PathLike[str] | None = None,
    output: str | os.PathLike[str] | None = None,
    *,
    shapes: Mapping[str, Sequence[int]] | None = None,
    compute_capabilities: Sequence[str] | None = None,
    flavour: str | Flavour | None = None,
    progress: bool | None = None,
) -> BuiltEngine:
    """Builds a TensorRT engine from an ONNX file (see the module docstring for the options).

    ``output``: where to write the engine (atomically, with its ``.json`` sidecar); None keeps it
    in memory only. ``timing_cache``: a file read before and written after the build.
    ``compute_capabilities``: TensorRT-RTX targets such as ("8.6", "12.0") (default: the GPU here
    if it is supported, else every target it has). ``progress``: show a progress display (None:
    when stderr is a terminal).
    """
    arguments = BuildArguments(
        precision, profiles, optimization, workspace, calibration, shapes, compute_capabilities
    )
    return arguments.prepare(onnx, flavour).build(timing_cache, output, progress)


def build_from_options(
    onnx_path: Path,
    onnx_bytes: bytes,
    flavour: Flavour,
    options: BuildOptions,
    timing_cache: str | os.PathLike[str] | None = None,
    output: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
) -> BuiltEngine:
    """Builds with options already resolved by :meth:`BuildArguments.resolve` (see
    :meth:`BuildRequest.build`)."""
    from trtpipe.build_progress import make_progress_monitor

    trt = flavour.module
    level = OPTIMIZATION_LEVELS[options.optimization]
    started = time.perf_counter()
    trt_logger = make_logger(flavour, log)
    builder = trt.Builder(trt_logger)
    if builder is None:
        raise EngineError(f"{flavour.tag}: could not create a builder: {trt_logger.errors}")
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, trt_logger)
    model_bytes = _model_for_precision(flavour, onnx_bytes, options, onnx_path)
    if not parser.parse(model_bytes, str(onnx_path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise EngineError(f"{flavour.tag} could not parse {str(onnx_path)!r}: {errors}")
    inputs = [_tensor(trt, network.get_input(i), True) for i in range(network.num_inputs)]
    outputs = [_tensor(trt, network.get_output(i), False) for i in range(network.num_outputs)]

    config = builder.create_builder_config()
    config.builder_optimization_level = level.builder_level
    if level.tf32:
        config.set_flag(trt.BuilderFlag.TF32)
    else:
        config.clear_flag(trt.BuilderFlag.TF32)
    if options.workspace is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace)
    if options.compute_capabilities:
        config.num_compute_capabilities = len(options.compute_capabilities)
        for i, name in enumerate(options.compute_capabilities):
            config.set_compute_capability(getattr(trt.ComputeCapability, name), i)
    built_profiles = _profiles_for(inputs, options)
    for p in built_profiles:
        profile = builder.create_optimization_profile()
        for name in p.min:
            profile.set_shape(name, p.min[name], p.opt[name], p.max[name])
        config.add_optimization_profile(profile)
    calibrator = None
    if not flavour.strongly_typed and options.precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if not flavour.strongly_typed and options.precision == "int8":
        calibrator = _int8_calibrator(
            flavour, options, inputs, built_profiles, timing_cache, onnx_bytes
        )
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = calibrator
        if built_profiles:
            calibration_profile = builder.create_optimization_profile()
            for name in built_profiles[0].opt:
                shape = built_profiles[0].opt[name]
                calibration_profile.set_shape(name, shape, shape, shape)
            config.set_calibration_profile(calibration_profile)
    cache_path = Path(timing_cache) if timing_cache is not None else None
    cache_read = _load_timing_cache(config, flavour, cache_path, trt_logger)
    monitor, display = make_progress_monitor(trt, progress)
    config.progress_monitor = monitor
    log.info(
        "building %s engine from %s (%s, %s, target %s)",
        flavour.tag,
        onnx_path.name,
        options.precision,
        options.optimization,
        options.target,
    )
    if display is not None:
        with display:
            serialized = builder.build_serialized_network(network, config)
    else:
        serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineError(
            f"{flavour.tag} could not build an engine from {str(onnx_path)!r}: "
            f"{'; '.join(trt_logger.errors) or 'no reason given'}"
        )
    data = bytes(serialized)
    seconds = time.perf_counter() - started
    if cache_path is not None and cache_read:
        _save_timing_cache(config, cache_path)
    metadata = EngineMetadata(
        flavour=flavour.name,
        flavour_version=flavour.version,
        target=options.target,
        onnx_path=str(onnx_path.resolve()),
        onnx_sha256=hashlib.sha256(onnx_bytes).hexdigest(),
        options=options.key_dict(),
        precision=options.precision,
        inputs=inputs,
        outputs=outputs,
        profiles=built_profiles,
        engine_sha256=hashlib.sha256(data).hexdigest(),
        engine_bytes=len(data),
        build_seconds=seconds,
    )
    out_path = None
    if output is not None:
        out_path = Path(output)
        _atomic_write(out_path, data)
        write_sidecar(out_path, metadata)
    log.info("built %s engine in %.2f s (%d bytes)", flavour.tag, seconds, len(data))
    return BuiltEngine(data, metadata, out_path, seconds, list(monitor.phases_seen))


def _int8_calibrator(
    flavour: Flavour,
    options: BuildOptions,
    inputs: list[TensorInfo],
    profiles: list[Profile],
    timing_cache: str | os.PathLike[str] | None,
    onnx_bytes: bytes,
) -> Any:
    if not flavour.has_int8_calibration:
        raise BackendUnavailableError(f"precision 'int8': {flavour.tag} has no INT8 calibrator")
    if options.calibration is None:
        raise InputError(
            "calibration: precision 'int8' needs a folder of calibration images, given None"
        )
    from trtpipe.calibration import EntropyCalibrator

    if len(inputs) != 1:
        raise InputError(
            f"calibration: calibrating from images needs a model with one input, given "
            f"{[t.name for t in inputs]}"
        )
    shape = profiles[0].opt[inputs[0].name] if profiles else inputs[0].shape
    key = json.dumps(options.key_dict(), sort_keys=True).encode()
    digest = hashlib.sha256(hashlib.sha256(onnx_bytes).digest() + key).hexdigest()
    cache_dir = Path(timing_cache).parent if timing_cache else Path(options.calibration)
    return EntropyCalibrator(
        flavour.module, options.calibration, tuple(shape), cache_dir / f"int8-{digest[:16]}.cache"
    )
