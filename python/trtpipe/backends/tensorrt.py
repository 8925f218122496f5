"""TensorRT backend: a serialised engine whose frames run in ``_core``'s frame pipeline.

The runtime library is loaded at run time, the one of the engine's flavour: for TensorRT
``TRTPIPE_TENSORRT_LIBRARY``, else ``libnvinfer.so.<major>``, else the lean runtime; for an engine
built with TensorRT-RTX (its sidecar says so) ``TRTPIPE_TENSORRT_RTX_LIBRARY``, else the
``tensorrt-rtx-cu13-libs`` wheel's library, else ``libtensorrt_rtx.so.1``. So this module imports
everywhere and says why it cannot run where a runtime or the compiled engine module is missing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trtpipe import _core
from trtpipe.backends.availability import runtime_library_for
from trtpipe.backends.base import Engine, ModelStep, PendingResult, Profile, TensorInfo
from trtpipe.errors import BackendUnavailableError, EngineError, InputError
from trtpipe.frame_pipeline import TensorFrames
from trtpipe.memory import OwnPool

logger = logging.getLogger(__name__)


def engine_module_unavailable_reason() -> str | None:
    """Why this ``_core`` cannot run TensorRT engines, or None when it can (given the library)."""
    build = _core.build_info()
    if not build["with_cuda"]:
        return "trtpipe._core was built without CUDA, so it has no TensorRT engine module"
    if not build.get("engine_module"):
        return (
            "trtpipe._core was built without TensorRT headers, so its TensorRT engine module was "
            "left out (rebuild with TENSORRT_ROOT pointing at a TensorRT SDK or headers)"
        )
    return None


def _device_index(device: int | str | None) -> int:
    """0 for None / "cuda"; N for N / "cuda:N"."""
    if device is None or device == "cuda":
        return 0
    if isinstance(device, int) and device >= 0:
        return device
    if isinstance(device, str) and device.startswith("cuda:") and device[5:].isdigit():
        return int(device[5:])
    raise InputError(f"device: expected None, a GPU index or 'cuda:N', given {device!r}")


def _engine_module() -> Any:
    reason = engine_module_unavailable_reason()
    if reason is not None:
        raise BackendUnavailableError(reason)
    return _core.engine


def _check_pool(field: str, pool: object, kind: str) -> None:
    """None, or a trtpipe pool of `kind` ("DevicePool" / "PinnedPool")."""
    if pool is None:
        return
    cls = getattr(_core, kind, None)
    if cls is None or not isinstance(pool, cls):
        raise InputError(f"{field}: expected a trtpipe.{kind} or None, given {type(pool).__name__}")


def _check_pool_device(options: _LoopOptions, device: int) -> None:
    """The pools given must be on the engine's GPU (said when the engine is made, not later when
    its first frame takes its buffers)."""
    for field, pool, where in (
        ("device_pool", options.device_pool, "a pool on"),
        ("pinned_pool", options.pinned_pool, "a pool mapped to"),
    ):
        if pool is not None and pool.device != device:
            given = where.replace("a pool", "one")
            raise InputError(
                f"{field}: expected {where} GPU {device} (the engine's), given {given} GPU "
                f"{pool.device}"
            )


# What the native pipeline takes as it is: a dict by name, or a list / tuple in the engine's order.
_NATIVE_INPUTS = (dict, list, tuple)
_new_object = object.__new__


def _native_inputs(inputs: Mapping[str, Any] | Sequence[Any]) -> dict[str, Any] | list[Any]:
    if isinstance(inputs, Mapping):
        return dict(inputs)
    return list(inputs)


@dataclass(frozen=True)
class _LoopOptions:
    """The per-frame loop's settings, checked once (see :class:`TensorRTEngine`)."""

    slots: int = 2
    cuda_graphs: bool = True
    profile: int = 0
    timeout: float | None = 5.0
    device_pool: Any = None
    pinned_pool: Any = None

    def __post_init__(self) -> None:
        _check_pool("device_pool", self.device_pool, "DevicePool")
        _check_pool("pinned_pool", self.pinned_pool, "PinnedPool")
        if self.timeout is not None and self.timeout <= 0:
            raise InputError(f"timeout: expected seconds > 0 or None, given {self.timeout!r}")


class TensorRTPending(PendingResult):
    """A frame in flight on a :class:`TensorRTEngine`. (A plain slotted class, not a dataclass:
    one is made per frame.)"""

    __slots__ = ("engine", "ticket")

    def __init__(self, engine: TensorRTEngine, ticket: int) -> None:
        self.engine = engine
        self.ticket = ticket

    def __repr__(self) -> str:
        return f"TensorRTPending(ticket={self.ticket})"


class _LazyFrames:
    """Stands in for the engine's :class:`TensorFrames` until first used, then makes it (the
    engine's ``_frames`` is the real one from then on)."""

    __slots__ = ("_engine",)

    def __init__(self, engine: TensorRTEngine) -> None:
        self._engine = engine

    def __getattr__(self, name: str) -> Any:
        frames = self._engine._frames
        if frames is self:
            frames = self._engine._make_frames()
        elif frames is None:
            raise EngineError("this TensorRT engine was closed")
        return getattr(frames, name)


class TensorRTEngine(Engine):
    """Runs a serialised TensorRT engine in trtpipe's frame pipeline: one execution context,
    pinned outputs, CUDA graphs and pipelined frames.

    ``engine`` is a path to an engine file or its bytes. ``slots`` frames can be in flight at
    once (``submit`` without ``result``); ``cuda_graphs`` runs a frame as one captured graph
    while shapes repeat; ``timeout`` (seconds, None: wait forever) bounds every wait.

    ``flavour`` ("tensorrt" or "tensorrt-rtx") says which runtime library deserialises the
    engine (default: what its sidecar records, else "tensorrt"); ``library`` names that library's
    file instead of searching for it. An engine TensorRT-RTX refuses (another GPU, no usable GPU,
    a corrupt plan) is an EngineError in TensorRT-RTX's own words; one it accepts is a
    BackendUnavailableError, as this ``_core`` runs TensorRT engines only (its engine module is
    compiled against TensorRT 10 headers, and TensorRT-RTX's engine interface differs).

    Every buffer (bindings at the profile's largest shapes, the slots' outputs) is a block of a
    pool, taken once when the first frame comes: ``device_pool`` (a
    :class:`trtpipe.DevicePool`) and ``pinned_pool`` (a :class:`trtpipe.PinnedPool`) share
    pools with the rest of the pipeline; a pool left as None is made to hold exactly this
    engine's buffers. Either way, :attr:`device_pool` and :attr:`pinned_pool` can be handed to
    ``PerformanceMonitor.add_pool``. A :class:`trtpipe.Detector` runs its frames through a model
    step of its own (:meth:`model_step`) and never makes these buffers.
    """

    backend = "tensorrt"
    flavour = "tensorrt"  # the runtime library's flavour: "tensorrt" or "tensorrt-rtx"
    _frames: Any = None  # None once closed, or when construction failed
    _bindings: Any = None  # the ContextStep of the frames, once made

    def __init__(
        self,
        engine: str | os.PathLike[str] | bytes,
        *,
        library: str | None = None,
        flavour: str | None = None,
        device: int | str | None = None,
        slots: int = 2,
        cuda_graphs: bool = True,
        profile: int = 0,
        timeout: float | None = 5.0,
        device_pool: Any = None,
        pinned_pool: Any = None,
    ) -> None:
        options = _LoopOptions(slots, cuda_graphs, profile, timeout, device_pool, pinned_pool)
        module = _engine_module()
        index = _device_index(device)
        if isinstance(engine, bytes | bytearray | memoryview):
            self.flavour = flavour or "tensorrt"
            runtime = runtime_library_for(self.flavour, library)
            model = module.load_tensorrt_bytes(bytes(engine), runtime, index, self.flavour)
        else:
            from trtpipe.engine_info import read_sidecar

            built = read_sidecar(engine)  # the build's record beside the file, where written
            self.precision = built.precision if built is not None else None
            self.flavour = flavour or (built.flavour if built is not None else "tensorrt")
            runtime = runtime_library_for(self.flavour, library)
            model = module.load_tensorrt_file(os.fspath(Path(engine)), runtime, index, self.flavour)
        self._setup(model, index, options)

    @classmethod
    def from_model(
        cls, model: Any, *, device: int | str | None = None, **options: Any
    ) -> TensorRTEngine:
        """Wraps an already loaded ``_core.engine.EngineModel`` (e.g. the test model);
        ``options``: the constructor's (``slots``, ``cuda_graphs``, ``profile``, ``timeout``,
        ``device_pool``, ``pinned_pool``)."""
        self = cls.__new__(cls)
        self._setup(model, _device_index(device), _LoopOptions(**options))
        return self

    def _setup(self, model: Any, device: int, options: _LoopOptions) -> None:
        _check_pool_device(options, device)
        table = model.io()
        for entry in table:
            if entry["dtype"] in ("bfloat16", "other"):
                raise EngineError(
                    f"tensor {entry['name']!r}: dtype {entry['dtype']} has no NumPy equivalent"
                )
        infos = [
            TensorInfo(e["name"], tuple(e["shape"]), np.dtype(e["dtype"]), e["is_input"])
            for e in table
        ]
        self._model = model
        self._inputs = [t for t in infos if t.is_input]
        self._outputs = [t for t in infos if not t.is_input]
        self._profiles = [self._profile(model, i) for i in range(model.profile_count())]
        self._device = device
        self._timeout_ms = -1.0 if options.timeout is None else options.timeout * 1000.0
        self._options = options
        # the frames of infer()/submit(), made on first use: a Detector runs frames through a
        # model step of its own, and needs none of these buffers
        self._frames: Any = _LazyFrames(self)
        logger.debug(
            "TensorRT engine ready: %d inputs, %d outputs, %d slots",
            len(self._inputs),
            len(self._outputs),
            options.slots,
        )

    def _make_frames(self) -> TensorFrames:
        if self._model is None:
            raise EngineError("this TensorRT engine was closed")
        options = self._options
        step = self._context_step({}, resizable=True)
        self._frames = TensorFrames(
            step, options.slots, graphs=options.cuda_graphs, pinned_pool=options.pinned_pool
        )
        self._bindings = step.native  # its device pool, for the statistics
        return self._frames

    def model_step(self, shapes: Mapping[str, tuple[int, ...]]) -> ModelStep | None:
        """One execution context of the engine, its bindings taken once at ``shapes`` (dynamic
        inputs; others keep their own) from the shared device pool, if one was given; each frame
        is one enqueueV3 in the frame pipeline."""
        if self._model is None:
            raise EngineError("this TensorRT engine was closed")
        return self._context_step(shapes, resizable=False)

    def _context_step(self, shapes: Mapping[str, tuple[int, ...]], *, resizable: bool) -> ModelStep:
        dynamic = {t.name for t in self._inputs if t.is_dynamic}
        native = _core.engine.ContextStep(
            self._model,
            shapes={name: list(shape) for name, shape in shapes.items() if name in dynamic},
            profile=self._options.profile,
            device=self._device,
            device_pool=self._options.device_pool,
            resizable=resizable,
        )
        return ModelStep(native, owner=self._model)

    @staticmethod
    def _profile(model: Any, index: int) -> Profile:
        ranges = model.profile(index)
        return Profile(
            min={name: tuple(r[0]) for name, r in ranges.items()},
            opt={name: tuple(r[1]) for name, r in ranges.items()},
            max={name: tuple(r[2]) for name, r in ranges.items()},
        )

    @property
    def profiles(self) -> list[Profile]:
        return list(self._profiles)

    @property
    def max_batch(self) -> int | None:
        first = self._inputs[0]
        if first.shape and first.shape[0] < 0 and self._profiles:
            largest = self._profiles[self._options.profile].max.get(first.name)
            if largest:
                return int(largest[0])
        return super().max_batch

    @property
    def device(self) -> str:
        return f"cuda:{self._device}"

    @property
    def stats(self) -> dict[str, Any]:
        """The frames' counters (``frames``, ``completed``, ``graph_frames``, ``step_frames``,
        ``captures``, ``reshapes``, ``timeouts``, ``stopped``: see
        :meth:`TensorFrames.stats <trtpipe.frame_pipeline.TensorFrames.stats>`) and the
        statistics of the pools under ``device_pool`` and ``pinned_pool``."""
        frames = self._live_frames()
        return {
            **frames.stats(),
            "device_pool": self._bindings.device_pool.stats_dict(),
            "pinned_pool": frames.pinned_pool.stats_dict(),
        }

    @property
    def device_pool(self) -> Any:
        """The pool of the bindings: the DevicePool given, or an OwnPool."""
        shared = self._options.device_pool
        if shared is not None:
            return shared
        self._live_frames()
        return OwnPool(self._bindings.device_pool)

    @property
    def pinned_pool(self) -> Any:
        """The pool of the output buffers: the PinnedPool given, or an OwnPool."""
        shared = self._options.pinned_pool
        return shared if shared is not None else OwnPool(self._live_frames().pinned_pool)

    def _live_frames(self) -> TensorFrames:
        """The engine's frames, made now if they were not yet."""
        frames = self._frames
        if frames is None:
            raise EngineError("this TensorRT engine was closed")
        return self._make_frames() if isinstance(frames, _LazyFrames) else frames

    # The per-frame path below reads ``self._frames`` inline rather than through
    # _live_frames(): at a few microseconds per frame, every Python call counts.

    def infer(
        self, inputs: Mapping[str, Any] | Sequence[Any], *, copy: bool = True
    ) -> dict[str, np.ndarray]:
        """One frame: submit and wait for it. ``inputs`` and ``copy`` as for :meth:`submit` and
        :meth:`result`."""
        frames = self._frames
        if frames is None:
            raise EngineError("this TensorRT engine was closed")
        if type(inputs) not in _NATIVE_INPUTS:
            inputs = _native_inputs(inputs)
        return frames.result(frames.submit(inputs), self._timeout_ms, copy)

    def submit(self, inputs: Mapping[str, Any] | Sequence[Any]) -> TensorRTPending:
        """Starts a frame. ``inputs``: arrays by input name, or (fastest) a list or tuple of
        arrays in the order of :attr:`inputs`."""
        frames = self._frames
        if frames is None:
            raise EngineError("this TensorRT engine was closed")
        if type(inputs) not in _NATIVE_INPUTS:
            inputs = _native_inputs(inputs)
        ticket = frames.submit(inputs)
        pending = _new_object(TensorRTPending)  # skips a Python-level __init__ call per frame
        pending.engine = self
        pending.ticket = ticket
        return pending

    def result(
        self, pending: PendingResult, timeout: float | None = None, *, copy: bool = True
    ) -> dict[str, np.ndarray]:
        """Waits for a submitted frame; EngineError after ``timeout`` seconds (default: the
        engine's), and the frame can then be waited for again.

        ``copy=False`` returns views of the engine's pinned output buffers instead of copies:
        no copy is made, but the views hold this frame's outputs only until a later
        :meth:`submit` reuses its slot, which can be the very next one. Copy what must outlive
        that (``np.array(view)``)."""
        if type(pending) is not TensorRTPending or pending.engine is not self:
            raise TypeError(f"result: expected a PendingResult of this engine, given {pending!r}")
        frames = self._frames
        if frames is None:
            raise EngineError("this TensorRT engine was closed")
        timeout_ms = self._timeout_ms if timeout is None else timeout * 1000.0
        return frames.result(pending.ticket, timeout_ms, copy)

    def close(self) -> None:
        self._frames = None
        self._bindings = None
        self._model = None
