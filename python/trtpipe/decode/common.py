"""What every decoder shares: options, output-shape checks and the common final steps
(skipping rows that cannot be detections, class filter, NMS, top-k, mapping boxes back to
source pixels)."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
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


# The largest max_detections and class id: what the compiled decode and the GPU head scan's
# int32 records hold.
MAX_INDEX = 2**31 - 1


def _given(value: Any) -> str:
    """A given value's type and repr, bounded (``float 10.7``), for the "given" of a message."""
    shown = repr(value)
    return f"{type(value).__name__} {shown if len(shown) <= 60 else shown[:60] + '...'}"


def _is_int(value: Any) -> bool:
    """A Python or NumPy integer; bool is an int to Python but never a count or an id."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _fraction(value: Any, name: str) -> float:
    """A Python or NumPy real number in [0, 1] as a float, else InputError naming ``name``."""
    real = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if not real or not 0.0 <= value <= 1.0:  # NaN fails the range
        raise InputError(f"{name}: expected a value in [0, 1], given {_given(value)}")
    return float(value)


def _items(value: Any, name: str, expected: str) -> tuple[Any, ...]:
    """The items of a list, tuple or array given for ``name``; text is one value, not a
    sequence of its characters, and a mapping's keys are not what it maps to."""
    if not isinstance(value, (str, bytes, Mapping)) and isinstance(value, Iterable):
        try:
            return tuple(value)
        except TypeError:  # a 0-d array
            pass
    raise InputError(f"{name}: expected {expected}, given {_given(value)}")


@dataclass(frozen=True)
class DecodeOptions:
    conf: float = 0.25  # keep candidates whose score is greater than this
    iou: float = 0.45  # NMS: suppress same-class boxes overlapping more than this
    max_detections: int = 300
    classes: tuple[int, ...] | None = None  # keep only these class ids (None: all)
    label_names: tuple[str, ...] | None = None  # class id -> name
    agnostic: bool = False  # NMS across classes instead of within each class

    def __post_init__(self) -> None:
        # Checked and normalised here, once, so that every frame's decode gets values the
        # compiled decode takes (a float max_detections would fail each frame there).
        checked: dict[str, Any] = {
            "conf": _fraction(self.conf, "conf"),
            "iou": _fraction(self.iou, "iou"),
        }
        if not _is_int(self.max_detections) or not 1 <= self.max_detections <= MAX_INDEX:
            raise InputError(
                f"max_detections: expected an int in [1, {MAX_INDEX}], "
                f"given {_given(self.max_detections)}"
            )
        checked["max_detections"] = int(self.max_detections)
        if self.classes is not None:
            wanted = _items(self.classes, "classes", "a sequence of class ids (ints)")
            bad = [c for c in wanted if not _is_int(c) or not 0 <= c <= MAX_INDEX]
            if bad:
                raise InputError(
                    f"classes: expected class ids, ints in [0, {MAX_INDEX}], given {bad!r}"
                )
            checked["classes"] = tuple(int(c) for c in wanted)
        if self.label_names is not None:
            names = _items(self.label_names, "label_names", "a sequence of str (one per class)")
            bad_names = [n for n in names if not isinstance(n, str)]
            if bad_names:
                raise InputError(
                    f"label_names: expected a str per class, given {_given(bad_names[0])}"
                )
            checked["label_names"] = names
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @classmethod
    def of(cls, options: DecodeOptions | None, **overrides: Any) -> DecodeOptions:
        if options is not None and not isinstance(options, DecodeOptions):
            raise InputError(f"options: expected DecodeOptions or None, given {_given(options)}")
        unknown = sorted(set(overrides) - {f.name for f in fields(cls)})
        if unknown:
            raise InputError(
                f"{unknown[0]}: expected an option of DecodeOptions "
                f"({', '.join(f.name for f in fields(cls))}), given {unknown[0]}="
                f"{_given(overrides[unknown[0]])}"
            )
        base = options or cls()
        given = {k: v for k, v in overrides.items() if v is not None}
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


def class_indices(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each row's class id (int64) from a model's class output, and which rows have one: an
    integer, or a float rounded to the nearest integer (float outputs hold ids as floats), is a
    class id where it is in [0, MAX_INDEX]; NaN, inf and the rest are not, and get -1."""
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.integer):
        valid = (values >= 0) & (values <= MAX_INDEX)
        ids = values.astype(np.int64)
    elif np.issubdtype(values.dtype, np.floating):
        rounded = np.rint(values)
        valid = (rounded >= 0) & (rounded <= MAX_INDEX)  # NaN fails both
        ids = np.where(valid, rounded, -1).astype(np.int64)  # no NaN left to cast
    else:
        raise InputError(f"class ids: expected integers or floats, given dtype {values.dtype}")
    ids[~valid] = -1
    return ids, valid


def finish(
    boxes: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray,
    transform: BoxTransform | None,
    options: DecodeOptions,
    *,
    suppress: bool = True,
) -> Detections:
    """What the decoders of thresholded rows share: the class filter, NMS (unless the model
    already did it), best-first top-k, boxes to source pixels. ``classes``: each row's class as
    the model gives it (see :func:`class_indices`).

    Rows with a non-finite box, score or class, or a class that is not a class id, are skipped
    here, the one place the Python decoders apply that rule: such a row (a NaN or an overflow
    in the model's output) is never a detection, nor counted against ``max_detections``."""
    class_ids, usable = class_indices(classes)
    usable &= np.isfinite(scores) & np.isfinite(boxes).all(axis=1)
    if options.classes is not None:
        usable &= np.isin(class_ids, options.classes)
    if not usable.all():
        boxes, scores, class_ids = boxes[usable], scores[usable], class_ids[usable]
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
    # rows already checked above: the exact arrays, without from_arrays' checks again
    return Detections.from_exact(
        np.ascontiguousarray(boxes.reshape(-1, 4), dtype=np.float32),
        np.ascontiguousarray(scores[keep], dtype=np.float32).reshape(-1),
        np.asarray(class_ids[keep], dtype=np.int64).reshape(-1),
        options.label_names,
    )


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
    Anchors with a non-finite box or score are skipped (in _core). Any strides: transposed
    and sliced views are read in place. ``class_ids_of_rows``: the class id of each row of
    ``scores`` where they are a subset of the classes."""
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
