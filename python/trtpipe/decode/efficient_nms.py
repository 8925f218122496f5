"""TensorRT's EfficientNMS plugin outputs: ``num_dets [B, 1]``, ``det_boxes [B, K, 4]`` (xyxy,
network pixels; box_coding 0), ``det_scores [B, K]``, ``det_classes [B, K]``. The plugin has
already thresholded and suppressed; only the first ``num_dets`` rows of each image are valid."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtpipe.decode.common import (
    DecodeOptions,
    Transforms,
    as_float_array,
    finish,
    per_image,
)
from trtpipe.decode.detections import Detections
from trtpipe.errors import InputError

OUTPUT_NAMES = ("num_dets", "det_boxes", "det_scores", "det_classes")


def decode_efficient_nms(
    num_dets: Any,
    det_boxes: Any,
    det_scores: Any,
    det_classes: Any,
    transforms: Transforms = None,
    options: DecodeOptions | None = None,
    **overrides: Any,
) -> list[Detections]:
    """One :class:`Detections` per image; ``conf``, ``classes`` and ``max_detections`` apply
    on top of what the plugin kept. Rows with a non-finite box, score or class, or a class id
    out of range (negative, or past 2**31 - 1), are skipped."""
    opts = DecodeOptions.of(options, **overrides)
    counts = _counts(num_dets)
    boxes = as_float_array(det_boxes, "det_boxes", 3)
    scores = as_float_array(det_scores, "det_scores", 2)
    classes = np.asarray(det_classes)
    if not np.issubdtype(classes.dtype, np.number) or np.iscomplexobj(classes):
        raise InputError(f"det_classes: expected class ids (numbers), given dtype {classes.dtype}")
    batch, k = scores.shape
    if boxes.shape != (batch, k, 4) or classes.shape != (batch, k) or counts.shape != (batch,):
        raise InputError(
            f"EfficientNMS outputs: expected num_dets [{batch}, 1], det_boxes [{batch}, {k}, 4], "
            f"det_classes [{batch}, {k}], given {np.shape(num_dets)}, {boxes.shape}, "
            f"{classes.shape}"
        )
    if (counts < 0).any() or (counts > k).any():
        raise InputError(f"num_dets: expected values in [0, {k}], given {counts.tolist()}")
    results = []
    images = per_image(transforms, batch)
    for b in range(batch):
        n = int(counts[b])
        s = scores[b, :n]
        keep = s > opts.conf
        results.append(
            finish(
                boxes[b, :n][keep],
                s[keep],
                classes[b, :n][keep],
                images[b],
                opts,
                suppress=False,
            )
        )
    return results


def _counts(num_dets: Any) -> np.ndarray:
    """The valid rows of each image, as int64: whole numbers (a float output holds them too)."""
    given = np.asarray(num_dets).reshape(-1)
    whole = np.issubdtype(given.dtype, np.integer) or (
        np.issubdtype(given.dtype, np.floating)
        and bool(np.all(np.isfinite(given) & (given == np.rint(given))))
    )
    if not whole:
        raise InputError(f"num_dets: expected whole numbers, given {given.tolist()[:8]}")
    return given.astype(np.int64)
