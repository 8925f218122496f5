"""YOLOv8 / YOLO11 raw head: ``[B, 4 + C, N]`` — cx, cy, w, h in network pixels, then C class
scores (already sigmoid), one column per anchor; no objectness. Exports transposed to
``[B, N, 4 + C]`` are read in place with ``transposed=True``."""

from __future__ import annotations

from typing import Any

from trtpipe.decode.common import (
    DecodeOptions,
    ImageDecoder,
    Transforms,
    as_float_batch,
    decode_each_image,
    dense_head_image_decoder,
)
from trtpipe.decode.detections import Detections
from trtpipe.errors import InputError


def decode_yolov8(
    output: Any,
    transforms: Transforms = None,
    options: DecodeOptions | None = None,
    *,
    transposed: bool = False,
    **overrides: Any,
) -> list[Detections]:
    """One :class:`Detections` per image of the batch (a 2-D output is one image).
    ``transposed``: the output is ``[B, N, 4 + C]``, one row per anchor."""
    opts = DecodeOptions.of(options, **overrides)
    out = as_float_batch(output, "output", 3)
    if transposed:
        out = out.transpose(0, 2, 1)  # a view: the scans read any strides
    if out.shape[1] < 5:
        layout = "[B, N, 4 + classes]" if transposed else "[B, 4 + classes, N]"
        raise InputError(f"output: expected {layout}, given {out.shape}")
    return decode_each_image(out, transforms, yolov8_image_decoder(out.shape[1], opts))


def yolov8_image_decoder(
    channels: int, options: DecodeOptions, *, transposed: bool = False
) -> ImageDecoder:
    """The decoder of one image's float32 output, ``[4 + C, N]`` (``[N, 4 + C]`` where
    ``transposed``), for a model with ``channels`` = 4 + C: the options resolved once, for a
    model whose outputs keep their shape from frame to frame."""
    return dense_head_image_decoder(channels, options, objectness=False, anchors_as_rows=transposed)
