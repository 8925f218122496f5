"""Block memory pools: device memory, mapped pinned host memory, and plain host memory.

Every per-frame buffer comes from a pool, so the frame path never calls cudaMalloc, cudaFree or
cudaHostAlloc. All three pools run the same policy (``csrc/memory/block_policy.hpp``): best-fit
blocks, 256-byte aligned, split on allocation and coalesced on release, optional growth by
arenas up to ``max_bytes``, and, when full, a counted direct allocation (``fallback=True``) or
:class:`~trtpipe.errors.PoolExhaustedError`.

Streams: a buffer belongs to the stream it was allocated on. Released, it is reused at once by
that stream and by another stream only after the work queued before the release has finished
(the pool records a CUDA event lazily, when another stream needs the memory, so a stream must
outlive the free blocks it released: call ``pool.reclaim()`` before destroying it). Pass a CUDA
stream as an integer handle or as an object with ``.cuda_stream`` (PyTorch) or ``.ptr`` (CuPy).
A stream that allocates and releases the same size again and again gets the same block back
without splitting or merging it (the released block is "parked" whole; parked blocks coalesce
when the stream's request does not fit, and on ``reclaim()``).

A buffer is released when it is garbage-collected or on ``release()``. Releasing twice, or using
a released buffer, raises :class:`~trtpipe.errors.InputError`. Views other libraries made of the
buffer (``torch.as_tensor``, ``cupy.asarray``, ``np.asarray``, DLPack) keep the buffer alive,
but an explicit ``release()`` is the caller's promise that no such view is used afterwards.
"""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from trtpipe import _core
from trtpipe.errors import InputError, NoGpuError

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

logger = logging.getLogger(__name__)

HostBuffer = _core.HostBuffer
DeviceBuffer: Any = getattr(_core, "DeviceBuffer", None)

# DLPack type codes by NumPy kind.
_DLPACK_CODES = {"i": 0, "u": 1, "f": 2, "c": 5, "b": 6}
_MAX_BYTES = 2**63 - 1


@dataclass(frozen=True)
class PoolStats:
    """A consistent snapshot of a pool's counters (bytes unless said otherwise)."""

    capacity: int
    in_use: int
    peak_in_use: int
    free_bytes: int
    largest_free_block: int
    fragmentation: float  # 1 - largest_free_block / free_bytes; 0 when nothing is free
    stream_cached_bytes: int  # free, reusable now only by the stream that released them
    pending_bytes: int  # free, waiting for the releasing stream's work to finish
    allocations: int
    releases: int
    fallbacks: int  # requests served by a direct allocation because the pool was full
    fallback_bytes_in_use: int
    fence_waits: int  # requests that blocked on another stream's queued work
    live_blocks: int
    live_fallbacks: int
    free_blocks: int
    arenas: int


@dataclass(frozen=True)
class OwnPool:
    """A pool native code made to hold exactly its own buffers (an engine's bindings, a frame
    pipeline's pinned outputs), seen through its statistics: what
    :meth:`trtpipe.monitor.PerformanceMonitor.add_pool` reads."""

    pool: Any  # a _core.DevicePool or _core.PinnedPool

    def stats(self) -> PoolStats:
        return PoolStats(**self.pool.stats_dict())


@dataclass(frozen=True)
class BlockInfo:
    address: int
    size: int
    arena: int
    # "used", "free", "stream_cached", "parked" (stream-cached, kept whole for exact reuse and
    # coalesced on demand) or "pending"
    state: str
    stream: int


def _byte_count(field: str, value: object) -> int:
    try:
        count = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise InputError(
            f"{field}: expected an int number of bytes, given {type(value).__name__}"
        ) from None
    if count < 0 or count > _MAX_BYTES:
        raise InputError(f"{field}: expected 0 <= {field} <= {_MAX_BYTES}, given {count}")
    return count


def _array_layout(
    shape: int | Sequence[int], dtype: object
) -> tuple[int, list[int], str, str, int, int]:
    try:
        dt = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError as err:
        raise InputError(f"dtype: expected a NumPy dtype, given {dtype!r} ({err})") from None
    if dt.kind not in _DLPACK_CODES or dt.fields is not None or dt.subdtype is not None:
        raise InputError(
            f"dtype: expected a bool, integer, float or complex dtype, given {dt.str} ({dt})"
        )
    if not dt.isnative:
        raise InputError(f"dtype: expected native byte order, given {dt.str}")
    dims = [shape] if isinstance(shape, int) else list(shape)
    extents: list[int] = []
    for axis, extent in enumerate(dims):
        try:
            value = operator.index(extent)
        except TypeError:
            raise InputError(
                f"shape[{axis}]: expected an int, given {type(extent).__name__}"
            ) from None
        if value < 0:
            raise InputError(f"shape[{axis}]: expected >= 0, given {value}")
        extents.append(value)
    nbytes = math.prod(extents) * dt.itemsize
    if nbytes > _MAX_BYTES:
        raise InputError(f"shape: expected at most {_MAX_BYTES} bytes in all, given {nbytes}")
    # PEP 3118 spells complex types "Z" + the component type.
    fmt = "Z" + dt.char.lower() if dt.kind == "c" else dt.char
    return nbytes, extents, dt.str, fmt, dt.itemsize, _DLPACK_CODES[dt.kind]


class _PoolMethods:
    """What every pool offers beside the compiled ``alloc`` (see its docstring)."""

    def empty(
        self, shape: int | Sequence[int], dtype: object = np.float32, *, stream: object = None
    ) -> Any:
        """An uninitialised C-contiguous array buffer of `shape` and `dtype` on `stream`."""
        nbytes, extents, typestr, fmt, itemsize, code = _array_layout(shape, dtype)
        return self.allocate_array(nbytes, extents, typestr, fmt, itemsize, code, stream)  # type: ignore[attr-defined]

    def stats(self) -> PoolStats:
        return PoolStats(**self.stats_dict())  # type: ignore[attr-defined]

    def blocks(self) -> list[BlockInfo]:
        """Every block of every arena, in address order (for inspection; takes the pool lock)."""
        return [BlockInfo(*entry) for entry in self.block_table()]  # type: ignore[attr-defined]

    def arenas(self) -> list[tuple[int, int]]:
        """(address, size) of each arena, in the order they were added."""
        return list(self.arena_table())  # type: ignore[attr-defined]

    @property
    def capacity(self) -> int:
        return self.stats().capacity

    def __repr__(self) -> str:
        s = self.stats()
        return (
            f"{type(self).__name__}(capacity={s.capacity}, in_use={s.in_use}, "
            f"arenas={s.arenas}, fallbacks={s.fallbacks})"
        )


class _WithoutCuda:
    """Stands in for a GPU pool in a _core built without CUDA."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise NoGpuError(f"{type(self).__name__}: trtpipe._core was built without CUDA")


class PoolSizing(TypedDict, total=False):
    """The growth and fallback keywords every pool takes, beside its first arena's ``nbytes``."""

    max_bytes: int | None  # the most the pool may hold (None: nbytes, a fixed pool)
    grow_bytes: int | None  # each further arena (None: nbytes)
    fallback: bool  # when full: a counted direct allocation (True) or PoolExhaustedError


def _pool_args(
    nbytes: int,
    max_bytes: int | None = None,
    grow_bytes: int | None = None,
    fallback: bool = True,
) -> tuple[int, int, int, bool]:
    """The C++ pools' first four constructor arguments, checked."""
    initial = _byte_count("nbytes", nbytes)
    limit = initial if max_bytes is None else _byte_count("max_bytes", max_bytes)
    if limit < initial:
        raise InputError(f"max_bytes: expected >= nbytes ({initial}), given {limit}")
    grow = 0 if grow_bytes is None else _byte_count("grow_bytes", grow_bytes)
    return initial, limit, grow, bool(fallback)


class _GpuPool(_PoolMethods):
    """What DevicePool and PinnedPool construct alike: sizes checked, then the C++ pool."""

    def __init__(self, nbytes: int, *, device: int = 0, **sizing: Unpack[PoolSizing]) -> None:
        initial, limit, grow, fallback = _pool_args(nbytes, **sizing)
        if isinstance(device, bool) or not isinstance(device, (int, np.integer)):
            raise InputError(f"device: expected an int GPU index, given {device!r}")
        super().__init__(initial, limit, grow, fallback, int(device))
        self.device = int(device)
        logger.debug(
            "%s for GPU %d: %d bytes (max %d)", type(self).__name__, self.device, initial, limit
        )


class DevicePool(_GpuPool, getattr(_core, "DevicePool", _WithoutCuda)):
    """Device memory on GPU `device`, from cudaMalloc'd arenas.

    `nbytes` is the first arena; the pool grows by arenas of `grow_bytes` (default `nbytes`) up
    to `max_bytes` (default `nbytes`: a fixed pool). When full, `fallback=True` serves the
    request with a direct cudaMalloc (counted in ``stats().fallbacks``); `fallback=False`
    raises PoolExhaustedError.
    """


class PinnedPool(_GpuPool, getattr(_core, "PinnedPool", _WithoutCuda)):
    """Pinned host memory mapped into GPU `device`'s address space (cudaHostAlloc, mapped).

    Buffers support the buffer protocol (``np.asarray(buf)`` is a view) and give
    ``buf.device_ptr``, the address kernels use to read the same bytes without a copy.
    Sizing, growth and fallback are as for :class:`DevicePool`.
    """


class HostPool(_PoolMethods, _core.HostPool):
    """Plain host memory under the same policy as the GPU pools; needs no GPU.

    Streams are plain integers here. With `deferred_fences=True` a released block stays
    unavailable to other streams until :meth:`complete_fences` (as if the releasing stream's
    work were still running), which lets the stream rules be checked without a GPU.
    """

    def __init__(
        self, nbytes: int, *, deferred_fences: bool = False, **sizing: Unpack[PoolSizing]
    ) -> None:
        initial, limit, grow, fallback = _pool_args(nbytes, **sizing)
        super().__init__(initial, limit, grow, fallback, bool(deferred_fences))


__all__ = [
    "BlockInfo",
    "DeviceBuffer",
    "DevicePool",
    "HostBuffer",
    "HostPool",
    "PinnedPool",
    "PoolSizing",
    "PoolStats",
]
