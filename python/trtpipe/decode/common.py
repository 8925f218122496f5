"""What every decoder shares: options, output-shape checks and the common final steps
(class filter, NMS, top-k, mapping boxes back to source pixels)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from trtpipe.decode.detections import Detections
from trtpipe.decode.nms import nms, nms_sorted
from trtpipe.errors import InputError


class BoxTransform(Protocol):
    """Maps network-pixel boxes to source pixels (trtpipe.preprocess.Letterbox has this)."""

    def to_source(self, boxes_xyxy: np.ndarray) -> np.ndarray: ...


Transforms = BoxTransform | Sequence[BoxTransform | None] | None


@dataclass(frozen=True)
class DecodeOptions:
    conf: float = 0.25  # keep candidates whose score is greater than this
    iou: float = 0.45  # NMS: suppress same-class boxes overlapping more than this
    max_detections: int = 300
    classes: tuple[int, ...] | None = None  # keep only these class ids (None: all)
    label_names: tuple[str, ...] | None = None  # class id -> name
    agnostic: bool = False  # NMS across classes instead of within each class

    def __post_init__(self) -> None:
        if not 0.0 <= self.conf <= 1.0:
            raise InputError(f"conf: expected a value in [0, 1], given {self.conf}")
        if not 0.0 <= self.iou <= 1.0:
            raise InputError(f"iou: expected a value in [0, 1], given {self.iou}")
        if self.max_detections < 0:
            raise InputError(f"max_detections: expected >= 0, given {self.max_detections}")

    @classmethod
    def of(cls, options: DecodeOptions | None, **overrides: Any) -> DecodeOptions:
        base = options or cls()
        given = {k: v for k, v in overrides.items() if v is not None}
        if "classes" in given:
            given["classes"] = tuple(int(c) for c in given["classes"])
        if "label_names" in given:
            given["label_names"] = tuple(given["label_names"])
        return cls(**{**base.__dict__, **given}) if given else base


def as_float_array(value: Any, name: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    """The output as a NumPy float array, checking its rank."""
    try:
        array = np.asarray(value)
    except Exception as exc:  # a GPU array without __array__, for instance
        raise InputError(f"{name}: expected a host array, given {type(value).__name__}") from exc
    ranks = (ndim,) if isinstance(ndim, int) else ndim
    if array.ndim not in ranks:
        raise InputError(
            f"{name}: expected {' or '.join(map(str, ranks))} dims, given {array.shape}"
        )
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    return array


def per_image(transforms: Transforms, batch: int) -> list[BoxTransform | None]:
    """One transform per image of the batch (a single transform applies to every image)."""
    if transforms is None or hasattr(transforms, "to_source"):
        return [transforms] * batch  # type: ignore[list-item]
    transforms = list(transforms)
    if len(transforms) != batch:
        raise InputError(f"transforms: expected {batch} (one per image), given {len(transforms)}")
    return transforms


def class_filter(options: DecodeOptions, num_classes: int) -> np.ndarray | None:
    if options.classes is None:
        return None
    wanted = np.asarray(options.classes, dtype=np.int64)
    bad = wanted[(wanted < 0) | (wanted >= num_classes)]
    if bad.size:
        raise InputError(f"classes: expected ids in [0, {num_classes}), given {bad.tolist()}")
    return wanted


def finish(
    boxes: np.ndarray,
    scores: np.ndarray,
    class_ids: np.ndarray,
    transform: BoxTransform | None,
    options: DecodeOptions,
    *,
    suppress: bool = True,
) -> Detections:
    """NMS (unless the model already did it), best-first top-k, boxes to source pixels."""
    if suppress:
        keep = nms(
            boxes,
            scores,
            options.iou,
            None if options.agnostic else class_ids,
            options.max_detections,
        )
    else:
        keep = np.argsort(-scores, kind="stable")[: options.max_detections]
    boxes = np.asarray(boxes[keep], dtype=np.float32)
    if transform is not None and len(keep):
        boxes = np.asarray(transform.to_source(boxes), dtype=np.float32)
    return Detections.from_arrays(boxes, scores[keep], class_ids[keep], options.label_names)


def finish_sorted(
    cols: np.ndarray,
    scores: np.ndarray,
    class_ids: np.ndarray,
    transform: BoxTransform | None,
    options: DecodeOptions,
) -> Detections:
    """:func:`finish` for candidates already in descending score order, boxes as float64
    rows x1, y1, x2, y2 (shape (4, N)): skips re-sorting and re-laying-out the boxes."""
    keep = nms_sorted(
        cols, None if options.agnostic else class_ids, options.iou, options.max_detections
    )
    boxes = cols[:, keep].T.astype(np.float32)
    if transform is not None and len(keep):
        boxes = np.asarray(transform.to_source(boxes), dtype=np.float32)
    return Detections.from_arrays(boxes, scores[keep], class_ids[keep], options.label_names)


def cxcywh_rows(pred: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """float64 x1, y1, x2, y2 rows (shape (4, K)) of the given columns of cx, cy, w, h rows."""
    cx, cy = pred[0].take(columns), pred[1].take(columns)
    half_w, half_h = pred[2].take(columns) * 0.5, pred[3].take(columns) * 0.5
    rows = np.empty((4, len(columns)), np.float64)
    # 1-D ufuncs writing into the rows: fewer and cheaper calls than 2-D slices and a stack
    np.subtract(cx, half_w, out=rows[0])
    np.subtract(cy, half_h, out=rows[1])
    np.add(cx, half_w, out=rows[2])
    np.add(cy, half_h, out=rows[3])
    return rows


def cxcywh_to_xyxy(cx: np.ndarray, cy: np.ndarray, w: np.ndarray, h: np.ndarray) -> np.ndarray:
    half_w, half_h = w / 2, h / 2
    return np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=-1)
