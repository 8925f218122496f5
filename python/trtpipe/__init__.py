"""trtpipe: real-time GPU inference for robots. A camera frame goes in, detections come out."""

from trtpipe import errors
from trtpipe._version import __version__
from trtpipe.backends.loader import load
from trtpipe.build import build_engine
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
from trtpipe.preprocess import Letterbox, Preprocessor, letterbox_params

__all__ = [
    "BackendUnavailableError",
    "CudaError",
    "DevicePool",
    "EngineError",
    "HostPool",
    "Info",
    "InputError",
    "Letterbox",
    "NoGpuError",
    "PinnedPool",
    "PoolExhaustedError",
    "PoolStats",
    "Preprocessor",
    "TrtpipeError",
    "__version__",
    "build_engine",
    "errors",
    "info",
    "letterbox_params",
    "load",
]
