"""The debug image: the input frame with the detection boxes drawn on it."""

from __future__ import annotations

import numpy as np

BOX_COLOUR = {1: (255,), 3: (0, 255, 0), 4: (0, 255, 0, 255)}  # green in RGB/BGR order alike


def draw_boxes(image: np.ndarray, boxes_xyxy: np.ndarray, thickness: int = 2) -> np.ndarray:
    """A copy of ``image`` (HW or HWC uint8) with box outlines; boxes in source pixels."""
    out = np.array(image, dtype=np.uint8, copy=True)
    height, width = out.shape[:2]
    channels = 1 if out.ndim == 2 else out.shape[2]
    colour = np.array(BOX_COLOUR.get(channels, (255,) * channels), dtype=np.uint8)
    if out.ndim == 2:
        colour = colour[0]
    for x1, y1, x2, y2 in np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4):
        left, right = (
            int(np.clip(np.floor(x1), 0, width - 1)),
            int(np.clip(np.ceil(x2), 0, width - 1)),
        )
        top, bottom = (
            int(np.clip(np.floor(y1), 0, height - 1)),
            int(np.clip(np.ceil(y2), 0, height - 1)),
        )
        if right < left or bottom < top:
            continue
        t = thickness
        out[top : min(top + t, bottom + 1), left : right + 1] = colour
        out[max(bottom - t + 1, top) : bottom + 1, left : right + 1] = colour
        out[top : bottom + 1, left : min(left + t, right + 1)] = colour
        out[top : bottom + 1, max(right - t + 1, left) : right + 1] = colour
    return out
