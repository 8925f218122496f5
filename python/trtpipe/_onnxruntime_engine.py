"""A minimal ONNX Runtime Engine for Detector, used where trtpipe.backends.loader is absent."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from trtpipe.backends.base import Engine, TensorInfo
from trtpipe.errors import BackendUnavailableError, EngineError

_ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(uint8)": np.uint8,
}


def _info(node: Any, is_input: bool) -> TensorInfo:
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in node.shape)
    return TensorInfo(node.name, shape, np.dtype(_ORT_TYPES.get(node.type, np.float32)), is_input)


class OnnxRuntimeSession(Engine):
    backend = "onnxruntime"

    def __init__(self, model: str | Path):
        try:
            import onnxruntime
        except ImportError as exc:
            raise BackendUnavailableError(
                "onnxruntime is not installed: pip install 'trtpipe[onnx]'"
            ) from exc
        path = Path(model)
        if not path.is_file():
            raise EngineError(f"model: expected an ONNX file, given {model!s} (not found)")
        try:
            self._session = onnxruntime.InferenceSession(
                str(path), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise EngineError(f"model: ONNX Runtime could not load {path}: {exc}") from exc
        self._inputs = [_info(n, True) for n in self._session.get_inputs()]
        self._outputs = [_info(n, False) for n in self._session.get_outputs()]
        self._output_names = [o.name for o in self._outputs]

    @property
    def inputs(self) -> list[TensorInfo]:
        return self._inputs

    @property
    def outputs(self) -> list[TensorInfo]:
        return self._outputs

    def infer(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        try:
            values = self._session.run(
                self._output_names, {k: np.asarray(v) for k, v in inputs.items()}
            )
        except Exception as exc:
            raise EngineError(f"ONNX Runtime run failed: {exc}") from exc
        return dict(zip(self._output_names, values, strict=True))
