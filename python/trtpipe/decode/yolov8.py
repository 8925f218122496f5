"""YOLOv8 / YOLO11 raw head: ``[B, 4 + C, N]`` — cx, cy, w, h in network pixels, then C class
scores (already sigmoid), one column per anchor; no objectness. Exports transposed to
``[B, N, 4 + C]`` are read in place with ``transposed=True``."""

from __future__ import annotations

from typing import Any

from trtpipe.decode.common import (
    DecodeOptions,
    Transforms,
    as_float_array,
    class_filter,
    dense_head_detections,
    per_image,
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
    out = as_float_array(output, "output", (2, 3))
    if out.ndim == 2:
        out = out[None]
    if transposed:
        out = out.transpose(0, 2, 1)  # a view: the scans read any strides
    if out.shape[1] < 5:
        layout = "[B, N, 4 + classes]" if transposed else "[B, 4 + classes, N]"
        raise InputError(f"output: expected {layout}, given {out.shape}")
    num_classes = out.shape[1] - 4
    wanted = class_filter(opts, num_classes)
    images = per_image(transforms, out.shape[0])
    return [
        dense_head_detections(
            pred[4:] if wanted is None else pred[4 + wanted],
            pred[:4],
            images[b],
            opts,
            class_ids_of_rows=wanted,
        )
        for b, pred in enumerate(out)
    ]
