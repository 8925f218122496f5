"""The accuracy report: error statistics and detection changes, against hand-computed answers."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from trtpipe.backends.base import TensorInfo
from trtpipe.errors import InputError
from trtpipe.validate import (
    DetectionChange,
    OutputError,
    ValidationReport,
    compare_detections,
    compare_outputs,
    make_inputs,
)


def test_error_statistics_are_the_definitions():
    ref = {"y": np.array([[1.0, -4.0, 2.0]], np.float32)}
    got = {"y": np.array([[1.5, -4.0, 1.0]], np.float32)}
    (error,) = compare_outputs(ref, got)
    assert error.max_abs == pytest.approx(1.0)
    assert error.mean_abs == pytest.approx(0.5)
    assert error.relative == pytest.approx(0.25)  # 1.0 / max |ref| = 4
    with pytest.raises(InputError, match="shape"):
        compare_outputs(ref, {"y": np.zeros((1, 2), np.float32)})
    with pytest.raises(InputError, match="names"):
        compare_outputs(ref, {"z": got["y"]})


def test_a_non_finite_candidate_is_an_infinite_error_and_fails():
    ref = {"y": np.array([[1.0, -4.0, np.nan, np.inf]], np.float32)}
    nan = {"y": np.array([[np.nan, -4.0, np.nan, np.inf]], np.float32)}
    (error,) = compare_outputs(ref, nan)
    assert error.max_abs == np.inf and error.relative == np.inf  # NaN where 1.0 was
    same = {"y": ref["y"].copy()}  # the same NaN and inf on both sides agree
    (error,) = compare_outputs(ref, same)
    assert error.max_abs == 0.0 and error.relative == 0.0
    report = ValidationReport("a", "b", compare_outputs(ref, nan), 1e-2)
    assert report.verdict == "failed"
    # a NaN error (from a report made by hand) fails as well: NaN > threshold is False
    assert ValidationReport("a", "b", [OutputError("y", np.nan, np.nan, np.nan)], 1e-2).verdict == (
        "failed"
    )


@pytest.mark.parametrize("threshold", [float("nan"), -1.0, "0.1"])
def test_a_threshold_that_is_not_a_relative_error_is_refused(threshold):
    from trtpipe.validate import validate

    with pytest.raises(InputError, match="threshold: expected"):
        validate(None, None, {}, threshold)


def test_make_inputs_fills_the_batch_and_is_seeded():
    table = [TensorInfo("x", (-1, 3, 4, 4), np.dtype(np.float32), True)]
    a = make_inputs(table, batch=2, seed=3)["x"]
    assert a.shape == (2, 3, 4, 4) and a.dtype == np.float32 and a.min() >= 0 and a.max() < 1
    np.testing.assert_array_equal(a, make_inputs(table, batch=2, seed=3)["x"])
    dynamic = [TensorInfo("images", (-1, 3, -1, -1), np.dtype(np.float32), True)]
    with pytest.raises(InputError, match="--shape images="):
        make_inputs(dynamic)
    assert make_inputs(dynamic, shapes={"images": (-1, 3, 8, 8)})["images"].shape == (1, 3, 8, 8)


class _Dets:
    def __init__(self, rows):
        rows = np.asarray(rows, np.float32).reshape(-1, 6)
        self.boxes = rows[:, :4]
        self.class_ids = rows[:, 4].astype(np.int64)
        self.scores = rows[:, 5]

    def __len__(self):
        return len(self.class_ids)


def _iou(a, b):
    # Written out for two box lists, as the oracle for the matching rule.
    out = np.zeros((len(a), len(b)))
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - w * h
            out[i, j] = w * h / union
    return out


def test_detection_agreement_matches_by_class_and_iou(monkeypatch):
    # A stand-in decoder: each output row is one detection (x1, y1, x2, y2, class, score).
    decode_module = types.ModuleType("trtpipe.decode")
    decode_module.detect_format = lambda shapes, input_size=None: "rows"
    decode_module.decode = lambda fmt, outputs: [_Dets(outputs["det"][0])]
    decode_module.box_iou = _iou
    monkeypatch.setitem(sys.modules, "trtpipe.decode", decode_module)
    ref = {
        "det": np.array(
            [[[0, 0, 10, 10, 1, 0.9], [20, 20, 30, 30, 2, 0.8], [0, 0, 5, 5, 3, 0.7]]], float
        )
    }
    got = {
        "det": np.array(
            [
                [
                    [1, 0, 10, 10, 1, 0.85],  # moved a little: IoU 0.9, same class
                    [20, 20, 30, 30, 1, 0.8],  # the class changed
                    [40, 40, 50, 50, 3, 0.6],  # nothing of the reference there
                    [0, 0, 5, 5, 3, 0.72],  # the same box
                ]
            ],
            float,
        )
    }
    (change,), note = compare_detections(ref, got)
    assert note is None
    assert (change.reference_count, change.candidate_count, change.matched) == (3, 4, 2)
    assert (change.missed, change.extra) == (1, 2)
    assert change.mean_iou == pytest.approx((0.9 + 1.0) / 2)
    assert change.score_drift == pytest.approx(0.05, abs=1e-6)


def test_the_verdict_is_inconclusive_when_the_reference_found_nothing():
    none = DetectionChange("yolov5", 0, 0, 0)
    one = DetectionChange("yolov5", 1, 1, 1)
    close = [OutputError("output", 1e-5, 1e-6, 1e-6)]
    assert ValidationReport("a", "b", close, 1e-2, [none], detector=True).verdict == "inconclusive"
    assert ValidationReport("a", "b", close, 1e-2, [none, one], detector=True).passed
    assert ValidationReport("a", "b", close, 1e-2, [], detector=False).passed  # outputs only
    lost = DetectionChange("yolov5", 1, 0, 0)
    assert ValidationReport("a", "b", close, 1e-2, [lost], detector=True).verdict == "failed"
    far = [OutputError("output", 1.0, 0.1, 0.5)]
    assert ValidationReport("a", "b", far, 1e-2, [one], detector=True).verdict == "failed"


def test_detection_comparison_says_why_it_is_skipped(monkeypatch):
    monkeypatch.setitem(sys.modules, "trtpipe.decode", None)  # makes the import fail
    changes, note = compare_detections({"y": np.zeros(1)}, {"y": np.zeros(1)})
    assert changes == [] and "not available" in note
