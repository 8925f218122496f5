"""An independent NumPy formulation of the preprocessing maths, the oracle for _core's.

Float colour conversion (BT.601 limited range), separable resampling with OpenCV's pixel-centre
convention, and the letterbox geometry, each written from its definition.
"""

from __future__ import annotations

import numpy as np

BYTES_PER_PIXEL = {
    "rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1,
    "yuv422": 2, "uyvy": 2, "yuv422_yuy2": 2, "yuyv": 2, "nv12": 1,
}  # fmt: skip
YUV422 = ("yuv422", "uyvy", "yuv422_yuy2", "yuyv")


def pack(pixels: np.ndarray, step: int, rows: int | None = None) -> np.ndarray:
    """A (rows, row_bytes) uint8 array as a flat buffer whose rows are `step` bytes apart."""
    pixels = pixels.reshape(pixels.shape[0], -1)
    rows = pixels.shape[0] if rows is None else rows
    buf = np.full(rows * step, 0xA5, dtype=np.uint8)  # padding bytes that must never be read
    view = buf.reshape(rows, step)
    view[:, : pixels.shape[1]] = pixels
    return buf


def yuv_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    luma = 1.164 * np.maximum(y.astype(np.float64) - 16.0, 0.0)
    cb = u.astype(np.float64) - 128.0
    cr = v.astype(np.float64) - 128.0
    rgb = np.stack([luma + 1.596 * cr, luma - 0.813 * cr - 0.391 * cb, luma + 2.018 * cb], -1)
    return np.clip(rgb, 0.0, 255.0)


def decode(buf: np.ndarray, width: int, height: int, step: int, encoding: str) -> np.ndarray:
    """(height, width, 3) float64 RGB of a raw frame."""
    bpp = BYTES_PER_PIXEL[encoding]
    rows = np.stack([buf[r * step : r * step + width * bpp] for r in range(height)])
    if encoding in ("rgb8", "bgr8", "rgba8", "bgra8"):
        px = rows.reshape(height, width, bpp)[..., :3].astype(np.float64)
        return px[..., ::-1] if encoding.startswith("bgr") else px
    if encoding == "mono8":
        return np.repeat(rows.reshape(height, width, 1).astype(np.float64), 3, axis=2)
    if encoding in YUV422:
        quads = rows.reshape(height, width // 2, 4)
        if encoding in ("yuv422", "uyvy"):
            u, y0, v, y1 = (quads[..., i] for i in range(4))
        else:
            y0, u, y1, v = (quads[..., i] for i in range(4))
        y = np.stack([y0, y1], -1).reshape(height, width)
        return yuv_to_rgb(y, np.repeat(u, 2, axis=1), np.repeat(v, 2, axis=1))
    if encoding == "nv12":
        uv_rows = np.stack(
            [buf[(height + r) * step : (height + r) * step + width] for r in range(height // 2)]
        ).reshape(height // 2, width // 2, 2)
        u = np.repeat(np.repeat(uv_rows[..., 0], 2, axis=0), 2, axis=1)
        v = np.repeat(np.repeat(uv_rows[..., 1], 2, axis=0), 2, axis=1)
        return yuv_to_rgb(rows, u, v)
    raise ValueError(encoding)


def _linear_taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = (np.arange(dst) + 0.5) * (src / dst) - 0.5
    i0 = np.floor(f).astype(np.int64)
    w = f - i0
    w[i0 < 0] = 0.0
    i0[i0 < 0] = 0
    w[i0 >= src - 1] = 0.0
    i0[i0 >= src - 1] = src - 1
    return i0, np.minimum(i0 + 1, src - 1), w


def resize(img: np.ndarray, new_w: int, new_h: int, interpolation: str) -> np.ndarray:
    h, w = img.shape[:2]
    if interpolation == "nearest":
        ix = np.minimum((2 * np.arange(new_w) + 1) * w // (2 * new_w), w - 1)
        iy = np.minimum((2 * np.arange(new_h) + 1) * h // (2 * new_h), h - 1)
        return img[iy][:, ix]
    y0, y1, wy = _linear_taps(h, new_h)
    x0, x1, wx = _linear_taps(w, new_w)
    rows = img[y0] * (1 - wy)[:, None, None] + img[y1] * wy[:, None, None]
    return rows[:, x0] * (1 - wx)[None, :, None] + rows[:, x1] * wx[None, :, None]


def geometry(src_w: int, src_h: int, dst_w: int, dst_h: int, mode: str) -> tuple[int, ...]:
    """(new_w, new_h, pad_x, pad_y)."""
    if mode == "stretch":
        return dst_w, dst_h, 0, 0
    r = min(dst_w / src_w, dst_h / src_h)
    new_w = min(max(int(np.floor(src_w * r + 0.5)), 1), dst_w)
    new_h = min(max(int(np.floor(src_h * r + 0.5)), 1), dst_h)
    return new_w, new_h, (dst_w - new_w) // 2, (dst_h - new_h) // 2


def preprocess(
    rgb: np.ndarray,
    dst_w: int,
    dst_h: int,
    mode: str = "letterbox",
    interpolation: str = "bilinear",
    pad_value: float = 114.0,
) -> np.ndarray:
    """(dst_h, dst_w, 3) float64 RGB, 0..255, before normalisation."""
    new_w, new_h, pad_x, pad_y = geometry(rgb.shape[1], rgb.shape[0], dst_w, dst_h, mode)
    out = np.full((dst_h, dst_w, 3), float(pad_value))
    out[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resize(rgb, new_w, new_h, interpolation)
    return out
