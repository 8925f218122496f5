"""Which TensorRT Python API builds engines here: full TensorRT, else TensorRT-RTX.

Full TensorRT 10 has the precision builder flags (FP16, INT8) and the INT8 calibrators. TensorRT 11
and TensorRT-RTX build only strongly typed networks: the ONNX tensor types decide the precision, and
INT8 needs Q/DQ nodes in the model. TensorRT-RTX also builds without a GPU, for the compute
capabilities it is told to target.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from trtpipe.errors import BackendUnavailableError

log = logging.getLogger(__name__)

# What TensorRT's messages say where it needed a GPU and none is usable here.
NO_GPU_MESSAGES = ("CUDA driver version is insufficient", "no CUDA-capable device is detected")

# The messages TensorRT logs in this thread while held back by `held_messages` (innermost last).
_held = threading.local()

# Import name -> flavour name, in the order they are preferred.
_MODULES = (("tensorrt", "tensorrt"), ("tensorrt_rtx_bindings", "tensorrt-rtx"))
#: every flavour's name, as engines record it
FLAVOURS = tuple(name for _, name in _MODULES)


@dataclass(frozen=True)
class Flavour:
    """One importable TensorRT Python API."""

    name: str  # "tensorrt" or "tensorrt-rtx"
    version: str
    module: Any

    @property
    def strongly_typed(self) -> bool:
        """True where precision comes from the network's types rather than builder flags."""
        return not hasattr(self.module.BuilderFlag, "FP16")

    @property
    def has_int8_calibration(self) -> bool:
        return hasattr(self.module, "IInt8EntropyCalibrator2") and hasattr(
            self.module.BuilderFlag, "INT8"
        )

    @property
    def builds_without_gpu(self) -> bool:
        return self.name == "tensorrt-rtx"

    @property
    def tag(self) -> str:
        return f"{self.name}-{self.version}"


def find_flavour(prefer: str | None = None) -> Flavour:
    """The first importable TensorRT Python API; ``prefer``: "tensorrt" or "tensorrt-rtx"."""
    failures = []
    for module_name, name in _MODULES:
        if prefer is not None and name != prefer:
            continue
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # a broken install (missing libs) raises more than ImportError
            failures.append(f"{module_name}: {exc}")
            continue
        return Flavour(name, str(module.__version__), module)
    raise BackendUnavailableError(
        "no TensorRT Python API to build engines with ("
        + "; ".join(failures)
        + "); install TensorRT (`tensorrt`) or TensorRT-RTX with `pip install trtpipe[tensorrt]`"
    )


@contextmanager
def held_messages() -> Iterator[list[tuple[int, str]]]:
    """The messages TensorRT logs in this thread within the block, as (Python logging level,
    text), held back instead of logged, for the caller to judge and to hand to a logger's
    ``replay`` where they are to be logged after all.

    TensorRT keeps the first ILogger a process gives it and sends every later message there, so
    the hold is kept here rather than in a logger."""
    messages: list[tuple[int, str]] = []
    stack = getattr(_held, "stack", None)
    if stack is None:
        stack = _held.stack = []
    stack.append(messages)
    try:
        yield messages
    finally:
        stack.remove(messages)


def make_logger(flavour: Flavour, logger: logging.Logger) -> Any:
    """A TensorRT ILogger that forwards to Python logging (TensorRT's INFO is debug detail here);
    ``replay(messages)`` logs messages held back by :func:`held_messages`."""
    trt = flavour.module
    severity = trt.ILogger.Severity
    levels = {
        severity.INTERNAL_ERROR: logging.ERROR,
        severity.ERROR: logging.ERROR,
        severity.WARNING: logging.WARNING,
        severity.INFO: logging.DEBUG,
        severity.VERBOSE: logging.DEBUG - 1,
    }

    class _Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, sev: Any, msg: str) -> None:
            level = levels.get(sev, logging.DEBUG)
            stack = getattr(_held, "stack", None)
            if stack:
                stack[-1].append((level, msg))
            else:
                self.replay([(level, msg)])

        def replay(self, messages: list[tuple[int, str]]) -> None:
            for level, msg in messages:
                if level >= logging.ERROR:
                    self.errors.append(msg)
                logger.log(level, "%s: %s", flavour.name, msg)

    return _Logger()
