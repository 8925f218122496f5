"""Accuracy after optimisation: a candidate backend against ONNX Runtime FP32 on the same inputs.

Each output is compared by max and mean absolute error, and by the max error relative to the
reference's largest magnitude (so box coordinates in pixels and scores in [0, 1] share one
threshold). For detectors, when ``trtpipe.decode`` recognises the output format, the decoded
detections are compared too: how many of the reference's the candidate matches (same class,
IoU >= 0.5), their mean IoU and score drift, and the missed and extra ones. A detector check in
which the reference found nothing is inconclusive, never passed: use real images.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from trtpipe.arguments import finite_real
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
    """How the candidate's detections on one input agree with the reference's. A reference
    detection is matched by the unmatched candidate detection of its class with the highest
    IoU, at least 0.5 (reference detections in order of score)."""

    format: str
    reference_count: int
    candidate_count: int
    matched: int
    mean_iou: float = 1.0  # over the matched pairs (1.0 where none)
    score_drift: float = 0.0  # largest |candidate - reference score| over the matched pairs
    source: str = ""  # the image, where the input came from one

    @property
    def missed(self) -> int:
        return self.reference_count - self.matched

    @property
    def extra(self) -> int:
        return self.candidate_count - self.matched


@dataclass
class ValidationReport:
    reference: str
    candidate: str
    outputs: list[OutputError]
    threshold: float
    detections: list[DetectionChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    detector: bool = False  # the outputs are a detector's (a decoder recognised them)

    @property
    def worst(self) -> float:
        return max((o.relative for o in self.outputs), default=0.0)

    @property
    def compared(self) -> int:
        """Reference detections the check looked for."""
        return sum(d.reference_count for d in self.detections)

    @property
    def verdict(self) -> str:
        """ "passed", "failed", or "inconclusive": a detector whose reference found nothing on
        the inputs (random inputs, empty images) shows nothing about its detections."""
        changed = any(d.missed or d.extra for d in self.detections)
        if not self.worst <= self.threshold or changed:  # a NaN error fails too
            return "failed"
        if self.detector and self.compared == 0:
            return "inconclusive"
        return "passed"

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"


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
        got64, ref64 = got.astype(np.float64), ref.astype(np.float64)
        diff = np.abs(got64 - ref64)
        # a NaN or inf where the reference has another value is an infinite error, never none
        # (NaN compares false with every threshold); the same NaN or inf on both sides agrees
        unequal = ~np.isfinite(diff)
        if unequal.any():
            same = (np.isnan(got64) & np.isnan(ref64)) | (got64 == ref64)
            diff[unequal] = np.where(same[unequal], 0.0, np.inf)
        finite_ref = np.abs(ref64[np.isfinite(ref64)])
        scale = float(finite_ref.max()) if finite_ref.size else 0.0
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


def _agreement(fmt: str, ref, got, box_iou) -> DetectionChange:
    matched, ious, drifts = 0, [], []
    if len(ref) and len(got):
        iou = np.asarray(box_iou(ref.boxes, got.boxes), np.float64)
        iou[ref.class_ids[:, None] != got.class_ids[None, :]] = 0.0
        free = np.ones(len(got), bool)
        for i in np.argsort(-np.asarray(ref.scores), kind="stable"):
            candidates = np.where(free, iou[i], 0.0)
            j = int(np.argmax(candidates))
            if candidates[j] >= 0.5:
                free[j] = False
                matched += 1
                ious.append(candidates[j])
                drifts.append(abs(float(got.scores[j]) - float(ref.scores[i])))
    return DetectionChange(
        fmt,
        len(ref),
        len(got),
        matched,
        float(np.mean(ious)) if ious else 1.0,
        max(drifts, default=0.0),
    )


def compare_detections(
    reference: Mapping[str, np.ndarray],
    candidate: Mapping[str, np.ndarray],
    input_size: tuple[int, int] | None = None,
) -> tuple[list[DetectionChange], str | None]:
    """Detection agreement per image of the batch, or ([], why not) when no decoder is
    available for these outputs. ``input_size``: the network input's (width, height), which
    tells some layouts apart."""
    try:
        from trtpipe.decode import box_iou, decode, detect_format
    except ImportError as exc:
        return [], f"detections not compared: trtpipe.decode is not available ({exc})"
    try:
        fmt = detect_format({name: value.shape for name, value in reference.items()}, input_size)
    except Exception as exc:  # not a detector output, as the decoder sees it
        return [], f"detections not compared: {exc}"
    pairs = zip(decode(fmt, reference), decode(fmt, candidate), strict=True)
    return [_agreement(fmt, ref, got, box_iou) for ref, got in pairs], None


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
    inputs: Mapping[str, np.ndarray] | Sequence[tuple[str, Mapping[str, np.ndarray]]],
    threshold: float = 1e-2,
) -> ValidationReport:
    """Runs both engines on ``inputs`` (one set of input arrays, or (source name, inputs)
    pairs, e.g. one per image) and compares their outputs and detections."""
    if finite_real("threshold", threshold) < 0:
        raise InputError(f"threshold: expected a relative error >= 0, given {threshold}")
    cases = [("", inputs)] if isinstance(inputs, Mapping) else list(inputs)
    if not cases:
        raise InputError("validate: expected at least one input, given none")
    report = ValidationReport(
        reference=f"{reference.backend} ({reference.device})",
        candidate=f"{candidate.backend} ({candidate.device})",
        outputs=[],
        threshold=threshold,
    )
    worst: dict[str, OutputError] = {}
    for source, case in cases:
        want = reference.infer(case)
        got = candidate.infer(case)
        for error in compare_outputs(want, got):
            if error.name not in worst or error.relative > worst[error.name].relative:
                worst[error.name] = error
        changes, note = compare_detections(want, got, _image_size(case))
        report.detector = report.detector or note is None
        report.detections += [replace(c, source=source) for c in changes]
        if note and note not in report.notes:
            report.notes.append(note)
    report.outputs = list(worst.values())
    if report.verdict == "failed":
        log.warning(
            "ACCURACY: %s differs from %s beyond the threshold (worst relative error %.3g > %.3g "
            "or detections changed)",
            report.candidate,
            report.reference,
            report.worst,
            threshold,
        )
    return report


def image_inputs(
    model: str | Path,
    images: Iterable[tuple[str, np.ndarray]],
    batch: int = 1,
) -> list[tuple[str, dict[str, np.ndarray]]]:
    """(image name, inputs) for each image: the network input the Detector makes of it for
    ``model`` (letterboxed and normalised by the one preprocessing rule), repeated over
    ``batch``."""
    from trtpipe.detector import Detector

    with Detector(model, backend="onnxruntime", device="cpu") as det:
        pre = det.preprocessor
        (table,) = det.engine.inputs
        cases = []
        for name, image in images:
            tensor = pre.empty(batch)
            for index in range(batch):
                pre(image, tensor, batch_index=index)
            cases.append((name, {table.name: tensor}))
    return cases
