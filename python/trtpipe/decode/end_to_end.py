"""NMS-free / end-to-end heads (YOLOv10, ``nms=True`` exports): ``[B, N, 6]`` rows of
x1, y1, x2, y2 (network pixels), score, class id. The model has already suppressed duplicates."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtpipe.decode.common import (
    DecodeOptions,
    Transforms,
    as_float_batch,
    finish,
    per_image,
)
from trtpipe.decode.detections import Detections
from trtpipe.errors import InputError


def decode_end_to_end(
    output: Any,
    transforms: Transforms = None,
    options: DecodeOptions | None = None,
    **overrides: Any,
) -> list[Detections]:
    """One :class:`Detections` per image; no NMS (``iou`` is not used)."""
    opts = DecodeOptions.of(options, **overrides)
    out = as_float_batch(output, "output", 3)
    if out.shape[2] != 6:
        raise InputError(f"output: expected [B, N, 6], given {out.shape}")
    results = []
    images = per_image(transforms, out.shape[0])
    for b in range(out.shape[0]):
        pred = out[b]
        keep = pred[:, 4] > opts.conf
        class_ids = np.rint(pred[:, 5]).astype(np.int64)
        if opts.classes is not None:
            keep &= np.isin(class_ids, opts.classes)
        pred, class_ids = pred[keep], class_ids[keep]
        results.append(
            finish(
                pred[:, :4],
                pred[:, 4],
                class_ids,
                images[b],
                opts,
                suppress=False,
            )
        )
    return results
