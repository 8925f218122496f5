"""YOLOv5 / YOLOv7 raw head: ``[B, N, 5 + C]`` — cx, cy, w, h, objectness, C class scores
(all sigmoid); a candidate's score is objectness × class score."""

from __future__ import annotations

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


def decode_yolov5(
    output: Any,
    transforms: Transforms = None,
    options: DecodeOptions | None = None,
    **overrides: Any,
) -> list[Detections]:
    """One :class:`Detections` per image of the batch (a 2-D output is one image). Anchors
    with a non-finite box or score (objectness × class score) are skipped."""
    return decode_batch(output, transforms, options, overrides, _batch_decoder)


def _batch_decoder(out: np.ndarray, options: DecodeOptions) -> ImageDecoder:
    if out.shape[2] < 6:
        raise InputError(f"output: expected [B, N, 5 + classes], given {out.shape}")
    return yolov5_image_decoder(out.shape[2], options)


def yolov5_image_decoder(channels: int, options: DecodeOptions) -> ImageDecoder:
    """The decoder of one image's float32 ``[N, 5 + C]`` output, for a model with
    ``channels`` = 5 + C: the options resolved once (see :func:`yolov8_image_decoder`).
    A score is objectness × class score; _core skips the anchors whose objectness alone
    cannot pass (class scores are at most 1)."""
    return dense_head_image_decoder(channels, options, objectness=True, anchors_as_rows=True)
