"""Straightforward NumPy references of the published decodings, written for clarity: one
candidate at a time, the textbook greedy NMS loop. The tests compare trtpipe against these."""

from __future__ import annotations

import numpy as np


def iou_one(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    box = box.astype(np.float64)
    others = others.astype(np.float64)
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = max(box[2] - box[0], 0) * max(box[3] - box[1], 0)
    areas = np.clip(others[:, 2] - others[:, 0], 0, None) * np.clip(
        others[:, 3] - others[:, 1], 0, None
    )
    union = area + areas - inter
    out = np.zeros(len(others))
    ok = union > 0
    out[ok] = inter[ok] / union[ok]
    return out


def greedy_nms(boxes, scores, iou_threshold, class_ids=None) -> list[int]:
    """The textbook loop: best remaining box is kept, its same-class overlaps removed."""
    order = list(np.argsort(-np.asarray(scores), kind="stable"))
    keep = []
    while order:
        best = order.pop(0)
        keep.append(int(best))
        if not order:
            break
        rest = np.array(order)
        overlaps = iou_one(np.asarray(boxes)[best], np.asarray(boxes)[rest]) > iou_threshold
        if class_ids is not None:
            overlaps &= np.asarray(class_ids)[rest] == np.asarray(class_ids)[best]
        order = [int(i) for i, drop in zip(rest, overlaps, strict=True) if not drop]
    return keep


def letterbox_to_source(boxes, scale_x, scale_y, pad_x, pad_y, src_w, src_h):
    out = np.array(boxes, dtype=np.float64)
    out[:, [0, 2]] = np.clip((out[:, [0, 2]] - pad_x) / scale_x, 0, src_w)
    out[:, [1, 3]] = np.clip((out[:, [1, 3]] - pad_y) / scale_y, 0, src_h)
    return out


def finish(boxes, scores, classes, iou, max_det, agnostic=False, nms=True):
    boxes, scores, classes = np.asarray(boxes), np.asarray(scores), np.asarray(classes)
    if len(scores) == 0:
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
    if nms:
        keep = greedy_nms(boxes, scores, iou, None if agnostic else classes)
    else:
        keep = list(np.argsort(-scores, kind="stable"))
    keep = keep[:max_det]
    return boxes[keep], scores[keep], classes[keep].astype(np.int64)


def yolov8(out, conf, iou, max_det, classes=None):
    """out: [4 + C, N] of one image."""
    boxes, scores, cls = [], [], []
    for column in np.asarray(out).T:
        cx, cy, w, h = (float(v) for v in column[:4])
        class_scores = column[4:].astype(np.float64)
        if classes is not None:
            masked = np.full_like(class_scores, -np.inf)
            masked[list(classes)] = class_scores[list(classes)]
            class_scores = masked
        c = int(np.argmax(class_scores))
        s = class_scores[c]
        if s > conf:
            boxes.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
            scores.append(s)
            cls.append(c)
    return finish(boxes, scores, cls, iou, max_det)


def yolov5(out, conf, iou, max_det, classes=None):
    """out: [N, 5 + C] of one image."""
    boxes, scores, cls = [], [], []
    for row in np.asarray(out):
        cx, cy, w, h, obj = (float(v) for v in row[:5])
        class_scores = row[5:].astype(np.float64) * obj
        if classes is not None:
            masked = np.full_like(class_scores, -np.inf)
            masked[list(classes)] = class_scores[list(classes)]
            class_scores = masked
        c = int(np.argmax(class_scores))
        if obj > conf and class_scores[c] > conf:
            boxes.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
            scores.append(class_scores[c])
            cls.append(c)
    return finish(boxes, scores, cls, iou, max_det)


def detectnet(cov, bbox, conf, iou, max_det, stride=16, scale=35.0, offset=0.5, min_area=100.0):
    """cov: [C, H, W], bbox: [4C, H, W] of one image; the Isaac ROS loop, cell by cell, but with
    trtpipe's threshold: coverage greater than ``conf`` (Isaac ROS keeps coverage equal to it)."""
    num_classes, rows, cols = cov.shape
    boxes, scores, cls = [], [], []
    for row in range(rows):
        for col in range(cols):
            for c in range(num_classes):
                coverage = float(cov[c, row, col])
                gx, gy = (col + offset) * stride, (row + offset) * stride
                d = [float(bbox[c * 4 + k, row, col]) * scale for k in range(4)]
                size_x, size_y = d[0] + d[2], d[1] + d[3]
                if size_x * size_y < min_area or coverage <= conf:
                    continue
                boxes.append([gx - d[0], gy - d[1], gx - d[0] + size_x, gy - d[1] + size_y])
                scores.append(coverage)
                cls.append(c)
    return finish(boxes, scores, cls, iou, max_det)
