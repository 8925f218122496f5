"""Camera frame to network input in one pass: colour conversion, letterbox or stretch resize,
normalisation and layout, written into one batch slot of a caller-given tensor.

On a GPU this is one fused CUDA kernel writing straight into a device buffer (the engine's
input binding); elsewhere the CPU path in ``trtpipe._core`` computes the same numbers, bit for
bit the per-pixel CPU reference (:meth:`Preprocessor.reference`), over a few threads.

    pre = Preprocessor(size=(640, 640), dtype="float16")
    out = pre.empty(batch=1)
    lb = pre(frame_bgr, out)              # NumPy HWC, raw bytes, or a GPU array
    boxes_src = lb.to_source(boxes_net)   # undo the letterbox for detections
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from trtpipe import _core
from trtpipe.arguments import finite_real, int_arg
from trtpipe.arrays import contiguous_strides, device_array, stream_handle
from trtpipe.errors import InputError
from trtpipe.memory import DevicePool, PinnedPool

logger = logging.getLogger(__name__)

# The encodings _core reads, from its one table of them (kEncodingTable, encoding.hpp).
_ENCODING_TABLE: tuple[dict, ...] = tuple(_core.encoding_table())
ENCODINGS: tuple[str, ...] = tuple(e["name"] for e in _ENCODING_TABLE)
_ENCODING_INFO: dict[str, dict] = {e["name"]: e for e in _ENCODING_TABLE}
# Bytes per pixel of the packed encodings (one pixel's colour in its own bytes).
PACKED_CHANNELS = {
    e["name"]: e["bytes_per_pixel"] for e in _ENCODING_TABLE if e["chroma"] == "full"
}
# How each encoding samples colour ("full", "4:2:2", "4:2:0") and the order of a row's bytes
# ("BGR", "UYVY", "Y/UV", ...: see EncodingInfo::byte_order), for what writes frames.
CHROMA = {e["name"]: e["chroma"] for e in _ENCODING_TABLE}
BYTE_ORDERS = {e["name"]: e["byte_order"] for e in _ENCODING_TABLE}
_DEFAULT_BY_CHANNELS = {1: "mono8", 3: "bgr8", 4: "bgra8"}
_NUMPY_DTYPES = {np.dtype(np.float32): "float32", np.dtype(np.float16): "float16"}
_MAX_CACHED_SIZES = 64  # frame sizes whose Letterbox is kept
_MAX_THREADS = 256  # CPU path threads for one frame: far more only fails to start them
_OWN_POOL_MAX = 1 << 34  # the preprocessor's own output pool: room for any batch of inputs


@dataclass(frozen=True)
class Letterbox:
    """How a source image sits in the network input: network px = source px * scale + pad."""

    scale_x: float
    scale_y: float
    pad_x: int
    pad_y: int
    src_w: int
    src_h: int
    dst_w: int
    dst_h: int

    @property
    def new_w(self) -> int:
        """Width of the resized image inside the network input."""
        return round(self.src_w * self.scale_x)

    @property
    def new_h(self) -> int:
        return round(self.src_h * self.scale_y)

    def to_source(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Boxes (..., 4) x1 y1 x2 y2 in network px to source px, clipped to the image (_core's
        letterbox inverse, the one the decoders map with)."""
        return _core.decode.boxes_to_source(_boxes(boxes_xyxy), self.source_terms)

    @functools.cached_property
    def source_terms(self) -> tuple[float, float, float, float, float, float]:
        """(pad_x, pad_y, scale_x, scale_y, src_w, src_h): the terms of :meth:`to_source`, as
        _core takes them."""
        return (
            float(self.pad_x),
            float(self.pad_y),
            float(self.scale_x),
            float(self.scale_y),
            float(self.src_w),
            float(self.src_h),
        )

    def to_network(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Boxes (..., 4) x1 y1 x2 y2 in source px to network px."""
        boxes = _boxes(boxes_xyxy)
        out = np.empty_like(boxes)
        out[..., 0::2] = boxes[..., 0::2] * self.scale_x + self.pad_x
        out[..., 1::2] = boxes[..., 1::2] * self.scale_y + self.pad_y
        return out


def _boxes(boxes_xyxy: Any) -> np.ndarray:
    boxes = np.asarray(boxes_xyxy)
    if boxes.ndim == 0 or boxes.shape[-1] != 4:
        raise InputError(f"boxes_xyxy: expected shape (..., 4), given {boxes.shape}")
    return boxes if np.issubdtype(boxes.dtype, np.floating) else boxes.astype(np.float32)


_LETTERBOX_FIELDS = tuple(f.name for f in dataclasses.fields(Letterbox))


def _letterbox(params: dict[str, Any]) -> Letterbox:
    # _core's dict also holds new_w and new_h, which Letterbox derives from the fields
    return Letterbox(**{name: params[name] for name in _LETTERBOX_FIELDS})


def letterbox_params(
    src_w: int, src_h: int, dst_w: int, dst_h: int, mode: str = "letterbox"
) -> Letterbox:
    """The geometry the preprocessing uses for a src_w x src_h frame and a dst_w x dst_h input.

    "letterbox": keep the aspect ratio, centre, pad; "stretch": fill, no padding.
    """
    return _letterbox(_core.letterbox_params(src_w, src_h, dst_w, dst_h, mode))


class LocatedFrame(NamedTuple):
    """Where a frame's bytes are and how they are laid out: the one view of a frame every
    frame-taking call of ``_core`` reads (a tuple: built once per frame)."""

    address: Any  # an int, or a NumPy array (_core reads its address)
    size: int
    width: int
    height: int
    step: int
    encoding: str
    on_device: bool
    stream: int  # producer stream from __cuda_array_interface__, 0 for none


class PreparedOutput(NamedTuple):
    """An output buffer as ``_core`` reads it, from :meth:`Preprocessor.prepare_output`: the one
    view of a preprocessing output (a tuple)."""

    address: Any  # an int, or a NumPy array (_core reads its address)
    shape: list[int]
    strides: list[int]
    dtype: str
    on_device: bool
    stream: int


def _device_array(obj: Any) -> tuple[int, list[int], list[int], int] | None:
    """(address, shape, byte strides, producer stream) of a uint8 GPU array, or None for an
    object that is not one."""
    view = device_array(obj, "image", torch_accessors=True)
    if view is None:
        return None
    if view.dtype != np.uint8:
        raise InputError(f"image: expected a uint8 GPU array, given typestr {view.dtype.str}")
    return view.address, view.shape, view.strides, view.stream


def _raw_frame(
    address: Any,
    nbytes: int,
    encoding: str | None,
    width: int | None,
    height: int | None,
    step: int | None,
    on_device: bool,
    stream: int,
) -> LocatedFrame:
    for name, value in (("encoding", encoding), ("width", width), ("height", height)):
        if value is None:
            raise InputError(f"{name}: expected a value for a raw byte buffer, given None")
    return LocatedFrame(
        address,
        nbytes,
        int_arg("width", width),
        int_arg("height", height),
        0 if step is None else int_arg("step", step),
        encoding,
        on_device,
        stream,
    )


def _check_rows(shape: tuple[int, ...], encoding: str | None, height: Any) -> None:
    """An array given as raw bytes with a height must hold that frame's rows, no more: the first
    rows of a larger image would be read as the whole frame."""
    rows = int_arg("height", height)
    if CHROMA.get(encoding or "") == "4:2:0":
        rows += rows // 2  # the U V plane's rows below the Y plane's
    if shape[0] != rows:
        raise InputError(
            f"image: expected an array of {rows} rows for a frame {height} high, given shape "
            f"{tuple(shape)} (give the array without width/height to read it whole)"
        )


def _image_frame(
    address: Any,
    shape: Sequence[int],
    strides: Sequence[int],
    encoding: str | None,
    step: int | None,
    on_device: bool,
    stream: int,
) -> LocatedFrame:
    """A 2-D (H, W) or 3-D (H, W, C) uint8 array whose rows may be padded (strides[0] = step)."""
    return LocatedFrame(
        address, *_image_layout(tuple(shape), tuple(strides), encoding, step), on_device, stream
    )


# Checking a layout costs more than the rest of a frame's Python; a camera's frames all share
# one, so the answers (a pure function of the arguments; errors are not cached) are kept.
@functools.lru_cache(maxsize=64, typed=True)  # typed: step 30.0 must not hit 30's entry
def _image_layout(
    shape: tuple[int, ...], strides: tuple[int, ...], encoding: str | None, step: int | None
) -> tuple[int, int, int, int, str]:
    """(size, width, height, row step, encoding) of an image array of this layout."""
    if len(shape) not in (2, 3):
        raise InputError(
            f"image: expected an (H, W) or (H, W, C) uint8 array, given shape {tuple(shape)}"
        )
    channels = shape[2] if len(shape) == 3 else 1
    if encoding is None:
        encoding = _DEFAULT_BY_CHANNELS.get(channels)
        if encoding is None:
            raise InputError(
                f"encoding: expected one of {', '.join(ENCODINGS)} for a {channels}-channel "
                f"array, given None"
            )
    rows, cols = shape[0], shape[1]
    info = _ENCODING_INFO.get(encoding)
    if info is None:
        raise InputError(f"encoding: expected one of {', '.join(ENCODINGS)}, given {encoding!r}")
    # OpenCV's layouts: (H, W, bytes per pixel), and for 4:2:0 an (H * 3/2, W) array, the
    # chroma plane below the luma plane
    width, height, want = cols, rows, info["bytes_per_pixel"]
    if info["chroma"] == "4:2:0":
        if channels != 1 or rows % 3 != 0:
            raise InputError(
                f"image: expected an (H * 3/2, W) array for {encoding}, given shape {tuple(shape)}"
            )
        height = rows * 2 // 3
    if channels != want:
        raise InputError(
            f"image: expected {want} channel(s) per pixel for {encoding}, given an array of "
            f"shape {tuple(shape)}"
        )
    inner = (want, 1) if len(shape) == 3 else (1,)
    if tuple(strides[1:]) != inner and cols > 1:
        want_strides = ", ".join(map(str, inner))
        raise InputError(
            f"image: expected rows of contiguous pixels (strides (step, {want_strides})), "
            f"given strides {tuple(strides)}"
        )
    row_step = int(strides[0])
    if rows == 1:
        row_step = cols * want  # one row: its stride (0 for img[None]) is never used
    if step is not None and int_arg("step", step) != row_step:
        raise InputError(f"step: expected {row_step} (the array's row stride), given {step}")
    if row_step <= 0 and rows > 0 and cols > 0:
        # A host array is copied before it gets here (locate_frame); a GPU array is not.
        raise InputError(
            f"image: expected a positive row stride, given {row_step} (rows that share memory, "
            "e.g. a broadcast view): pass a contiguous copy"
        )
    size = (rows - 1) * row_step + cols * want if rows and cols else 0
    return size, width, height, row_step, encoding


def locate_frame(
    image: Any,
    encoding: str | None,
    width: int | None,
    height: int | None,
    step: int | None,
) -> tuple[LocatedFrame, Any]:
    """Where the frame's bytes are; the second value keeps any converted array alive."""
    located = None if isinstance(image, (np.ndarray, bytes)) else _device_array(image)
    if located is not None:
        address, shape, strides, stream = located
        if width is not None or height is not None:
            contiguous = contiguous_strides(shape, 1) == strides
            if not contiguous:
                raise InputError(
                    "image: expected a C-contiguous buffer when width/height are given, "
                    f"given strides {tuple(strides)} for shape {tuple(shape)}"
                )
            if len(shape) >= 2 and height is not None:
                _check_rows(tuple(shape), encoding, height)
            nbytes = int(np.prod(shape)) if shape else 0
            frame = _raw_frame(address, nbytes, encoding, width, height, step, True, stream)
        else:
            frame = _image_frame(address, shape, strides, encoding, step, True, stream)
        return frame, image
    if isinstance(image, (bytes, bytearray, memoryview)):
        try:
            array = np.frombuffer(image, dtype=np.uint8)
        except (BufferError, ValueError) as exc:  # e.g. a strided memoryview
            raise InputError(f"image: expected a contiguous buffer of bytes: {exc}") from None
    elif isinstance(image, np.ndarray):
        array = image
    elif hasattr(image, "__array__"):  # e.g. a CPU torch tensor, PIL image
        array = np.asarray(image)
    else:
        try:  # anything exporting the buffer protocol, e.g. a pinned-pool buffer
            array = np.asarray(memoryview(image))
        except TypeError:
            raise InputError(
                "image: expected a NumPy array, bytes/memoryview or a GPU array "
                f"(__cuda_array_interface__ or DLPack), given {type(image).__name__}"
            ) from None
    if array.dtype != np.uint8:
        raise InputError(f"image: expected dtype uint8, given {array.dtype}")
    if width is not None or height is not None or array.ndim == 1:
        if array.ndim >= 2 and height is not None:
            _check_rows(array.shape, encoding, height)
        if not array.flags.c_contiguous:
            array = _contiguous_copy(array)
        frame = _raw_frame(array, array.nbytes, encoding, width, height, step, False, 0)
        return frame, array
    if array.ndim in (2, 3) and array.size and any(s < 0 for s in array.strides):
        array = _contiguous_copy(array)
    if array.ndim in (2, 3) and array.shape[0] > 1 and array.strides[0] == 0:
        array = _contiguous_copy(array)  # rows that alias one row (np.broadcast_to): one copy
    if array.ndim == 3 and array.size and array.strides[1:] != (array.shape[2], 1):
        array = _contiguous_copy(array)  # pixels not contiguous in a row: one copy
    if array.ndim == 2 and array.size and array.strides[1] != 1:
        array = _contiguous_copy(array)
    frame = _image_frame(array, array.shape, array.strides, encoding, step, False, 0)
    return frame, array


def _contiguous_copy(array: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of a frame whose layout the preprocessing cannot read in place."""
    try:
        return np.ascontiguousarray(array)
    except MemoryError:  # e.g. np.broadcast_to of a huge shape: far beyond any camera frame
        raise InputError(
            f"image: a {array.shape} frame is too large to copy into contiguous memory"
        ) from None


def _output(out: Any) -> PreparedOutput:
    if isinstance(out, np.ndarray):
        if not out.flags.writeable:
            raise InputError("out: expected a writable array, given a read-only one")
        if not out.dtype.isnative:
            # '>f4' is float32 by name, but the values are written in the machine's order
            raise InputError(
                f"out: expected an array of native byte order, given dtype {out.dtype.str}"
            )
        dtype = _NUMPY_DTYPES.get(out.dtype) or out.dtype.name
        return PreparedOutput(out, list(out.shape), list(out.strides), dtype, False, 0)
    view = device_array(out, "out")
    if view is not None:
        if view.readonly:
            raise InputError("out: expected a writable GPU array, given a read-only one")
        dtype = _NUMPY_DTYPES.get(view.dtype) or f"typestr {view.dtype.str}"
        return PreparedOutput(view.address, view.shape, view.strides, dtype, True, view.stream)
    raise InputError(
        "out: expected a NumPy array or a GPU array (__cuda_array_interface__ or DLPack), "
        f"given {type(out).__name__}"
    )


def _dtype_name(dtype: Any) -> str:
    try:
        return np.dtype(dtype).name  # "float16", np.float16, torch-style names alike
    except TypeError:
        return str(dtype)


@functools.cache
def _gpu_usable() -> bool:
    return bool(_core.build_info()["with_cuda"]) and bool(_core.query_devices()["gpus"])


def _per_channel(field: str, values: Any) -> list[float]:
    """Mean or std: one finite real number per output channel."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray):
        raise InputError(f"{field}: expected one number per channel, given {values!r}")
    return [finite_real(f"{field}[{k}]", v) for k, v in enumerate(values)]


def _parse_device(device: str) -> tuple[str, int]:
    if not isinstance(device, str):
        raise InputError(
            f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', given {type(device).__name__}"
        )
    if device == "auto":
        return ("cuda" if _gpu_usable() else "cpu"), 0
    if device == "cpu":
        return "cpu", 0
    if device == "cuda":
        return "cuda", 0
    if device.startswith("cuda:") and device[5:].isdigit():
        return "cuda", int(device[5:])
    raise InputError(f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', given {device!r}")


class Preprocessor:
    """Turns camera frames into a network's input tensor; one call per frame and batch slot.

    ``device``: "cpu" (the CPU path), "cuda"/"cuda:N" (the fused kernel), or
    "auto" (where ``out`` lives decides; :meth:`empty` allocates on the GPU when one is usable).
    ``host_input`` (GPU only): how a frame in host memory reaches the kernel — "mapped" (the
    kernel reads pinned memory in place), "copy" (async copy to device memory first), or "auto"
    (mapped on integrated GPUs; elsewhere the faster of the two, timed once per frame size).
    ``pinned_pool`` / ``device_pool`` (GPU only): where the staging of host frames comes from
    (pinned copies of pageable frames; device copies on the "copy" path), and ``device_pool``
    also :meth:`empty`'s outputs; None: pools of the preprocessor's own.
    Mean and std are per output channel, in ``channel_order``, applied after ``scale``.
    ``threads`` (CPU only): threads sharing a frame's rows, the calling one included (None: one
    per core this process may use, at most 8); the GIL is released while they work.

    Not thread-safe: use one Preprocessor per thread (they share nothing).
    """

    def __init__(
        self,
        size: tuple[int, int] = (640, 640),
        layout: str = "NCHW",
        dtype: str = "float32",
        channel_order: str = "RGB",
        resize: str = "letterbox",
        interpolation: str = "bilinear",
        pad_value: float = 114,
        scale: float = 1 / 255,
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        device: str = "auto",
        host_input: str = "auto",
        threads: int | None = None,
        pinned_pool: PinnedPool | None = None,
        device_pool: DevicePool | None = None,
    ) -> None:
        if isinstance(size, (str, bytes)) or not isinstance(size, Sequence) or len(size) != 2:
            raise InputError(f"size: expected (width, height), given {size!r}")
        size = (int_arg("size[0]", size[0]), int_arg("size[1]", size[1]))
        self._options = _core.PreprocessOptions(
            size[0],
            size[1],
            layout,
            _dtype_name(dtype),
            channel_order,
            resize,
            interpolation,
            finite_real("pad_value", pad_value),
            finite_real("scale", scale),
            _per_channel("mean", mean),
            _per_channel("std", std),
        )
        if host_input not in ("auto", "mapped", "copy"):
            raise InputError(
                f"host_input: expected 'auto', 'mapped' or 'copy', given {host_input!r}"
            )
        if threads is not None and (
            isinstance(threads, bool)
            or not isinstance(threads, (int, np.integer))
            or not 1 <= threads <= _MAX_THREADS
        ):
            raise InputError(
                f"threads: expected None (one per core, at most 8) or an int in 1..{_MAX_THREADS}, "
                f"given {threads!r}"
            )
        self.threads = threads
        for field, pool, kind in (
            ("pinned_pool", pinned_pool, PinnedPool),
            ("device_pool", device_pool, DevicePool),
        ):
            if pool is not None and not isinstance(pool, kind):
                raise InputError(
                    f"{field}: expected None or a trtpipe.{kind.__name__}, "
                    f"given {type(pool).__name__}"
                )
        self.pinned_pool = pinned_pool
        self.device_pool = device_pool
        self._own_device_pool: DevicePool | None = None
        self._cpu: Any = None
        self.size = size
        self.layout = layout
        self.dtype = self._options.dtype
        self.resize = resize
        self.host_input = host_input
        self._letterboxes: dict[tuple[int, int], Letterbox] = {}
        self._auto = device == "auto"
        self.device, self._device_index = _parse_device(device)
        self._gpu: Any = None
        if self.device == "cuda" and not self._auto:
            self._gpu_path()

    def _gpu_path(self) -> Any:
        if self._gpu is None:
            self._gpu = _core.GpuPreprocessor(
                self._options,
                self.host_input,
                self._device_index,
                self.pinned_pool,
                self.device_pool,
            )
        return self._gpu

    def _cpu_path(self) -> Any:
        if self._cpu is None:
            self._cpu = _core.CpuPreprocessor(self._options, int(self.threads or 0))
        return self._cpu

    def output_shape(self, batch: int = 1) -> tuple[int, int, int, int]:
        w, h = self.size
        return (batch, 3, h, w) if self.layout == "NCHW" else (batch, h, w, 3)

    def letterbox(self, src_w: int, src_h: int) -> Letterbox:
        """The geometry a src_w x src_h frame gets (what a call returns)."""
        return letterbox_params(src_w, src_h, self.size[0], self.size[1], self.resize)

    def empty(self, batch: int = 1, *, stream: Any = None) -> Any:
        """An uninitialised output tensor of the right shape and dtype on this device.

        On the GPU: a buffer of ``device_pool`` (or of the preprocessor's own DevicePool), with
        ``__cuda_array_interface__`` and DLPack, so CuPy and PyTorch view it without a copy.
        It belongs to ``stream`` (default: the legacy default stream): calls on that stream need
        no cross-stream wait, and the stream must outlive the buffer (see trtpipe.memory).
        """
        if int_arg("batch", batch) < 1:
            raise InputError(f"batch: expected >= 1, given {batch}")
        shape = self.output_shape(batch)
        if self.device == "cpu":
            return np.empty(shape, dtype=self.dtype)
        return self._output_pool().empty(shape, self.dtype, stream=stream)

    def _output_pool(self) -> DevicePool:
        if self.device_pool is not None:
            return self.device_pool
        if self._own_device_pool is None:
            # No arena until the first request, then growth by what is asked.
            self._own_device_pool = DevicePool(
                0, max_bytes=_OWN_POOL_MAX, device=self._device_index
            )
        return self._own_device_pool

    def prepare_output(self, out: Any) -> PreparedOutput:
        """``out`` read once, to pass as ``out`` to ``__call__`` for every frame written into
        it (saves reading its array interface per frame). ``out`` must stay alive, unchanged."""
        return _output(out)

    @property
    def host_input_choice(self) -> dict[str, Any] | None:
        """What "auto" chose for the last host frame, with the timings behind it (GPU only)."""
        return None if self._gpu is None else dict(self._gpu.last_host_choice)

    def __call__(
        self,
        image: Any,
        out: Any,
        encoding: str | None = None,
        *,
        width: int | None = None,
        height: int | None = None,
        step: int | None = None,
        batch_index: int = 0,
        stream: Any = 0,
    ) -> Letterbox:
        """Writes ``image`` into slot ``batch_index`` of ``out``; returns the geometry used.

        On the GPU the work is enqueued on ``stream``; a pageable host frame has been copied
        when this returns, a device or pinned frame must stay valid until the stream ran it.
        """
        target = out if isinstance(out, PreparedOutput) else _output(out)
        on_gpu = target.on_device
        if not self._auto and on_gpu != (self.device == "cuda"):
            where = "a GPU array" if on_gpu else "a NumPy array"
            raise InputError(
                f"out: expected {'a GPU array' if self.device == 'cuda' else 'a NumPy array'} "
                f"for device={self.device!r}, given {where}"
            )
        frame, keep = locate_frame(image, encoding, width, height, step)
        if on_gpu:
            params = self._gpu_path().run(frame, target, batch_index, stream_handle(stream))
        else:
            params = self._host_run(self._cpu_path().run, frame, target, batch_index)
        del keep
        return self.geometry(params["src_w"], params["src_h"])

    def geometry(self, src_w: int, src_h: int) -> Letterbox:
        """:meth:`letterbox`, one object per frame size, reused (a camera's frames all have one
        size, and the decoders read its cached terms)."""
        key = (src_w, src_h)
        cached = self._letterboxes.get(key)
        if cached is None:
            if len(self._letterboxes) >= _MAX_CACHED_SIZES:
                self._letterboxes.clear()
            cached = self._letterboxes[key] = self.letterbox(src_w, src_h)
        return cached

    def gpu_core(self) -> Any:
        """The ``_core.GpuPreprocessor`` behind the GPU path (for native frame paths that
        enqueue its work with their own)."""
        if self.device != "cuda":
            raise InputError(f"gpu_core: expected a GPU preprocessor, given device {self.device!r}")
        return self._gpu_path()

    def reference(
        self,
        image: Any,
        out: np.ndarray,
        encoding: str | None = None,
        *,
        width: int | None = None,
        height: int | None = None,
        step: int | None = None,
        batch_index: int = 0,
    ) -> Letterbox:
        """The per-pixel CPU reference: the kernel's maths once per output pixel, slow and
        plain. Same arguments and results as a CPU call (bit for bit); ``out`` is a NumPy array.
        """
        target = _output(out)
        if target.on_device:
            raise InputError("out: expected a NumPy array for the CPU reference, given a GPU array")
        frame, keep = locate_frame(image, encoding, width, height, step)
        run = functools.partial(_core.preprocess_cpu_reference, self._options)
        params = self._host_run(run, frame, target, batch_index)
        del keep
        return _letterbox(params)

    @staticmethod
    def _host_run(
        run: Any, frame: LocatedFrame, target: PreparedOutput, batch_index: int
    ) -> dict[str, Any]:
        if frame.on_device:
            raise InputError(
                "image: expected a host array (NumPy, bytes) for a NumPy output, given a GPU array"
            )
        return run(frame, target, batch_index)  # _core checks batch_index is an int

    def measure_host_input(
        self,
        image: np.ndarray,
        out: Any,
        encoding: str | None = None,
        *,
        width: int | None = None,
        height: int | None = None,
        step: int | None = None,
        stream: Any = 0,
        iterations: int = 20,
    ) -> dict[str, Any]:
        """GPU time (µs, median) of reading this host frame mapped vs copy + kernel."""
        target = _output(out)
        if not target.on_device:
            raise InputError("out: expected a GPU array, given a NumPy array")
        frame, keep = locate_frame(image, encoding, width, height, step)
        if frame.on_device:
            raise InputError("image: expected a host array, given a GPU array")
        timing = self._gpu_path().measure_host_input(
            frame,
            target,
            stream_handle(stream),
            iterations,  # _core checks it is an int
        )
        del keep
        return dict(timing)


__all__ = ["ENCODINGS", "Letterbox", "Preprocessor", "letterbox_params"]
