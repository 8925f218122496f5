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

from trtpipe import _core
from trtpipe.errors import InputError
from trtpipe.preprocess import PACKED_CHANNELS as PACKED

# Pillow's modes of 8-bit samples (palette and bilevel included): what converts to RGB intact
_EIGHT_BIT_MODES = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr"})


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
        # strided over the message's bytes: the last row needs no padding after its pixels
        if bpp == 1:
            return np.ndarray((self.height, self.width), np.uint8, self.data, 0, (self.step, 1))
        shape, strides = (self.height, self.width, bpp), (self.step, bpp, 1)
        return np.ndarray(shape, np.uint8, self.data, 0, strides)


def message_step(msg: Any) -> int:
    """An Image message's row step: given, never 0. The frame rule reads a step of 0 as rows
    packed (what an array's caller may leave out), but a message always states its rows, so a 0
    there is a broken message: read as packed, padded rows would shift into garbage."""
    step = int(msg.step)
    if step == 0 and int(msg.width) > 0 and int(msg.height) > 0:
        raise FrameRejected(
            "bad_step",
            "step: expected the bytes of a row (at least width x bytes per pixel), given 0",
        )
    return step


def raw_frame(msg: Any) -> RawFrame:
    """Validate a ``sensor_msgs/Image`` and view its pixels; raises :class:`FrameRejected`."""
    encoding = str(msg.encoding).lower()
    width, height = int(msg.width), int(msg.height)
    data = memoryview(msg.data).cast("B")
    # the one frame rule, _core's, as every other frame input applies it
    reason, message, step = _core.frame_problem(
        encoding, width, height, message_step(msg), data.nbytes
    )
    if reason is not None:
        raise FrameRejected(reason, message)
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
            # the header's size, by the frame rule, before a single pixel is decoded: a small
            # payload claiming a huge image is bad input, never work for the decoder
            width, height = image.size
            reason, message, _ = _core.frame_problem("rgb8", width, height, 0, width * height * 3)
            if reason is not None:
                raise FrameRejected(reason, f"data: the {msg.format!r} image header: {message}")
            if image.mode not in _EIGHT_BIT_MODES:
                # e.g. a 16-bit PNG: converting it to RGB saturates every value above 255
                raise FrameRejected(
                    "not_8_bit",
                    f"data: expected a {msg.format!r} image of 8-bit samples, given PIL mode "
                    f"{image.mode!r}",
                )
            rgb = image.convert("RGB")
            array = np.asarray(rgb)
    except FrameRejected:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
    ) as exc:
        raise FrameRejected(
            "bad_compressed",
            f"data: expected a decodable {msg.format!r} image, given {payload.nbytes} bytes "
            f"that do not decode ({exc})",
        ) from exc
    if array.size == 0:
        raise FrameRejected("zero_size", f"data: the {msg.format!r} image decodes to 0 pixels")
    return array
