"""Greedy non-maximum suppression, class-aware: the classic loop (take the best box, drop every
later box of the same class whose IoU with it exceeds the threshold, repeat), run in _core.

Each box is compared only with the boxes kept so far in its class, so a frame's few hundred
candidates cost candidates × kept IoUs, and the loop stops at ``max_output`` kept boxes.
"""

from __future__ import annotations

import numpy as np

from trtpipe import _core
from trtpipe.errors import InputError


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (len(a), len(b)) of xyxy boxes, in float64; 0 where both boxes are empty."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    iou_threshold: float,
    class_ids: np.ndarray | None = None,
    max_output: int | None = None,
) -> np.ndarray:
    """Indices of the boxes kept by greedy NMS, best score first.

    ``boxes``: (N, 4) xyxy; ``scores``: (N,); ``class_ids``: (N,) to suppress only within a
    class (None: across all classes). A box is dropped when its IoU with a kept, higher-scoring
    box is strictly greater than ``iou_threshold``. Ties in score keep the input order.
    """
    boxes = np.asarray(boxes)
    scores = np.asarray(scores)
    if not np.issubdtype(boxes.dtype, np.number) or np.iscomplexobj(boxes):
        raise InputError(f"boxes: expected real numbers, given dtype {boxes.dtype}")
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise InputError(f"boxes: expected shape (N, 4), given {boxes.shape}")
    if scores.shape != (boxes.shape[0],):
        raise InputError(f"scores: expected shape ({boxes.shape[0]},), given {scores.shape}")
    if class_ids is not None:
        class_ids = np.asarray(class_ids)
        if class_ids.shape != scores.shape:
            raise InputError(
                f"class_ids: expected shape ({boxes.shape[0]},), given {class_ids.shape}"
            )
        if not np.issubdtype(class_ids.dtype, np.integer):
            raise InputError(f"class_ids: expected integers, given {class_ids.dtype}")
    # _core checks the scores' dtype, iou_threshold (a number in [0, 1]) and max_output (an int)
    return _core.decode.nms(
        boxes.astype(np.float64, copy=False),
        scores,
        class_ids,
        iou_threshold,
        -1 if max_output is None else max_output,
    )
