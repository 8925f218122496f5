"""What every decoder shares: options, output-shape checks and the common final steps
(class filter, NMS, top-k, mapping boxes back to source pixels)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from trtpipe import _core
from trtpipe.decode.detections import Detections
from trtpipe.decode.nms import nms
from trtpipe.errors import InputError


class BoxTransform(Protocol):
    """Maps network-pixel boxes to source pixels (trtpipe.preprocess.Letterbox has this).

    A transform may also have ``source_terms``, (pad_x, pad_y, scale_x, scale_y, src_w,
    src_h) of a letterbox, so the dense-head decoders map boxes inside _core."""

    def to_source(self, boxes_xyxy: np.ndarray) -> np.ndarray: ...


Transforms = BoxTransform | Sequence[BoxTransform | None] | None
# One image's output array and its transform to that image's Detections.
ImageDecoder = Callable[[np.ndarray, BoxTransform | None], Detections]


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


# A batch's float32 output and the options to the decoder of its images (checking the shape first).
BatchDecoder = Callable[[np.ndarray, DecodeOptions], ImageDecoder]


def as_float_array(value: Any, name: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    """The output as a float32 NumPy array (no copy when it is one), checking its rank."""
    try:
        array = np.asarray(value)
    except Exception as exc:  # a GPU array without __array__, for instance
        raise InputError(f"{name}: expected a host array, given {type(value).__name__}") from exc
    ranks = (ndim,) if isinstance(ndim, int) else ndim
    if array.ndim not in ranks:
        raise InputError(
            f"{name}: expected {' or '.join(map(str, ranks))} dims, given {array.shape}"
        )
    # float32 is what the compiled scans read; other dtypes (a float16 head) are converted once
    if array.dtype != np.float32:
        array = array.astype(np.float32)
    return array


def as_float_batch(value: Any, name: str, ndim: int) -> np.ndarray:
    """:func:`as_float_array` of a batched output, ``ndim`` dims with the batch first; an
    output of one dim fewer is one image and gets a batch axis of 1 (a view)."""
    array = as_float_array(value, name, (ndim - 1, ndim))
    return array[None] if array.ndim == ndim - 1 else array


def per_image(transforms: Transforms, batch: int) -> list[BoxTransform | None]:
    """One transform per image of the batch (a single transform applies to every image)."""
    if transforms is None or hasattr(transforms, "to_source"):
        return [transforms] * batch  # type: ignore[list-item]
    transforms = list(transforms)
    if len(transforms) != batch:
        raise InputError(f"transforms: expected {batch} (one per image), given {len(transforms)}")
    return transforms


def decode_each_image(
    out: np.ndarray, transforms: Transforms, decode_image: ImageDecoder
) -> list[Detections]:
    """``decode_image`` over the batch ``out``, each image with its transform."""
    images = per_image(transforms, out.shape[0])
    return [decode_image(pred, images[b]) for b, pred in enumerate(out)]


def decode_batch(
    output: Any,
    transforms: Transforms,
    options: DecodeOptions | None,
    overrides: Mapping[str, Any],
    batch_decoder: BatchDecoder,
) -> list[Detections]:
    """What the decoders of one ``[B, rows, cols]`` output share: ``options`` with ``overrides``,
    the output as a float32 batch (a 2-D output is one image), and the image decoder that
    ``batch_decoder`` prepares for it, run on each image with its transform."""
    opts = DecodeOptions.of(options, **overrides)
    out = as_float_batch(output, "output", 3)
    return decode_each_image(out, transforms, batch_decoder(out, opts))


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


def dense_head_detections(
    scores: np.ndarray,
    boxes: np.ndarray,
    transform: BoxTransform | None,
    options: DecodeOptions,
    *,
    objectness: np.ndarray | None = None,
    class_ids_of_rows: np.ndarray | None = None,
) -> Detections:
    """Detections of one image of a dense head, in one call into _core: the best class per
    anchor over ``scores`` (float32 [classes, anchors], times ``objectness`` where given),
    threshold, boxes from ``boxes`` (float32 [4, anchors] cx, cy, w, h), NMS, and the mapping
    to source pixels (in _core for a transform with ``source_terms``, as a Letterbox has).
    Any strides: transposed and sliced views are read in place. ``class_ids_of_rows``: the
    class id of each row of ``scores`` where they are a subset of the classes."""
    terms = getattr(transform, "source_terms", None)
    found_boxes, found_scores, found_ids = _core.decode.dense_head(
        scores,
        boxes,
        options.conf,
        options.iou,
        options.max_detections,
        options.agnostic,
        objectness,
        terms,
    )
    if class_ids_of_rows is not None:
        found_ids = class_ids_of_rows[found_ids]
    if transform is not None and terms is None and len(found_scores):
        found_boxes = np.asarray(transform.to_source(found_boxes), dtype=np.float32)
    return Detections.from_exact(found_boxes, found_scores, found_ids, options.label_names)


def dense_head_image_decoder(
    channels: int, options: DecodeOptions, *, objectness: bool, anchors_as_rows: bool
) -> ImageDecoder:
    """The decoder of one image's float32 dense-head output (YOLOv5, YOLOv8): ``channels``
    rows of cx, cy, w, h, then objectness where the model has it, then one score per class,
    each row one value per anchor (columns where ``anchors_as_rows``). The options are
    resolved once, for a model whose outputs keep their shape from frame to frame."""
    first_class = 5 if objectness else 4
    if channels <= first_class:
        raise InputError(
            f"output: expected {first_class} + classes channels (at least {first_class + 1}), "
            f"given {channels}"
        )
    wanted = class_filter(options, channels - first_class)
    class_rows = slice(first_class, None) if wanted is None else first_class + wanted

    def decode_image(pred: np.ndarray, transform: BoxTransform | None) -> Detections:
        rows = pred.T if anchors_as_rows else pred  # a view: the scan reads any strides
        return dense_head_detections(
            rows[class_rows],
            rows[:4],
            transform,
            options,
            objectness=rows[4] if objectness else None,
            class_ids_of_rows=wanted,
        )

    return decode_image
