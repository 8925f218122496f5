"""Letterbox preprocessing in NumPy, with the interface of trtpipe.preprocess.

trtpipe.Detector uses this only where ``trtpipe.preprocess`` is not importable; it implements
the same contract (``letterbox_params``, ``Letterbox``, a ``Preprocessor`` writing NCHW/NHWC
float32 into a given array) on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trtpipe.errors import InputError

ENCODINGS = {"bgr8": 3, "rgb8": 3, "bgra8": 4, "rgba8": 4, "mono8": 1}


@dataclass(frozen=True)
class Letterbox:
    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    src_w: int
    src_h: int
    dst_w: int
    dst_h: int

    def to_source(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        b = np.asarray(boxes_xyxy, dtype=np.float64).copy()
        b[..., [0, 2]] = np.clip((b[..., [0, 2]] - self.pad_x) / self.scale_x, 0, self.src_w)
        b[..., [1, 3]] = np.clip((b[..., [1, 3]] - self.pad_y) / self.scale_y, 0, self.src_h)
        return b.astype(np.float32)

    def to_network(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        b = np.asarray(boxes_xyxy, dtype=np.float64).copy()
        b[..., [0, 2]] = b[..., [0, 2]] * self.scale_x + self.pad_x
        b[..., [1, 3]] = b[..., [1, 3]] * self.scale_y + self.pad_y
        return b.astype(np.float32)


def letterbox_params(
    src_w: int, src_h: int, dst_w: int, dst_h: int, mode: str = "letterbox"
) -> Letterbox:
    for name, value in (("src_w", src_w), ("src_h", src_h), ("dst_w", dst_w), ("dst_h", dst_h)):
        if int(value) <= 0:
            raise InputError(f"{name}: expected a positive size, given {value}")
    if mode == "stretch":
        return Letterbox(dst_w / src_w, dst_h / src_h, 0.0, 0.0, src_w, src_h, dst_w, dst_h)
    if mode != "letterbox":
        raise InputError(f"mode: expected 'letterbox' or 'stretch', given {mode!r}")
    scale = min(dst_w / src_w, dst_h / src_h)
    new_w, new_h = max(1, round(src_w * scale)), max(1, round(src_h * scale))
    return Letterbox(
        new_w / src_w,
        new_h / src_h,
        (dst_w - new_w) // 2,
        (dst_h - new_h) // 2,
        src_w,
        src_h,
        dst_w,
        dst_h,
    )


def _resize_bilinear(image: np.ndarray, new_w: int, new_h: int) -> np.ndarray:
    """Half-pixel-centre bilinear resize (the convention of OpenCV's INTER_LINEAR)."""
    src_h, src_w = image.shape[:2]
    ys = np.clip((np.arange(new_h) + 0.5) * (src_h / new_h) - 0.5, 0, src_h - 1)
    xs = np.clip((np.arange(new_w) + 0.5) * (src_w / new_w) - 0.5, 0, src_w - 1)
    y0 = np.floor(ys).astype(np.intp)
    x0 = np.floor(xs).astype(np.intp)
    y1, x1 = np.minimum(y0 + 1, src_h - 1), np.minimum(x0 + 1, src_w - 1)
    wy = (ys - y0).astype(np.float32)[:, None, None]
    wx = (xs - x0).astype(np.float32)[None, :, None]
    img = image.astype(np.float32)
    top = img[y0][:, x0] * (1 - wx) + img[y0][:, x1] * wx
    bottom = img[y1][:, x0] * (1 - wx) + img[y1][:, x1] * wx
    return top * (1 - wy) + bottom * wy


def _as_rgb(image: np.ndarray, encoding: str) -> np.ndarray:
    if encoding == "mono8":
        return np.repeat(image.reshape(image.shape[0], image.shape[1], 1), 3, axis=2)
    if encoding in ("bgr8", "bgra8"):
        return image[..., 2::-1]
    return image[..., :3]


class Preprocessor:
    """Letterbox + colour conversion + scaling into an NCHW or NHWC float32 array."""

    def __init__(
        self,
        size: tuple[int, int],
        layout: str = "NCHW",
        dtype: str = "float32",
        channel_order: str = "RGB",
        resize: str = "letterbox",
        pad_value: int = 114,
        scale: float = 1 / 255,
        device: str = "cpu",
        **_: Any,
    ):
        if device not in ("cpu", "auto"):
            raise InputError(f"device: expected 'cpu' (NumPy preprocessing), given {device!r}")
        self.size = (int(size[0]), int(size[1]))
        self.layout = layout
        self.dtype = np.dtype(dtype)
        self.channel_order = channel_order
        self.resize = resize
        self.pad_value = pad_value
        self.scale = scale

    def empty(self, batch: int = 1) -> np.ndarray:
        w, h = self.size
        shape = (batch, 3, h, w) if self.layout == "NCHW" else (batch, h, w, 3)
        return np.zeros(shape, self.dtype)

    def __call__(
        self,
        image: Any,
        out: np.ndarray,
        encoding: str | None = None,
        *,
        width: int | None = None,
        height: int | None = None,
        step: int | None = None,
        batch_index: int = 0,
        stream: int = 0,
    ) -> Letterbox:
        image, encoding = _host_image(image, encoding, width, height, step)
        src_h, src_w = image.shape[:2]
        dst_w, dst_h = self.size
        lb = letterbox_params(src_w, src_h, dst_w, dst_h, self.resize)
        new_w, new_h = round(src_w * lb.scale_x), round(src_h * lb.scale_y)
        rgb = _as_rgb(image, encoding)
        if self.channel_order == "BGR":
            rgb = rgb[..., ::-1]
        canvas = np.full((dst_h, dst_w, 3), float(self.pad_value), np.float32)
        x, y = int(lb.pad_x), int(lb.pad_y)
        canvas[y : y + new_h, x : x + new_w] = _resize_bilinear(rgb, new_w, new_h)
        canvas *= self.scale
        if self.layout == "NCHW":
            out[batch_index] = canvas.transpose(2, 0, 1)
        else:
            out[batch_index] = canvas
        return lb


def _host_image(
    image: Any, encoding: str | None, width: int | None, height: int | None, step: int | None
) -> tuple[np.ndarray, str]:
    if isinstance(image, (bytes, bytearray, memoryview)) or (
        isinstance(image, np.ndarray) and image.ndim == 1
    ):
        if width is None or height is None or encoding is None:
            raise InputError("image: raw bytes need width, height and encoding")
        if encoding not in ENCODINGS:
            raise InputError(f"encoding: expected one of {sorted(ENCODINGS)}, given {encoding!r}")
        channels = ENCODINGS[encoding]
        row = width * channels
        step = row if step is None else step
        data = np.frombuffer(image, np.uint8)
        if step < row or data.size < step * (height - 1) + row:
            raise InputError(
                f"image: expected {step * height} bytes ({height} rows of step {step} >= "
                f"{row}), given {data.size}"
            )
        data = np.lib.stride_tricks.as_strided(
            data, (height, width, channels), (step, channels, 1), writeable=False
        )
        return data, encoding
    if not isinstance(image, np.ndarray):
        raise InputError(f"image: expected a NumPy HWC uint8 array, given {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InputError(f"image: expected dtype uint8, given {image.dtype}")
    if image.ndim == 2:
        channels = 1
    elif image.ndim == 3 and image.shape[2] in (1, 3, 4):
        channels = image.shape[2]
    else:
        raise InputError(f"image: expected HxW or HxWx{{1,3,4}}, given shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise InputError(f"image: expected a non-empty image, given shape {image.shape}")
    default = {1: "mono8", 3: "bgr8", 4: "bgra8"}[channels]
    encoding = encoding or default
    if ENCODINGS.get(encoding) != channels:
        raise InputError(
            f"encoding: expected one for {channels} channels, given {encoding!r} for shape "
            f"{image.shape}"
        )
    return image, encoding
