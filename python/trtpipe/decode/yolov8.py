"""YOLOv8 / YOLO11 raw head: ``[B, 4 + C, N]`` — cx, cy, w, h in network pixels, then C class
scores (already sigmoid), one column per anchor; no objectness."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtpipe.decode.common import (
    DecodeOptions,
    Transforms,
    as_float_array,
    class_filter,
    cxcywh_rows,
    finish_sorted,
    per_image,
)
from trtpipe.decode.detections import Detections
from trtpipe.errors import InputError


def decode_yolov8(
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
    if out.shape[1] < 5:
        raise InputError(f"output: expected [B, 4 + classes, N], given {out.shape}")
    num_classes = out.shape[1] - 4
    wanted = class_filter(opts, num_classes)
    results = []
    images = per_image(transforms, out.shape[0])
    for b in range(out.shape[0]):
        pred = out[b]
        cls = pred[4:] if wanted is None else pred[4 + wanted]
        best = cls.max(axis=0)
        cand = np.flatnonzero(best > opts.conf)
        if cand.size == 0:
            results.append(Detections.empty(opts.label_names is not None))
            continue
        scores = best[cand]
        order = np.argsort(-scores, kind="stable")
        cand, scores = cand[order], scores[order]
        class_ids = cls[:, cand].argmax(axis=0)
        if wanted is not None:
            class_ids = wanted[class_ids]
        cols = cxcywh_rows(pred, cand)
        results.append(finish_sorted(cols, scores, class_ids, images[b], opts))
    return results
