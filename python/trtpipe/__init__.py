"""trtpipe: real-time GPU inference for robots. A camera frame goes in, detections come out."""

from trtpipe import errors
from trtpipe._version import __version__
from trtpipe.errors import (
    BackendUnavailableError,
    CudaError,
    EngineError,
    InputError,
    NoGpuError,
    PoolExhaustedError,
    TrtpipeError,
)
from trtpipe.info import Info, info
from trtpipe.memory import DevicePool, HostPool, PinnedPool, PoolStats

__all__ = [
    "BackendUnavailableError",
    "CudaError",
    "DevicePool",
    "EngineError",
    "HostPool",
    "Info",
    "InputError",
    "NoGpuError",
    "PinnedPool",
    "PoolExhaustedError",
    "PoolStats",
    "TrtpipeError",
    "__version__",
    "errors",
    "info",
]
