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

# Imported on first use, so `import trtpipe` stays light.
_LAZY = {
    "BatchDetector": "trtpipe.batch_detector",
    "Detector": "trtpipe.detector",
    "Detections": "trtpipe.decode.detections",
    "Detections3D": "trtpipe.rgbd",
    "DepthLifter": "trtpipe.rgbd",
    "DepthRule": "trtpipe.rgbd",
    "Intrinsics": "trtpipe.rgbd",
    "Policy": "trtpipe.policy",
    "SafeCommander": "trtpipe.action_safety",
    "samples": "trtpipe.samples",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        return module if name == "samples" else getattr(module, name)
    raise AttributeError(f"module 'trtpipe' has no attribute {name!r}")


__all__ = [
    "BackendUnavailableError",
    "BatchDetector",
    "CudaError",
    "DepthLifter",
    "DepthRule",
    "Detections",
    "Detections3D",
    "Detector",
    "DevicePool",
    "EngineError",
    "HostPool",
    "Info",
    "InputError",
    "Intrinsics",
    "Letterbox",
    "NoGpuError",
    "PinnedPool",
    "Policy",
    "PoolExhaustedError",
    "PoolStats",
    "Preprocessor",
    "SafeCommander",
    "TrtpipeError",
    "__version__",
    "build_engine",
    "errors",
    "info",
    "letterbox_params",
    "load",
    "samples",
]
