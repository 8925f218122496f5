"""The compiled hot loops of decoding (best class per anchor, boxes of the candidates, NMS in
any order) against NumPy, on every memory layout they accept, with ties and NaN scores."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decode_reference import greedy_nms
from trtpipe import _core
from trtpipe.decode import decode_yolov5, decode_yolov8, detect_format, nms
from trtpipe.errors import InputError


def numpy_best_class(scores: np.ndarray, conf: float):
    """NumPy's answer: NaN scores ignored, first class of the highest score, best first."""
    clean = np.where(np.isnan(scores), -np.inf, scores)
    best = clean.max(axis=0) if clean.shape[0] else np.full(clean.shape[1], -np.inf)
    anchors = np.flatnonzero(best > conf)
    order = np.argsort(-best[anchors], kind="stable")
    anchors = anchors[order]
    return anchors, best[anchors], clean[:, anchors].argmax(axis=0)


def layouts(scores: np.ndarray):
    """The same [classes, anchors] matrix as the scans may meet it in memory."""
    c, n = scores.shape
    yield "contiguous anchors", scores
    yield "contiguous classes", np.ascontiguousarray(scores.T).T
    wide = np.zeros((c, 2 * n), np.float32)
    wide[:, ::2] = scores
    yield "strided anchors", wide[:, ::2]
    rows = np.zeros((2 * c, n), np.float32)
    rows[::2] = scores
    yield "strided classes", rows[::2]


@settings(max_examples=120, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    classes=st.integers(1, 21),
    anchors=st.integers(1, 600),
    conf=st.sampled_from([0.0, 0.25, 0.5, 0.95]),
    quantised=st.booleans(),
    nan_fraction=st.sampled_from([0.0, 0.05, 0.5]),
)
def test_best_class_matches_numpy(seed, classes, anchors, conf, quantised, nan_fraction):
    rng = np.random.default_rng(seed)
    scores = rng.random((classes, anchors), dtype=np.float32)
    if quantised:  # many exact ties, between classes and between anchors
        scores = np.round(scores * 4) / 4
    scores[rng.random(scores.shape) < nan_fraction] = np.nan
    want = numpy_best_class(scores, conf)
    for name, view in layouts(scores):
        got = _core.decode.best_class(view, conf)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w, err_msg=name)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    classes=st.integers(1, 12),
    anchors=st.integers(1, 400),
    conf=st.sampled_from([0.0, 0.25, 0.5]),
)
def test_best_class_with_objectness_matches_numpy(seed, classes, anchors, conf):
    rng = np.random.default_rng(seed)
    head = rng.random((anchors, 5 + classes), dtype=np.float32)
    obj = head[:, 4]
    product = head[:, 5:] * obj[:, None]  # [anchors, classes], as YOLOv5 scores are formed
    cand = np.flatnonzero(obj > conf)
    ids = product[cand].argmax(axis=1)
    best = product[cand, ids]
    keep = best > conf
    cand, best, ids = cand[keep], best[keep], ids[keep]
    order = np.argsort(-best, kind="stable")
    got = _core.decode.best_class(head[:, 5:].T, conf, obj)
    np.testing.assert_array_equal(got[0], cand[order])
    np.testing.assert_array_equal(got[1], best[order])
    np.testing.assert_array_equal(got[2], ids[order])


def test_best_class_of_a_full_size_head():
    # 80 classes × 8400 anchors, the blocks of eight rows plus a class in the last row
    rng = np.random.default_rng(7)
    scores = rng.random((81, 8400), dtype=np.float32) * 0.2
    planted = rng.choice(8400, 50, replace=False)
    scores[80, planted] = 0.5 + rng.random(50, dtype=np.float32) * 0.4
    scores[3, planted[:10]] = scores[80, planted[:10]]  # a tie: the first class wins
    want = numpy_best_class(scores, 0.25)
    got = _core.decode.best_class(scores, 0.25)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert set(got[2].tolist()) == {3, 80}


def test_cxcywh_to_xyxy_matches_numpy():
    rng = np.random.default_rng(1)
    pred = (rng.random((6, 50)) * 300).astype(np.float32)
    anchors = np.array([4, 0, 49, 4])
    cx, cy, w, h = pred[:4, anchors]
    want = np.stack([cx - w * 0.5, cy - h * 0.5, cx + w * 0.5, cy + h * 0.5], axis=1)
    for view in (pred, np.ascontiguousarray(pred.T).T):
        got = _core.decode.cxcywh_to_xyxy(view[:4], anchors)
        assert got.dtype == np.float64 and got.shape == (4, 4)
        np.testing.assert_array_equal(got, want.astype(np.float64))


@pytest.mark.parametrize(
    "call",
    [
        lambda: _core.decode.best_class(np.zeros((3, 4)), 0.5),  # float64
        lambda: _core.decode.best_class(np.zeros(4, np.float32), 0.5),
        lambda: _core.decode.best_class(np.zeros((3, 4), np.float32), 0.5, np.zeros(3, np.float32)),
        lambda: _core.decode.cxcywh_to_xyxy(np.zeros((4, 5), np.float32), np.array([5])),
        lambda: _core.decode.cxcywh_to_xyxy(np.zeros((3, 5), np.float32), np.array([0])),
        lambda: _core.decode.nms(np.zeros((3, 4), np.float32), np.zeros(3), None, 0.5),
        lambda: _core.decode.nms(np.zeros((3, 4)), np.zeros(3), np.zeros(2, np.int64), 0.5),
        lambda: _core.decode.nms(np.zeros((3, 4)), np.zeros(2), None, 0.5),
        lambda: _core.decode.dense_head(
            np.zeros((2, 5), np.float32), np.zeros((4, 6), np.float32), 0.5, 0.5, 10, False
        ),
        lambda: nms(np.zeros((3, 4)), np.zeros(3), 0.5, np.array([0.5, 1.0, 2.0])),
    ],
)
def test_bad_arrays_raise_input_error(call):
    with pytest.raises(InputError):
        call()


def test_nms_puts_nan_scores_last():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], np.float64)
    scores = np.array([np.nan, 0.4, 0.3])
    # NaN sorts last: box 1 is best, suppresses box 0 (same place), box 2 stays
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 120))
def test_nms_with_large_and_negative_class_ids(seed, n):
    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2)) * 100
    boxes = np.concatenate([xy, xy + rng.random((n, 2)) * 60], axis=1)
    scores = rng.random(n)
    classes = rng.choice(np.array([-7, 3, 1 << 40]), n)  # beyond the class-id table
    assert nms(boxes, scores, 0.4, classes).tolist() == greedy_nms(boxes, scores, 0.4, classes)


def test_transposed_yolov8_decodes_as_the_original():
    rng = np.random.default_rng(2)
    out = np.zeros((1, 4 + 3, 2100), np.float32)
    out[0, :2] = rng.random((2, 2100)) * 320
    out[0, 2:4] = rng.random((2, 2100)) * 60 + 4
    out[0, 4:] = rng.random((3, 2100)) ** 6
    direct = decode_yolov8(out)[0]
    transposed = decode_yolov8(np.ascontiguousarray(out.transpose(0, 2, 1)), transposed=True)[0]
    assert len(direct) > 0
    np.testing.assert_array_equal(direct.boxes, transposed.boxes)
    np.testing.assert_array_equal(direct.class_ids, transposed.class_ids)


def test_yolov5_float16_head_matches_float32():
    rng = np.random.default_rng(3)
    head = rng.random((1, 600, 5 + 4)).astype(np.float16)
    head[..., :2] *= 320
    head[..., 2:4] *= 50
    got = decode_yolov5(head)[0]
    want = decode_yolov5(head.astype(np.float32))[0]
    np.testing.assert_array_equal(got.boxes, want.boxes)
    np.testing.assert_array_equal(got.scores, want.scores)


@pytest.mark.parametrize(
    "shape, input_size, fmt",
    [
        ((1, 2100, 22), (320, 320), "yolov8_transposed"),  # 40² + 20² + 10² cells
        ((1, 8400, 84), (640, 640), "yolov8_transposed"),
        ((1, 6300, 23), (320, 320), "yolov5"),  # three anchors per cell
        ((1, 25200, 85), (640, 640), "yolov5"),
        ((1, 8400, 84), None, "yolov5"),  # without the input size: the YOLOv5 reading
        ((1, 84, 8400), (640, 640), "yolov8"),
    ],
)
def test_detect_format_tells_layouts_apart_by_input_size(shape, input_size, fmt):
    assert detect_format({"output0": shape}, input_size) == fmt


def test_a_transform_without_source_terms_is_applied_in_python():
    class Halve:
        def to_source(self, boxes):
            return boxes * 2.0

    rng = np.random.default_rng(4)
    out = np.zeros((1, 4 + 2, 300), np.float32)
    out[0, :2] = rng.random((2, 300)) * 320
    out[0, 2:4] = rng.random((2, 300)) * 40 + 4
    out[0, 4:] = rng.random((2, 300)) ** 4
    plain = decode_yolov8(out)[0]
    halved = decode_yolov8(out, Halve())[0]
    assert len(plain) > 0
    np.testing.assert_allclose(halved.boxes, plain.boxes * 2.0, rtol=1e-6)


def candidate_records(head: np.ndarray, conf: float, rng) -> np.ndarray:
    """What a GPU head scan writes for a [4 + C, N] head: one record per anchor passing
    ``conf`` (found by NumPy), in a shuffled order, padded with garbage rows."""
    anchors, scores, classes = numpy_best_class(head[4:], conf)
    records = rng.random((head.shape[1] + 3, 8), dtype=np.float32) * 1e6  # unread rows
    order = rng.permutation(len(anchors))
    rows = records[: len(anchors)]
    rows[:, :4] = head[:4, anchors[order]].T
    rows[:, 4] = scores[order]
    ints = rows.view(np.int32)
    ints[:, 5], ints[:, 6], ints[:, 7] = anchors[order], classes[order], 0
    return records, len(anchors)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    classes=st.integers(1, 12),
    anchors=st.integers(1, 500),
    conf=st.sampled_from([0.0, 0.25, 0.5]),
    agnostic=st.booleans(),
)
def test_compact_candidates_decode_as_the_whole_head(seed, classes, anchors, conf, agnostic):
    rng = np.random.default_rng(seed)
    head = np.empty((4 + classes, anchors), np.float32)
    head[:2] = rng.random((2, anchors)) * 100
    head[2:4] = rng.random((2, anchors)) * 30 + 1
    head[4:] = np.round(rng.random((classes, anchors)) * 8) / 8  # ties everywhere
    head[4:][rng.random((classes, anchors)) < 0.05] = np.nan
    records, count = candidate_records(head, conf, rng)
    terms = (3.0, 5.0, 0.5, 0.5, 190.0, 170.0)
    want = _core.decode.dense_head(head[4:], head[:4], conf, 0.45, 50, agnostic, None, terms)
    got = _core.decode.compact_candidates(records, count, 0.45, 50, agnostic, terms)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_compact_candidates_check_their_arguments():
    records = np.zeros((10, 8), np.float32)
    with pytest.raises(InputError, match="count"):
        _core.decode.compact_candidates(records, 11, 0.45, 10, False)
    with pytest.raises(InputError, match="records"):
        _core.decode.compact_candidates(np.zeros((10, 7), np.float32), 1, 0.45, 10, False)
    with pytest.raises(InputError, match="records"):
        _core.decode.compact_candidates(records[::2], 1, 0.45, 10, False)
    empty = _core.decode.compact_candidates(records, 0, 0.45, 10, False)
    assert [len(a) for a in empty] == [0, 0, 0]
