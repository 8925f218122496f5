"""Accuracy after optimisation: a candidate backend against ONNX Runtime FP32 on the same inputs.

Each output is compared by max and mean absolute error, and by the max error relative to the
reference's largest magnitude (so box coordinates in pixels and scores in [0, 1] share one
threshold). For detectors, when ``trtpipe.decode`` recognises the output format, the decoded
detections are compared too: how many each side finds, and how many of the reference's
detections the candidate matches (same class, IoU >= 0.5).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from trtpipe.backends.base import Engine, TensorInfo
from trtpipe.errors import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutputError:
    name: str
    max_abs: float
    mean_abs: float
    relative: float  # max_abs / max |reference|


@dataclass(frozen=True)
class DetectionChange:
    format: str
    reference_count: int
    candidate_count: int
    matched: int  # reference detections the candidate also finds (same class, IoU >= 0.5)


@dataclass
class ValidationReport:
    reference: str
    candidate: str
    outputs: list[OutputError]
    threshold: float
    detections: list[DetectionChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def worst(self) -> float:
        return max((o.relative for o in self.outputs), default=0.0)

    @property
    def passed(self) -> bool:
        lost = any(d.matched < d.reference_count for d in self.detections)
        return self.worst <= self.threshold and not lost


def make_inputs(
    table: list[TensorInfo],
    batch: int = 1,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Seeded random inputs for ``table``: floats uniform in [0, 1) (image-like), ints in [0, 8)."""
    rng = np.random.default_rng(seed)
    inputs = {}
    for info in table:
        shape = tuple((shapes or {}).get(info.name, info.shape))
        if len(shape) == len(info.shape) and shape and shape[0] < 0:
            shape = (batch, *shape[1:])
        if any(d < 0 for d in shape):
            raise InputError(
                f"input {info.name!r}: shape {info.shape} has dynamic axes; give its shape "
                f"(CLI: --shape {info.name}=1x3x640x640)"
            )
        if np.issubdtype(info.dtype, np.floating):
            inputs[info.name] = rng.random(shape, dtype=np.float32).astype(info.dtype)
        else:
            inputs[info.name] = rng.integers(0, 8, shape).astype(info.dtype)
    return inputs


def compare_outputs(
    reference: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray]
) -> list[OutputError]:
    if set(reference) != set(candidate):
        raise InputError(
            f"outputs: expected the reference's names {sorted(reference)}, "
            f"given {sorted(candidate)}"
        )
    errors = []
    for name, ref in reference.items():
        got = np.asarray(candidate[name])
        if got.shape != ref.shape:
            raise InputError(f"output {name!r}: expected shape {ref.shape}, given {got.shape}")
        diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
        scale = float(np.max(np.abs(ref))) if ref.size else 0.0
        max_abs = float(diff.max()) if diff.size else 0.0
        errors.append(
            OutputError(
                name,
                max_abs,
                float(diff.mean()) if diff.size else 0.0,
                max_abs / scale if scale > 0 else max_abs,
            )
        )
    return errors


def compare_detections(
    reference: Mapping[str, np.ndarray],
    candidate: Mapping[str, np.ndarray],
    input_size: tuple[int, int] | None = None,
) -> tuple[list[DetectionChange], str | None]:
    """Detection changes, or ([], why not) when no decoder is available for these outputs.
    ``input_size``: the network input's (width, height), which tells some layouts apart."""
    try:
        from trtpipe.decode import box_iou, decode, detect_format
    except ImportError as exc:
        return [], f"detections not compared: trtpipe.decode is not available ({exc})"
    try:
        fmt = detect_format({name: value.shape for name, value in reference.items()}, input_size)
    except Exception as exc:  # not a detector output, as the decoder sees it
        return [], f"detections not compared: {exc}"
    changes = []
    for ref, got in zip(decode(fmt, reference), decode(fmt, candidate), strict=True):
        matched = 0
        if len(ref) and len(got):
            iou = np.asarray(box_iou(ref.boxes, got.boxes))
            same = ref.class_ids[:, None] == got.class_ids[None, :]
            matched = int(np.sum(np.any((iou >= 0.5) & same, axis=1)))
        changes.append(DetectionChange(fmt, len(ref), len(got), matched))
    return changes, None


def _image_size(inputs: Mapping[str, np.ndarray]) -> tuple[int, int] | None:
    """(width, height) of the one NCHW/NHWC image input, if that is what ``inputs`` is."""
    if len(inputs) != 1:
        return None
    shape = np.shape(next(iter(inputs.values())))
    if len(shape) != 4:
        return None
    if shape[1] == 3:
        return int(shape[3]), int(shape[2])
    return (int(shape[2]), int(shape[1])) if shape[3] == 3 else None


def validate(
    reference: Engine,
    candidate: Engine,
    inputs: Mapping[str, np.ndarray],
    threshold: float = 1e-2,
) -> ValidationReport:
    """Runs both engines on ``inputs`` and compares their outputs (and detections)."""
    want = reference.infer(inputs)
    got = candidate.infer(inputs)
    report = ValidationReport(
        reference=f"{reference.backend} ({reference.device})",
        candidate=f"{candidate.backend} ({candidate.device})",
        outputs=compare_outputs(want, got),
        threshold=threshold,
    )
    changes, note = compare_detections(want, got, _image_size(inputs))
    report.detections = changes
    if note:
        report.notes.append(note)
    if not report.passed:
        log.warning(
            "ACCURACY: %s differs from %s beyond the threshold (worst relative error %.3g > %.3g "
            "or detections lost)",
            report.candidate,
            report.reference,
            report.worst,
            threshold,
        )
    return report
