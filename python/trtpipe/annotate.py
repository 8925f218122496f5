"""Drawing detections onto a copy of an image (OpenCV), for saved and demo output."""

from __future__ import annotations

import numpy as np

from trtpipe.decode.detections import Detections
from trtpipe.errors import BackendUnavailableError


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


def draw(image: np.ndarray, dets: Detections) -> np.ndarray:
    """A BGR copy of ``image`` (BGR or mono) with each box, its label and its score."""
    cv2 = _cv2()
    canvas = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if canvas.shape[2] == 4:
        canvas = cv2.cvtColor(canvas, cv2.COLOR_BGRA2BGR)
    thickness = max(1, round(max(canvas.shape[:2]) / 400))
    names = dets.class_names()
    # the most confident last, so that where labels overlap its label is the one on top
    for i in np.argsort(np.asarray(dets.scores), kind="stable"):
        box, score, cid, name = dets.boxes[i], dets.scores[i], dets.class_ids[i], names[i]
        x1, y1, x2, y2 = (round(float(v)) for v in box)
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
