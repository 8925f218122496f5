"""Greedy non-maximum suppression, class-aware, vectorised.

The result is exactly that of the classic greedy loop (take the best box, drop every later box
of the same class whose IoU with it exceeds the threshold, repeat). Instead of looping over
boxes, the greedy answer is computed as the unique fixed point of "keep j unless a kept, better
box of its class overlaps it", reached by a few whole-array iterations (the Cluster-NMS
observation; a chain of k boxes each suppressing the next needs k iterations).

Fast path: only pairs that can overlap are looked at — boxes sorted by (class, x1), each paired
with the later boxes of its class that start before it ends (a sweep by ``searchsorted``), so a
typical frame's few hundred candidates cost a few thousand IoUs, not a full matrix. Where too
many pairs overlap in x, blocks of a dense IoU matrix are used instead (memory bounded).
"""

from __future__ import annotations

import numpy as np

from trtpipe.errors import InputError

# Candidates per block: a 512×512 IoU matrix is ~2 MB of float64 and covers a typical frame's
# candidates at conf 0.25 in one block.
_BLOCK = 512
# Beyond this many candidate pairs (boxes × the most x-overlaps of one box) the sweep's
# arrays cost more than dense blocks.
_MAX_SWEEP_PAIRS = 1 << 20
# A chain of boxes each suppressing the next converges one link per iteration; past this many
# iterations the rest of the block is finished by the plain greedy loop.
_MAX_FIXED_POINT_ITERATIONS = 32
_TINY = np.finfo(np.float64).tiny


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


def _overlaps(
    boxes: np.ndarray,
    classes: np.ndarray | None,
    rows: np.ndarray | slice,
    cols: slice,
    iou_threshold: float,
) -> np.ndarray:
    over = box_iou(boxes[rows], boxes[cols]) > iou_threshold
    if classes is not None:
        over &= classes[rows][:, None] == classes[cols][None, :]
    return over


def _greedy_block(over: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """Greedy keep mask of one block; ``over[i, j]`` (i < j) means i suppresses j if kept."""
    over = np.triu(over, 1)
    keep = alive.copy()
    for _ in range(_MAX_FIXED_POINT_ITERATIONS):
        suppressed = (over & keep[:, None]).any(axis=0)
        new = alive & ~suppressed
        if np.array_equal(new, keep):
            return keep
        keep = new
    keep = alive.copy()
    for i in range(len(keep)):
        if keep[i]:
            keep[i + 1 :] &= ~over[i, i + 1 :]
    return keep


def _fixed_point(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Greedy keep mask from suppression edges u -> v (u better than v), by iteration."""
    keep = np.ones(n, dtype=bool)
    keep[v] = False
    for _ in range(_MAX_FIXED_POINT_ITERATIONS):
        active = keep[u]
        if active.all():
            return keep  # every suppressor is kept: exactly the targets are dropped
        new = np.ones(n, dtype=bool)
        new[v[active]] = False
        if (new == keep).all():
            return keep
        keep = new
    keep = np.ones(n, dtype=bool)
    order = np.argsort(u, kind="stable")
    u, v = u[order], v[order]
    bounds = np.searchsorted(u, np.arange(n + 1))
    for i in range(n):
        if keep[i]:
            keep[v[bounds[i] : bounds[i + 1]]] = False
    return keep


def _nms_sweep(cols: np.ndarray, classes: np.ndarray | None, iou_threshold: float):
    """Keep mask of score-sorted boxes (``cols``: x1, y1, x2, y2 rows, float64) via the
    x-sweep; None where too many pairs overlap in x."""
    n = cols.shape[1]
    x1, y1, x2, y2 = cols
    start, end = x1, x2
    if classes is not None:
        # One sorted key for (class, x): each class gets its own band, wider than all the
        # boxes, so the sweep never pairs boxes of different classes.
        offset = classes * (2.0 * np.abs(cols).max() + 1.0)
        start, end = x1 + offset, x2 + offset
    by_x = np.argsort(start)
    # counts[p]: how many boxes after the p-th (in x order) start before it ends
    counts = np.searchsorted(start[by_x], end[by_x], "left")
    counts -= np.arange(1, n + 1)
    widest = int(counts.max())
    if widest <= 0:
        return np.ones(n, dtype=bool)
    if n * widest > _MAX_SWEEP_PAIRS:
        return None
    p, d = np.nonzero(counts[:, None] > np.arange(widest))
    a = by_x[p]
    b = by_x[p + d + 1]
    # 1-D gathers and ufuncs: much cheaper in NumPy than the same on 2-D slices
    w = np.minimum(x2[a], x2[b])
    w -= np.maximum(x1[a], x1[b])
    h = np.minimum(y2[a], y2[b])
    h -= np.maximum(y1[a], y1[b])
    np.maximum(w, 0, out=w)
    np.maximum(h, 0, out=h)
    w *= h  # the intersection
    area = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    union = area[a] + area[b] - w
    # union == 0 only when the intersection is 0: the IoU is then 0
    over = w / np.maximum(union, _TINY) > iou_threshold
    a, b = a[over], b[over]
    if a.size == 0:
        return np.ones(n, dtype=bool)
    return _fixed_point(n, np.minimum(a, b), np.maximum(a, b))


def nms_sorted(
    cols: np.ndarray,
    class_ids: np.ndarray | None,
    iou_threshold: float,
    max_output: int | None = None,
) -> np.ndarray:
    """:func:`nms` for boxes already in descending score order, given as float64 rows
    x1, y1, x2, y2 (shape (4, N)); returns positions in that order. For decoders."""
    keep = _nms_sweep(cols, class_ids, iou_threshold)
    if keep is None:
        keep = _nms_blocks(np.ascontiguousarray(cols.T), class_ids, iou_threshold, max_output)
    kept = np.flatnonzero(keep)
    return kept[:max_output] if max_output is not None else kept


def _nms_blocks(
    sorted_boxes: np.ndarray,
    sorted_classes: np.ndarray | None,
    iou_threshold: float,
    max_output: int | None,
) -> np.ndarray:
    n = len(sorted_boxes)
    keep = np.zeros(n, dtype=bool)
    kept = 0
    for start in range(0, n, _BLOCK):
        block = slice(start, min(n, start + _BLOCK))
        alive = np.ones(block.stop - start, dtype=bool)
        if kept:
            earlier = np.flatnonzero(keep[:start])
            alive &= ~_overlaps(sorted_boxes, sorted_classes, earlier, block, iou_threshold).any(0)
        if alive.any():
            over = _overlaps(sorted_boxes, sorted_classes, block, block, iou_threshold)
            keep[block] = _greedy_block(over, alive)
        kept = int(np.count_nonzero(keep))
        if max_output is not None and kept >= max_output:
            break
    return keep


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
    if not 0.0 <= iou_threshold <= 1.0:
        raise InputError(f"iou_threshold: expected a value in [0, 1], given {iou_threshold}")
    n = boxes.shape[0]
    if n == 0 or max_output == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(-scores, kind="stable")
    sorted_boxes = boxes[order].astype(np.float64)
    sorted_classes = class_ids[order] if class_ids is not None else None
    cols = np.ascontiguousarray(sorted_boxes.T)
    return order[nms_sorted(cols, sorted_classes, iou_threshold, max_output)]
