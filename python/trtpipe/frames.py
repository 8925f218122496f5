"""Camera frames in any supported encoding, made from an RGB image.

Benchmarks and tests need frames as a camera driver would deliver them (``bgr8``, ``nv12``,
``yuv422``, a row stride wider than the pixels, ...). These helpers encode an RGB image that way,
using BT.601 limited range for YUV (what cameras and OpenCV's ``COLOR_YUV2RGB_*`` use).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trtpipe.arguments import int_arg
from trtpipe.errors import InputError
from trtpipe.preprocess import BYTE_ORDERS, CHROMA
from trtpipe.preprocess import PACKED_CHANNELS as _PACKED_BPP

#: every encoding _core reads: frames are written from its table's byte orders
FRAME_ENCODINGS = tuple(BYTE_ORDERS)


@dataclass(frozen=True)
class Frame:
    """Raw frame bytes as a ``sensor_msgs/Image`` carries them."""

    data: np.ndarray  # 1-D uint8, height * step bytes (nv12: height * 3 / 2 rows)
    width: int
    height: int
    encoding: str
    step: int

    def as_image(self) -> np.ndarray:
        """The frame as an H×W(×C) array view for the packed encodings (no copy)."""
        if self.encoding not in _PACKED_BPP:
            raise InputError(f"encoding: as_image needs a packed encoding, given {self.encoding!r}")
        bpp = _PACKED_BPP[self.encoding]
        rows = self.data.reshape(self.height, self.step)[:, : self.width * bpp]
        return rows.reshape(self.height, self.width, bpp) if bpp > 1 else rows


def _yuv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    y = 16.0 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128.0 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128.0 + 0.439 * r - 0.368 * g - 0.071 * b
    return y, u, v


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def encode_frame(rgb: np.ndarray, encoding: str, row_padding: int = 0) -> Frame:
    """Encode an H×W×3 uint8 RGB image as ``encoding``, rows padded by ``row_padding`` bytes."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError(f"rgb: expected an H×W×3 uint8 array, given {rgb.dtype} {rgb.shape}")
    if encoding not in BYTE_ORDERS:
        raise InputError(f"encoding: expected one of {FRAME_ENCODINGS}, given {encoding!r}")
    if int_arg("row_padding", row_padding) < 0:
        raise InputError(f"row_padding: expected bytes >= 0, given {row_padding}")
    h, w = rgb.shape[:2]
    order, chroma = BYTE_ORDERS[encoding], CHROMA[encoding]
    y, u, v = _yuv(rgb)
    if chroma == "full":
        channels = {
            "R": rgb[..., 0],
            "G": rgb[..., 1],
            "B": rgb[..., 2],
            "A": np.full((h, w), 255, np.uint8),
            "L": _u8((y - 16.0) * (255.0 / 219.0)),  # grey: full-range luma
        }
        rows = np.stack([channels[c] for c in order], axis=2).reshape(h, -1)
    elif chroma == "4:2:2":  # a pair of pixels: two Ys, their U and V averaged
        if w % 2:
            raise InputError(f"width: {encoding} (4:2:2) needs an even width, given {w}")
        lumas = iter((_u8(y[:, 0::2]), _u8(y[:, 1::2])))
        pair = {"U": _u8((u[:, 0::2] + u[:, 1::2]) / 2), "V": _u8((v[:, 0::2] + v[:, 1::2]) / 2)}
        rows = np.stack([next(lumas) if c == "Y" else pair[c] for c in order], axis=2)
        rows = rows.reshape(h, 2 * w)
    else:  # 4:2:0: a full-resolution Y plane, then a plane of U V for 2×2 blocks
        if w % 2 or h % 2:
            raise InputError(f"width/height: {encoding} (4:2:0) needs even sizes, given {w}×{h}")
        block = {
            "U": _u8(u.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))),
            "V": _u8(v.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))),
        }
        chroma_plane = order.split("/")[1]
        uv = np.stack([block[c] for c in chroma_plane], axis=2).reshape(h // 2, w)
        rows = np.concatenate([_u8(y), uv], axis=0)
    step = rows.shape[1] + row_padding
    padded = np.zeros((rows.shape[0], step), np.uint8)
    padded[:, : rows.shape[1]] = rows
    return Frame(padded.reshape(-1), w, h, encoding, step)


def resize_nearest(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Nearest-neighbour resize (pixel centres), for making test frames of a given size."""
    if int_arg("width", width) < 1 or int_arg("height", height) < 1:
        raise InputError(f"width/height: expected each >= 1, given {width}x{height}")
    h, w = image.shape[:2]
    ys = np.minimum(((np.arange(height) + 0.5) * h / height).astype(np.int64), h - 1)
    xs = np.minimum(((np.arange(width) + 0.5) * w / width).astype(np.int64), w - 1)
    return image[ys[:, None], xs[None, :]]
