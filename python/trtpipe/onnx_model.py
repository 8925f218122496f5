"""ONNX model files read with the errors a user can act on: the onnx package missing
(BackendUnavailableError), or a file that is not an ONNX model, e.g. truncated or of another
kind (InputError), instead of protobuf's DecodeError."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trtpipe.errors import BackendUnavailableError, InputError


def read_onnx(source: str | Path | bytes, what: str = "model", external_data: bool = False) -> Any:
    """The ``onnx.ModelProto`` of a file (its external data read only with ``external_data``)
    or of its bytes."""
    try:
        import onnx
    except ImportError as exc:
        raise BackendUnavailableError(
            f"{what}: reading ONNX models needs the onnx package (pip install 'trtpipe[onnx]')"
        ) from exc
    if isinstance(source, (bytes, bytearray, memoryview)):
        name = f"{len(source)} bytes"
        load = lambda: onnx.load_from_string(bytes(source))  # noqa: E731
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{what}: expected an existing ONNX file, given {str(path)!r}")
        name = str(path)
        load = lambda: onnx.load(str(path), load_external_data=external_data)  # noqa: E731
    try:
        model = load()
    except Exception as exc:  # protobuf's DecodeError and friends: the file is not a model
        raise InputError(
            f"{what}: {name} is not an ONNX model (truncated, or another kind of file): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    # an empty file (or bytes that happen to decode) parses as a ModelProto with no graph
    if not model.HasField("graph"):
        raise InputError(f"{what}: {name} is not an ONNX model (empty, or it has no graph)")
    return model
