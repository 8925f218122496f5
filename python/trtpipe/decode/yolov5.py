"""YOLOv5 / YOLOv7 raw head: ``[B, N, 5 + C]`` — cx, cy, w, h, objectness, C class scores
(all sigmoid); a candidate's score is objectness × class score."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtpipe.decode.common import (
    BoxTransform,
    DecodeOptions,
    ImageDecoder,
    Transforms,
    as_float_array,
    class_filter,
    dense_head_detections,
    per_image,
)
from trtpipe.decode.detections import Detections
from trtpipe.errors import InputError


def decode_yolov5(
    output: Any,
    transforms: Transforms = None,
    options: DecodeOptions | None = None,
    **overrides: Any,
) -> list[Detections]:
    """One :class:`Detections` per image of the batch (a 2-D output is one image)."""
    opts = DecodeOptions.of(options, **overrides)
    out = as_float_array(output, "output", (2, 3))
    if out.ndim == 2:
        out = out[None]
    if out.shape[2] < 6:
        raise InputError(f"output: expected [B, N, 5 + classes], given {out.shape}")
    images = per_image(transforms, out.shape[0])
    decode_image = yolov5_image_decoder(out.shape[2], opts)
    return [decode_image(pred, images[b]) for b, pred in enumerate(out)]


def yolov5_image_decoder(channels: int, options: DecodeOptions) -> ImageDecoder:
    """The decoder of one image's float32 ``[N, 5 + C]`` output, for a model with
    ``channels`` = 5 + C: the options resolved once (see :func:`yolov8_image_decoder`)."""
    if channels < 6:
        raise InputError(f"output: expected 5 + classes channels (at least 6), given {channels}")
    wanted = class_filter(options, channels - 5)

    def decode_image(pred: np.ndarray, transform: BoxTransform | None) -> Detections:
        # score = objectness × class score, per class; anchors whose objectness alone cannot
        # pass are skipped (class scores are at most 1)
        return dense_head_detections(
            (pred[:, 5:] if wanted is None else pred[:, 5 + wanted]).T,
            pred[:, :4].T,
            transform,
            options,
            objectness=pred[:, 4],
            class_ids_of_rows=wanted,
        )

    return decode_image
