"""The one place trtpipe reads arrays it is handed: where a GPU array's bytes are and how they
are laid out (``__cuda_array_interface__`` v3, DLPack on a CUDA device, PyTorch CUDA tensors
through their own accessors), and which CUDA stream a stream-like object is.

Host arrays are NumPy's business (``np.asarray``); everything that looks at device memory, the
preprocessing, the backends and the Detector, reads it through :func:`device_array`.
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

import numpy as np

from trtpipe.errors import BackendUnavailableError, InputError

# DLPack device types (dlpack.h DLDeviceType).
DLPACK_CUDA = (2, 13)  # kDLCUDA, kDLCUDAManaged: GPU memory
DLPACK_CUDA_HOST = 3  # kDLCUDAHost: pinned host memory, readable by NumPy


class DeviceArray(NamedTuple):
    """A GPU array as trtpipe takes it (a tuple: built once per frame)."""

    address: int
    shape: list[int]
    strides: list[int]  # bytes
    dtype: np.dtype
    stream: int  # the producer's stream from __cuda_array_interface__, 0 for none
    readonly: bool

    @property
    def contiguous(self) -> bool:
        return self.strides == contiguous_strides(self.shape, self.dtype.itemsize)


def contiguous_strides(shape: list[int] | tuple[int, ...], itemsize: int) -> list[int]:
    """Byte strides of a C-contiguous array of ``shape``."""
    strides, running = [], itemsize
    for n in reversed(shape):
        strides.insert(0, running)
        running *= int(n)
    return strides


def is_device_array(value: Any) -> bool:
    """True for arrays in GPU memory (CUDA array interface, or DLPack on a CUDA device)."""
    if isinstance(value, np.ndarray):
        return False
    if hasattr(value, "__cuda_array_interface__"):
        return True
    device = getattr(value, "__dlpack_device__", None)
    return device is not None and int(device()[0]) in DLPACK_CUDA


def cuda_interface(obj: Any) -> dict[str, Any] | None:
    """__cuda_array_interface__ of obj, or of a DLPack CUDA tensor seen through CuPy/PyTorch;
    None for anything not in GPU memory."""
    cai = getattr(obj, "__cuda_array_interface__", None)
    if cai is not None:
        return cai
    device = getattr(obj, "__dlpack_device__", None)
    if device is None or isinstance(obj, np.ndarray) or device()[0] not in DLPACK_CUDA:
        return None
    for module in ("cupy", "torch.utils.dlpack"):
        try:
            lib = __import__(module, fromlist=["from_dlpack"])
        except ImportError:
            continue
        # Zero-copy view; the producer keeps ownership of the memory.
        return lib.from_dlpack(obj).__cuda_array_interface__
    raise BackendUnavailableError(
        "a DLPack CUDA tensor without __cuda_array_interface__ needs CuPy or PyTorch to be read"
    )


# NumPy's dtype of a torch.dtype or a typestr, found once per kind (frames read it every time)
_DTYPES: dict[Any, np.dtype] = {}


def numpy_dtype(what: str, dtype: Any) -> np.dtype:
    """NumPy's dtype of a torch.dtype, a typestr or a dtype name; InputError naming ``what``
    for one NumPy has none of (bfloat16)."""
    found = _DTYPES.get(dtype)
    if found is None:
        try:
            found = _DTYPES[dtype] = np.dtype(str(dtype).removeprefix("torch."))
        except TypeError:
            raise InputError(f"{what}: dtype {dtype} has no NumPy equivalent") from None
    return found


def device_array(
    obj: Any, what: str = "array", *, torch_accessors: bool = False
) -> DeviceArray | None:
    """Where a GPU array's bytes are, or None for an object that is not one. ``what`` names it
    in errors. ``torch_accessors``: PyTorch CUDA tensors are read through their own accessors,
    which cost a fraction of building their ``__cuda_array_interface__``, and with no producer
    stream (the caller orders its work by its choice of stream), for frames read every time."""
    torch = sys.modules.get("torch") if torch_accessors else None
    if torch is not None and type(obj) is torch.Tensor and obj.is_cuda:
        itemsize = obj.element_size()
        return DeviceArray(
            obj.data_ptr(),
            list(obj.shape),
            [s * itemsize for s in obj.stride()],
            numpy_dtype(what, obj.dtype),
            0,
            False,
        )
    cai = cuda_interface(obj)
    if cai is None:
        return None
    dtype = numpy_dtype(what, cai["typestr"])
    shape = [int(n) for n in cai["shape"]]
    strides = cai.get("strides")
    strides = (
        contiguous_strides(shape, dtype.itemsize) if strides is None else [int(s) for s in strides]
    )
    stream = cai.get("stream")
    address, readonly = cai["data"]
    return DeviceArray(int(address), shape, strides, dtype, int(stream) if stream else 0, readonly)


def stream_handle(stream: Any) -> int:
    """A cudaStream_t from an int, a torch.cuda.Stream (.cuda_stream) or a CuPy stream (.ptr)."""
    handle = stream
    for attribute in ("cuda_stream", "ptr"):
        if hasattr(stream, attribute):
            handle = getattr(stream, attribute)
            break
    if handle is None:
        return 0
    if isinstance(handle, bool) or not isinstance(handle, (int, np.integer)):
        raise InputError(
            "stream: expected a cudaStream_t as int, a torch.cuda.Stream or a CuPy stream, "
            f"given {type(stream).__name__}"
        )
    return int(handle)
