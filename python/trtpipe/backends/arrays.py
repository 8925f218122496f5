"""Caller arrays as backends need them: checked against the IO table, on the host or on the GPU.

A caller hands each backend NumPy arrays or GPU arrays (anything with ``__cuda_array_interface__``
or a CUDA ``__dlpack__``: pool buffers, PyTorch, CuPy). These functions tell the two apart, check
names, dtypes and shapes against the model's :class:`TensorInfo` table and, for backends that run
on the CPU, bring GPU arrays to the host.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from trtpipe.arrays import DLPACK_CUDA_HOST, device_array, is_device_array, numpy_dtype
from trtpipe.backends.base import TensorInfo
from trtpipe.errors import InputError


def array_shape_dtype(value: Any) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a host or device array without copying it."""
    if type(value) is np.ndarray:  # the common case, first
        return value.shape, value.dtype
    view = device_array(value, "input array", torch_accessors=True)
    if view is not None:
        return tuple(view.shape), view.dtype
    if type(value).__module__.startswith("torch"):  # a CPU tensor
        return tuple(int(d) for d in value.shape), numpy_dtype("input array", value.dtype)
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        try:
            return tuple(int(d) for d in shape), np.dtype(dtype)
        except TypeError:
            pass  # a dtype NumPy has no name for: fall through to a NumPy view
    array = np.asarray(value)
    return array.shape, array.dtype


def to_host(value: Any, name: str) -> np.ndarray:
    """A NumPy array of ``value``; GPU arrays are copied to the host through PyTorch or CuPy."""
    if type(value) is np.ndarray:
        return value
    if not is_device_array(value):
        device = getattr(value, "__dlpack_device__", None)
        if device is not None and int(device()[0]) == DLPACK_CUDA_HOST:
            return np.from_dlpack(value)
        return np.asarray(value)
    for module_name in ("torch", "cupy"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if module_name == "torch":
            tensor = (
                module.from_dlpack(value)
                if hasattr(value, "__dlpack__")
                else module.as_tensor(value, device="cuda")
            )
            return tensor.cpu().numpy()
        return module.asnumpy(module.asarray(value))
    raise InputError(
        f"input {name!r}: a GPU array was given to a backend that runs on the CPU, and neither "
        "PyTorch nor CuPy is installed to copy it to the host; expected a NumPy array, given "
        f"{type(value).__name__}"
    )


def check_inputs(table: list[TensorInfo], inputs: Mapping[str, Any]) -> None:
    """Raises InputError unless ``inputs`` has exactly the table's inputs, with matching dtypes
    and shapes (a -1 in the table accepts any size on that axis)."""
    expected = {info.name for info in table}
    given = set(inputs)
    if given != expected:
        missing = sorted(expected - given)
        unknown = sorted(given - expected)
        raise InputError(
            f"inputs: expected names {sorted(expected)}, given {sorted(given)}"
            + (f" (missing {missing})" if missing else "")
            + (f" (unknown {unknown})" if unknown else "")
        )
    for info in table:
        shape, dtype = array_shape_dtype(inputs[info.name])
        if dtype != info.dtype:
            raise InputError(f"input {info.name!r}: expected dtype {info.dtype}, given {dtype}")
        if len(shape) != len(info.shape) or any(
            want >= 0 and want != got for want, got in zip(info.shape, shape, strict=True)
        ):
            raise InputError(f"input {info.name!r}: expected shape {info.shape}, given {shape}")
