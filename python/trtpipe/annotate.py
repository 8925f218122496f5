"""Drawing detections onto a copy of an image (OpenCV), for saved and demo output."""

from __future__ import annotations

import numpy as np

from trtpipe.decode.detections import Detections
from trtpipe.errors import BackendUnavailableError, InputError


def _cv2():
    try:
        import cv2
    except ImportError as exc:
        raise BackendUnavailableError(
            "drawing needs OpenCV: pip install opencv-python-headless (or 'trtpipe[demo]')"
        ) from exc
    return cv2


def _colour(class_id: int) -> tuple[int, int, int]:
    # a fixed, well-spread colour per class (golden-ratio hue steps)
    hue = (class_id * 0.618033988749895) % 1.0
    r, g, b = (int(255 * (0.5 + 0.5 * np.cos(2 * np.pi * (hue + k / 3)))) for k in range(3))
    return b, g, r


def _canvas(image: np.ndarray, cv2) -> np.ndarray:
    """A contiguous BGR uint8 copy of ``image``: (H, W), (H, W, 1), (H, W, 3) BGR or
    (H, W, 4) BGRA, uint8, at least 1x1. Anything else raises InputError: OpenCV would stop
    with its own error, or draw 0..255 colours onto another value range."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"image: expected a NumPy array, given {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InputError(f"image: expected dtype uint8, given {image.dtype}")
    channels = image.shape[2] if image.ndim == 3 else 1
    if image.ndim not in (2, 3) or channels not in (1, 3, 4) or 0 in image.shape[:2]:
        raise InputError(
            "image: expected (H, W) or (H, W, 1|3|4) with H, W >= 1, given shape "
            f"{tuple(image.shape)}"
        )
    if channels == 1:
        return cv2.cvtColor(
            np.ascontiguousarray(image.reshape(image.shape[:2])), cv2.COLOR_GRAY2BGR
        )
    if channels == 4:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(image).copy()


def draw(image: np.ndarray, dets: Detections) -> np.ndarray:
    """A BGR copy of ``image`` (uint8 BGR, BGRA or mono) with each box, its label and its score.

    Boxes are clipped to the image; a box with a NaN or infinite coordinate, or wholly outside
    the image, is not drawn (OpenCV takes only int32 pixel positions)."""
    cv2 = _cv2()
    canvas = _canvas(image, cv2)
    height, width = canvas.shape[:2]
    thickness = max(1, round(max(canvas.shape[:2]) / 400))
    names = dets.class_names()
    # the most confident last, so that where labels overlap its label is the one on top
    for i in np.argsort(np.asarray(dets.scores), kind="stable"):
        box, score, cid, name = dets.boxes[i], dets.scores[i], dets.class_ids[i], names[i]
        coords = np.asarray(box, dtype=np.float64)
        if not np.isfinite(coords).all():
            continue
        left, right = sorted((coords[0], coords[2]))
        top_y, bottom = sorted((coords[1], coords[3]))
        if right < 0 or bottom < 0 or left > width - 1 or top_y > height - 1:
            continue
        x1, x2 = (round(float(np.clip(v, 0, width - 1))) for v in (left, right))
        y1, y2 = (round(float(np.clip(v, 0, height - 1))) for v in (top_y, bottom))
        colour = _colour(int(cid))
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thickness)
        text = f"{name} {score:.2f}"
        scale = 0.4 * thickness
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = max(y1 - th - base - 2, 0)
        cv2.rectangle(canvas, (x1, top), (x1 + tw + 2, top + th + base + 2), colour, -1)
        cv2.putText(
            canvas, text, (x1 + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1
        )
    return canvas
