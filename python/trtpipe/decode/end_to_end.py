"""NMS-free / end-to-end heads (YOLOv10, ``nms=True`` exports): ``[B, N, 6]`` rows of
x1, y1, x2, y2 (network pixels), score, class id. The model has already suppressed duplicates."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtpipe.decode.common import (
    BoxTransform,
    DecodeOptions,
    ImageDecoder,
    Transforms,
    decode_batch,
    finish,
)
from trtpipe.decode.detections import Detections
from trtpipe.errors import InputError


def decode_end_to_end(
    output: Any,
    transforms: Transforms = None,
    options: DecodeOptions | None = None,
    **overrides: Any,
) -> list[Detections]:
    """One :class:`Detections` per image; no NMS (``iou`` is not used). Class ids are the
    class column rounded to the nearest integer; rows with a non-finite box, score or class,
    or a class id out of range (negative, or past 2**31 - 1), are skipped."""
    return decode_batch(output, transforms, options, overrides, _end_to_end_decoder)


def _end_to_end_decoder(out: np.ndarray, options: DecodeOptions) -> ImageDecoder:
    if out.shape[2] != 6:
        raise InputError(f"output: expected [B, N, 6], given {out.shape}")

    def decode_image(pred: np.ndarray, transform: BoxTransform | None) -> Detections:
        pred = pred[pred[:, 4] > options.conf]
        return finish(pred[:, :4], pred[:, 4], pred[:, 5], transform, options, suppress=False)

    return decode_image
