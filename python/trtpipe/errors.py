"""Exceptions raised by trtpipe, from Python code and from the compiled core alike.

Every class derives from :class:`TrtpipeError` and from the closest built-in exception, so
``except ValueError`` still catches a bad input and ``except MemoryError`` an exhausted pool.
"""

from __future__ import annotations


class TrtpipeError(Exception):
    """Base class of every error trtpipe raises on purpose."""


class CudaError(TrtpipeError, RuntimeError):
    """A CUDA runtime call failed. ``call`` is the failing call, ``code`` its cudaError_t."""

    def __init__(self, message: str, *, call: str | None = None, code: int | None = None):
        super().__init__(message)
        self.call = call
        self.code = code


class NoGpuError(CudaError):
    """No usable GPU: no driver, no device, or ``trtpipe._core`` was built without CUDA."""


class InputError(TrtpipeError, ValueError):
    """Bad caller input (shape, encoding, size, dtype); the message names field, expected, given."""


class PoolExhaustedError(TrtpipeError, MemoryError):
    """A memory pool could not serve a request and falling back to a direct allocation is off."""

    def __init__(
        self,
        message: str,
        *,
        requested: int | None = None,
        free_bytes: int | None = None,
        largest_free_block: int | None = None,
    ):
        super().__init__(message)
        self.requested = requested
        self.free_bytes = free_bytes
        self.largest_free_block = largest_free_block


class EngineError(TrtpipeError, RuntimeError):
    """Loading, deserialising or running an inference engine failed."""


class BackendUnavailableError(TrtpipeError, ImportError):
    """The requested inference backend is not installed or cannot run on this machine."""


__all__ = [
    "BackendUnavailableError",
    "CudaError",
    "EngineError",
    "InputError",
    "NoGpuError",
    "PoolExhaustedError",
    "TrtpipeError",
]
