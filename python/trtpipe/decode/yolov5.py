"""YOLOv5 / YOLOv7 raw head: ``[B, N, 5 + C]`` — cx, cy, w, h, objectness, C class scores
(all sigmoid); a candidate's score is objectness × class score."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtpipe.decode.common import (
    DecodeOptions,
    Transforms,
    as_float_array,
    class_filter,
    cxcywh_to_xyxy,
    finish,
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
    num_classes = out.shape[2] - 5
    wanted = class_filter(opts, num_classes)
    results = []
    images = per_image(transforms, out.shape[0])
    for b in range(out.shape[0]):
        pred = out[b]
        # Class scores are at most 1, so objectness alone rules most anchors out cheaply.
        sub = pred[pred[:, 4] > opts.conf]
        cls = sub[:, 5:] if wanted is None else sub[:, 5 + wanted]
        if sub.shape[0] == 0 or cls.shape[1] == 0:
            results.append(Detections.empty(opts.label_names is not None))
            continue
        cls = cls * sub[:, 4:5]
        class_ids = cls.argmax(axis=1)
        scores = cls[np.arange(len(cls)), class_ids]
        keep = scores > opts.conf
        sub, scores, class_ids = sub[keep], scores[keep], class_ids[keep]
        if wanted is not None:
            class_ids = wanted[class_ids]
        boxes = cxcywh_to_xyxy(sub[:, 0], sub[:, 1], sub[:, 2], sub[:, 3])
        results.append(finish(boxes, scores, class_ids, images[b], opts))
    return results
