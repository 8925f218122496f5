"""The one interface every inference backend implements (TensorRT, ONNX Runtime, PyTorch).

A backend owns a loaded model and runs it. Callers see the model's inputs and outputs as a
table of :class:`TensorInfo`, hand it arrays by input name and get arrays back by output name.
``submit`` starts a frame and returns at once where the backend can run asynchronously;
``result`` waits for that frame. Synchronous backends run the frame in ``submit``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TensorInfo:
    """One input or output of a model. ``shape`` holds -1 for a dynamic axis."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    is_input: bool

    @property
    def is_dynamic(self) -> bool:
        return any(d < 0 for d in self.shape)


@dataclass(frozen=True)
class Profile:
    """An optimisation profile: per dynamic input, the min / opt / max shapes."""

    min: Mapping[str, tuple[int, ...]]
    opt: Mapping[str, tuple[int, ...]]
    max: Mapping[str, tuple[int, ...]]


class PendingResult:
    """A frame in flight; ``Engine.result`` turns it into outputs."""


@dataclass(frozen=True)
class ModelStep:
    """What an engine offers the native frame pipeline (``_core.FramePipeline``): its network as
    a model step over device tensors at fixed addresses (a TensorRT execution context, a
    captured CUDA graph), and the stream its frames must be enqueued on."""

    native: Any  # a _core.ModelStep
    #: the cudaStream_t of the next frame (e.g. PyTorch's current stream); None: any one stream
    current_stream: Callable[[], int] | None = None
    owner: Any = None  # keeps what the step's tensors live in alive (e.g. a CUDA graph)


class Engine(abc.ABC):
    """A loaded model that runs frames. Use as a context manager to release it promptly."""

    #: short backend name: "tensorrt", "onnxruntime" or "torch"
    backend: str = ""
    # what a build made of the model ("fp16", "int8", ...), where known; None: the model
    # file's own types (ONNX Runtime, PyTorch)
    precision: str | None = None

    # what a backend sets when it loads its model; read through the properties below
    _inputs: list[TensorInfo]
    _outputs: list[TensorInfo]

    @property
    def inputs(self) -> list[TensorInfo]:
        """The model's inputs, in argument order (a copy)."""
        return list(self._inputs)

    @property
    def outputs(self) -> list[TensorInfo]:
        """The model's outputs, in output order (a copy)."""
        return list(self._outputs)

    @property
    def device(self) -> str:
        """Where the model runs: "cpu" or "cuda:N"."""
        return "cpu"

    @property
    def batch_sizes(self) -> tuple[int, ...] | None:
        """The batch sizes the engine runs at, where it runs only some and pads a batch to the
        next of them (a PyTorch model converted at batch buckets); None where any batch its
        inputs' shapes allow runs as it is."""
        return None

    @property
    def max_batch(self) -> int | None:
        """The largest batch the engine runs: a fixed batch axis, a TensorRT profile's maximum,
        the largest of :attr:`batch_sizes`; None where no limit is known."""
        fixed = self._inputs[0].shape[0] if self._inputs and self._inputs[0].shape else -1
        if fixed > 0:
            return fixed
        sizes = self.batch_sizes
        return max(sizes) if sizes else None

    def model_step(self, shapes: Mapping[str, tuple[int, ...]]) -> ModelStep | None:
        """The engine's network as a native model step at ``shapes`` (per input; dynamic
        inputs need one), or None where the engine runs on the host or cannot give one. The
        Detector runs frames through it with one native call per frame."""
        return None

    @abc.abstractmethod
    def infer(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Runs one frame (or batch); inputs are NumPy arrays or GPU arrays
        (``__cuda_array_interface__`` / DLPack) keyed by input name."""

    def submit(self, inputs: Mapping[str, Any]) -> PendingResult:
        return _Done(self.infer(inputs))

    def result(self, pending: PendingResult) -> dict[str, np.ndarray]:
        if not isinstance(pending, _Done):
            raise TypeError(f"result: expected a PendingResult of this engine, given {pending!r}")
        return pending.outputs

    def close(self) -> None:  # noqa: B027 - optional: most backends free on garbage collection
        """Releases the model's resources; the engine cannot run afterwards."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class _Done(PendingResult):
    outputs: dict[str, np.ndarray]
