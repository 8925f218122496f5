"""ONNX Runtime backend: CPU everywhere, the CUDA execution provider where it is installed."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trtpipe.arrays import device_array, is_device_array
from trtpipe.backends.arrays import check_inputs, to_host
from trtpipe.backends.base import Engine, TensorInfo
from trtpipe.errors import BackendUnavailableError, EngineError, InputError

log = logging.getLogger(__name__)

# ONNX Runtime's type strings for the element types trtpipe models use.
_ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(int16)": np.int16,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(bool)": np.bool_,
}


def _import_ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendUnavailableError(
            f"onnxruntime backend: onnxruntime is not installed ({exc}); "
            "install it with `pip install trtpipe[onnx]`"
        ) from exc
    return onnxruntime


def _tensor_info(arg: Any, is_input: bool) -> TensorInfo:
    if arg.type not in _ORT_DTYPES:
        raise EngineError(f"tensor {arg.name!r}: element type {arg.type} is not supported")
    # Symbolic axes ("batch") and unknown axes (None) are dynamic.
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in arg.shape)
    return TensorInfo(arg.name, shape, np.dtype(_ORT_DTYPES[arg.type]), is_input)


def _parse_device(device: str | None, available: Sequence[str]) -> tuple[str, int]:
    """("cpu", 0) or ("cuda", N) for ``device`` in None | "auto" | "cpu" | "cuda" | "cuda:N"."""
    has_cuda = "CUDAExecutionProvider" in available
    if device in (None, "auto"):
        return ("cuda", 0) if has_cuda else ("cpu", 0)
    if device == "cpu":
        return "cpu", 0
    kind, _, index = device.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        raise InputError(f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', given {device!r}")
    if not has_cuda:
        raise BackendUnavailableError(
            f"onnxruntime backend: device {device!r} needs the CUDA execution provider, but this "
            f"onnxruntime has only {list(available)}; install onnxruntime-gpu"
        )
    return "cuda", int(index or 0)


class OnnxRuntimeEngine(Engine):
    """An ONNX model run by ONNX Runtime.

    ``device``: None/"auto" picks the CUDA execution provider when it is installed, else the CPU.
    On CUDA, inputs and outputs go through I/O binding, so GPU arrays are read in place. On the CPU,
    GPU arrays are copied to the host first. ``threads`` caps the intra-op thread count.
    """

    backend = "onnxruntime"

    def __init__(
        self,
        model: str | os.PathLike[str] | bytes,
        device: str | None = None,
        *,
        threads: int | None = None,
        providers: Sequence[Any] | None = None,
        session_options: Any = None,
    ) -> None:
        ort = _import_ort()
        self._ort = ort
        kind, index = _parse_device(device, ort.get_available_providers())
        self._device_kind, self._device_index = kind, index
        if providers is None:
            providers = ["CPUExecutionProvider"]
            if kind == "cuda":
                providers.insert(0, ("CUDAExecutionProvider", {"device_id": index}))
        options = session_options or ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        source: Any = model if isinstance(model, bytes) else os.fspath(model)
        if not isinstance(model, bytes) and not Path(source).is_file():
            raise InputError(f"model: expected an existing ONNX file, given {source!r}")
        try:
            self._session = ort.InferenceSession(source, sess_options=options, providers=providers)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph/... types
            raise EngineError(f"onnxruntime could not load {source!r}: {exc}") from exc
        used = self._session.get_providers()
        if kind == "cuda" and "CUDAExecutionProvider" not in used:
            raise BackendUnavailableError(
                f"onnxruntime backend: the CUDA execution provider failed to start (using {used})"
            )
        self._inputs = [_tensor_info(a, True) for a in self._session.get_inputs()]
        self._outputs = [_tensor_info(a, False) for a in self._session.get_outputs()]
        self._output_names = [o.name for o in self._outputs]
        log.debug("onnxruntime session on %s with providers %s", self.device, used)

    @property
    def device(self) -> str:
        return "cpu" if self._device_kind == "cpu" else f"cuda:{self._device_index}"

    @property
    def providers(self) -> list[str]:
        if self._session is None:
            raise EngineError("onnxruntime engine: providers after close()")
        return list(self._session.get_providers())

    def infer(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        if self._session is None:
            raise EngineError("onnxruntime engine: infer() after close()")
        check_inputs(self._inputs, inputs)
        if self._device_kind == "cuda":
            return self._infer_bound(inputs)
        feeds = {name: to_host(value, name) for name, value in inputs.items()}
        try:
            values = self._session.run(self._output_names, feeds)
        except Exception as exc:
            raise EngineError(f"onnxruntime run failed: {exc}") from exc
        return dict(zip(self._output_names, values, strict=True))

    def _infer_bound(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        binding = self._session.io_binding()
        for name, value in inputs.items():
            if is_device_array(value):
                ptr, shape, dtype = _device_pointer(value)
                binding.bind_input(name, "cuda", self._device_index, dtype, list(shape), ptr)
            else:
                binding.bind_cpu_input(name, np.ascontiguousarray(value))
        for name in self._output_names:
            binding.bind_output(name, "cpu")
        try:
            self._session.run_with_iobinding(binding)
        except Exception as exc:
            raise EngineError(f"onnxruntime run failed: {exc}") from exc
        return dict(zip(self._output_names, binding.copy_outputs_to_cpu(), strict=True))

    def close(self) -> None:
        self._session = None


def _device_pointer(value: Any) -> tuple[int, tuple[int, ...], np.dtype]:
    """Device pointer, shape and dtype of a contiguous GPU array."""
    view = device_array(value, "input array")
    if view is None or not view.contiguous:
        strides = None if view is None else tuple(view.strides)
        raise InputError(f"input array: expected a C-contiguous GPU array, given strides {strides}")
    return view.address, tuple(view.shape), view.dtype
