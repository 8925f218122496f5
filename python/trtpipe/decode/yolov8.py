"""YOLOv8 / YOLO11 raw head: ``[B, 4 + C, N]`` — cx, cy, w, h in network pixels, then C class
scores (already sigmoid), one column per anchor; no objectness. Exports transposed to
``[B, N, 4 + C]`` are read in place with ``transposed=True``."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from trtpipe.decode.common import (
    DecodeOptions,
    ImageDecoder,
    Transforms,
    decode_batch,
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
    ``transposed``: the output is ``[B, N, 4 + C]``, one row per anchor. Anchors with a
    non-finite box or score are skipped (a NaN class score never is an anchor's best)."""
    batch_decoder = functools.partial(_batch_decoder, transposed=transposed)
    return decode_batch(output, transforms, options, overrides, batch_decoder)


def _batch_decoder(out: np.ndarray, options: DecodeOptions, *, transposed: bool) -> ImageDecoder:
    channels = out.shape[2] if transposed else out.shape[1]
    if channels < 5:
        layout = "[B, N, 4 + classes]" if transposed else "[B, 4 + classes, N]"
        raise InputError(f"output: expected {layout}, given {out.shape}")
    return yolov8_image_decoder(channels, options, transposed=transposed)


def yolov8_image_decoder(
    channels: int, options: DecodeOptions, *, transposed: bool = False
) -> ImageDecoder:
    """The decoder of one image's float32 output, ``[4 + C, N]`` (``[N, 4 + C]`` where
    ``transposed``), for a model with ``channels`` = 4 + C: the options resolved once, for a
    model whose outputs keep their shape from frame to frame."""
    return dense_head_image_decoder(channels, options, objectness=False, anchors_as_rows=transposed)
