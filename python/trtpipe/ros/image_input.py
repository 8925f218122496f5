"""sensor_msgs/Image and CompressedImage → what ``trtpipe.Detector`` takes, validated.

Raw images are not copied: rclpy hands ``msg.data`` over as an ``array.array`` (its one copy,
out of the middleware's buffer), and a ``memoryview`` of it goes to the preprocessing input.
Every rejected message raises :class:`FrameRejected` whose ``reason`` the node counts.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from trtpipe.errors import InputError
from trtpipe.preprocess import PACKED_CHANNELS as PACKED
from trtpipe.preprocess import YUV422

BYTES_PER_PIXEL = {**PACKED, **dict.fromkeys(YUV422, 2), "nv12": 1}


class FrameRejected(InputError):
    """A message that cannot be a frame; ``reason`` is a short label for the drop counter."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class RawFrame:
    data: memoryview  # a view of msg.data: no copy
    width: int
    height: int
    step: int
    encoding: str

    def as_array(self) -> np.ndarray:
        """HWC (or HW for mono8) uint8 view of the pixels of a packed encoding, no copy."""
        if self.encoding not in PACKED:
            raise InputError(f"encoding: expected one of {sorted(PACKED)}, given {self.encoding!r}")
        bpp = PACKED[self.encoding]
        rows = np.frombuffer(self.data, dtype=np.uint8, count=self.height * self.step)
        pixels = rows.reshape(self.height, self.step)[:, : self.width * bpp]
        return pixels.reshape(self.height, self.width, bpp) if bpp > 1 else pixels


def raw_frame(msg: Any) -> RawFrame:
    """Validate a ``sensor_msgs/Image`` and view its pixels; raises :class:`FrameRejected`."""
    encoding = str(msg.encoding).lower()
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    if encoding not in BYTES_PER_PIXEL:
        raise FrameRejected(
            "unknown_encoding",
            f"encoding: expected one of {sorted(BYTES_PER_PIXEL)}, given {msg.encoding!r}",
        )
    if width == 0 or height == 0:
        raise FrameRejected(
            "zero_size", f"width x height: expected a non-empty image, given {width}x{height}"
        )
    bpp = BYTES_PER_PIXEL[encoding]
    if step < width * bpp:
        raise FrameRejected(
            "bad_step",
            f"step: expected >= width x {bpp} = {width * bpp} bytes for {encoding}, given {step}",
        )
    subsampled = encoding == "nv12" or encoding in YUV422
    if subsampled and (width % 2 or (encoding == "nv12" and height % 2)):
        raise FrameRejected(
            "odd_size",
            f"width x height: expected even dimensions for {encoding}, given {width}x{height}",
        )
    rows = height * 3 // 2 if encoding == "nv12" else height  # nv12: Y plane + half-height UV
    data = memoryview(msg.data).cast("B")
    if data.nbytes < rows * step:
        what = "height x 3/2 x step" if encoding == "nv12" else "height x step"
        raise FrameRejected(
            "short_data", f"data: expected >= {what} = {rows * step} bytes, given {data.nbytes}"
        )
    return RawFrame(data=data, width=width, height=height, step=step, encoding=encoding)


def decode_compressed(msg: Any) -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` (JPEG, PNG, ...) to HWC RGB uint8."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:  # pragma: no cover - Pillow is part of the ros extra
        raise FrameRejected(
            "no_decoder", "CompressedImage needs Pillow (pip install 'trtpipe[ros]')"
        ) from exc
    payload = memoryview(msg.data).cast("B")
    if payload.nbytes == 0:
        raise FrameRejected(
            "bad_compressed", f"data: expected a {msg.format!r} payload, given 0 bytes"
        )
    try:
        with Image.open(io.BytesIO(payload)) as image:
            rgb = image.convert("RGB")
            array = np.asarray(rgb)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise FrameRejected(
            "bad_compressed",
            f"data: expected a decodable {msg.format!r} image, given {payload.nbytes} bytes "
            f"that do not decode ({exc})",
        ) from exc
    if array.size == 0:
        raise FrameRejected("zero_size", f"data: the {msg.format!r} image decodes to 0 pixels")
    return array
