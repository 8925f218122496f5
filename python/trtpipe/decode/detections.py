"""Detections of one image as plain arrays, and their conversion to vision_msgs 4.x messages.

No ROS module is imported at load time: ``to_msg`` imports ``vision_msgs.msg`` when called, or
uses the message classes it is given (anything constructible without arguments whose instances
have the vision_msgs 4.x fields, default-constructed as ROS messages have them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from trtpipe.errors import BackendUnavailableError, InputError


@dataclass(frozen=True)
class Detections:
    """Boxes in source-image pixels (xyxy), best score first.

    ``labels`` holds one name per detection when the model's class names are known.
    """

    boxes: np.ndarray  # (N, 4) float32 x1, y1, x2, y2
    scores: np.ndarray  # (N,) float32
    class_ids: np.ndarray  # (N,) int64
    labels: list[str] | None = None

    def __post_init__(self) -> None:
        n = len(self.scores)
        if self.boxes.shape != (n, 4):
            raise InputError(f"boxes: expected shape ({n}, 4), given {self.boxes.shape}")
        if self.class_ids.shape != (n,):
            raise InputError(f"class_ids: expected shape ({n},), given {self.class_ids.shape}")
        if self.labels is not None and len(self.labels) != n:
            raise InputError(f"labels: expected {n} names, given {len(self.labels)}")

    @classmethod
    def empty(cls, with_labels: bool = False) -> Detections:
        return cls(
            np.zeros((0, 4), np.float32),
            np.zeros(0, np.float32),
            np.zeros(0, np.int64),
            [] if with_labels else None,
        )

    @classmethod
    def from_arrays(
        cls,
        boxes: ArrayLike,
        scores: ArrayLike,
        class_ids: ArrayLike,
        label_names: Sequence[str] | None = None,
    ) -> Detections:
        """Builds Detections from anything NumPy converts (lists included), naming each class
        from ``label_names`` (indexed by class id). Boxes and scores must be finite and class
        ids whole numbers >= 0: what a ROS message or a JSON file can carry."""
        if isinstance(label_names, (str, bytes, Mapping)):
            raise InputError(
                f"label_names: expected a sequence of names, given {label_names!r:.50}"
            )
        try:
            box_array = np.ascontiguousarray(boxes, dtype=np.float32).reshape(-1, 4)
            score_array = np.ascontiguousarray(scores, dtype=np.float32).reshape(-1)
            ids = np.asarray(class_ids, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"detections: expected numeric boxes, scores and class ids ({exc})"
            ) from None
        if not (np.isfinite(box_array).all() and np.isfinite(score_array).all()):
            raise InputError("boxes/scores: expected finite numbers, given NaN or inf")
        if not (np.isfinite(ids).all() and (ids == np.rint(ids)).all() and (ids >= 0).all()):
            raise InputError(f"class_ids: expected whole numbers >= 0, given {ids.tolist()[:8]}")
        if ids.size and ids.max() > np.iinfo(np.int32).max:
            raise InputError(f"class_ids: expected ids below 2**31, given {int(ids.max())}")
        return cls.from_exact(box_array, score_array, ids.astype(np.int64), label_names)

    @classmethod
    def from_exact(
        cls,
        boxes: np.ndarray,
        scores: np.ndarray,
        class_ids: np.ndarray,
        label_names: Sequence[str] | None = None,
    ) -> Detections:
        """:meth:`from_arrays` for arrays already (N, 4) float32, (N,) float32 and (N,) int64,
        as _core's decoders return them: no conversions (the shapes are still checked)."""
        labels = None
        if label_names is not None:
            count = len(label_names)
            labels = [label_names[c] if 0 <= c < count else str(c) for c in class_ids.tolist()]
        return cls(boxes, scores, class_ids, labels)

    def __len__(self) -> int:
        return len(self.scores)

    def class_names(self) -> list[str]:
        """Per detection, its label or (without labels) its class id as text."""
        if self.labels is not None:
            return list(self.labels)
        return [str(c) for c in self.class_ids.tolist()]

    def to_dicts(self) -> list[dict[str, Any]]:
        """JSON-ready: one dict per detection (box as x1, y1, x2, y2 in source pixels)."""
        names = self.class_names()
        return [
            {
                "box": [round(float(v), 2) for v in box],
                "score": round(float(score), 4),
                "class_id": int(cid),
                "label": name,
            }
            for box, score, cid, name in zip(
                self.boxes, self.scores, self.class_ids, names, strict=True
            )
        ]

    def to_msg(self, header: Any = None, messages: Any = None) -> Any:
        """A ``vision_msgs/Detection2DArray`` (4.x layout) of these detections.

        ``hypothesis.class_id`` is the label when known, else the class id as text. ``messages``:
        a namespace with ``Detection2DArray``, ``Detection2D`` and ``ObjectHypothesisWithPose``
        (default: ``vision_msgs.msg``).
        """
        m = messages if messages is not None else _vision_msgs()
        array = m.Detection2DArray()
        if header is not None:
            array.header = header
        names = self.class_names()
        boxes = self.boxes.astype(np.float64)
        centers = (boxes[:, :2] + boxes[:, 2:]) / 2
        sizes = boxes[:, 2:] - boxes[:, :2]
        detections = []
        for i in range(len(self)):
            det = m.Detection2D()
            if header is not None:
                det.header = header
            det.bbox.center.position.x = float(centers[i, 0])
            det.bbox.center.position.y = float(centers[i, 1])
            det.bbox.size_x = float(sizes[i, 0])
            det.bbox.size_y = float(sizes[i, 1])
            hyp = m.ObjectHypothesisWithPose()
            hyp.hypothesis.class_id = names[i]
            hyp.hypothesis.score = float(self.scores[i])
            det.results = [hyp]
            detections.append(det)
        array.detections = detections
        return array


def _vision_msgs() -> Any:
    try:
        from vision_msgs import msg
    except ImportError as exc:
        raise BackendUnavailableError(
            "to_msg: vision_msgs is not importable; install ROS 2 vision_msgs (or build the copy "
            "in ros/vision_msgs with scripts/build-vision-msgs.sh) or pass messages=",
        ) from exc
    return msg


def detectnet_to_msg(isaac_array: Any, messages: Any = None) -> Any:
    """Converts Isaac ROS DetectNet detections to a ``vision_msgs/Detection2DArray`` (4.x).

    ``isaac_array`` is duck-typed: ``.header`` (optional) and ``.detections``, each with
    ``bbox.center_x/center_y/width/height``, ``class_label`` and ``confidence``.
    """
    m = messages if messages is not None else _vision_msgs()
    array = m.Detection2DArray()
    header = getattr(isaac_array, "header", None)
    if header is not None:
        array.header = header
    detections = []
    items: Iterable[Any] = getattr(isaac_array, "detections", None)
    if items is None:
        raise InputError(
            f"isaac_array: expected an object with .detections, given {type(isaac_array).__name__}"
        )
    for i, item in enumerate(items):
        try:
            bbox = item.bbox
            cx, cy = float(bbox.center_x), float(bbox.center_y)
            w, h = float(bbox.width), float(bbox.height)
            label, confidence = str(item.class_label), float(item.confidence)
        except (AttributeError, TypeError, ValueError) as exc:
            raise InputError(
                f"detections[{i}]: expected bbox.center_x/center_y/width/height, class_label and "
                f"confidence, given {item!r} ({exc})"
            ) from exc
        det = m.Detection2D()
        if header is not None:
            det.header = header
        det.bbox.center.position.x = cx
        det.bbox.center.position.y = cy
        det.bbox.size_x = w
        det.bbox.size_y = h
        hyp = m.ObjectHypothesisWithPose()
        hyp.hypothesis.class_id = label
        hyp.hypothesis.score = confidence
        det.results = [hyp]
        detections.append(det)
    array.detections = detections
    return array
