"""NMS against the textbook greedy loop (hypothesis) and torchvision.ops.nms where installed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decode_reference import greedy_nms
from trtpipe.decode import box_iou, nms
from trtpipe.errors import InputError


def random_boxes(rng: np.random.Generator, n: int, extent: float, size: float) -> np.ndarray:
    xy = rng.random((n, 2)) * extent
    wh = rng.random((n, 2)) * size
    return np.concatenate([xy, xy + wh], axis=1)


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 80),
    num_classes=st.sampled_from([None, 1, 3]),
    iou=st.sampled_from([0.0, 0.3, 0.45, 0.5, 0.7, 1.0]),
    integer=st.booleans(),
)
def test_nms_matches_greedy_loop(seed, n, num_classes, iou, integer):
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, n, 100.0, 60.0)
    if integer:  # exact ties in IoU and degenerate boxes
        boxes = np.round(boxes / 10) * 10
    scores = rng.permutation(n).astype(np.float64) / max(n, 1)
    classes = rng.integers(0, num_classes, n) if num_classes else None
    got = nms(boxes.astype(np.float32), scores, iou, classes)
    want = greedy_nms(boxes.astype(np.float32), scores, iou, classes)
    assert got.tolist() == want


def test_nms_equal_scores_keep_input_order():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.5, 0.5, 0.5], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [0, 2]


def test_nms_long_suppression_chain():
    # each box overlaps only the next: greedy keeps every other box; the fixed point needs
    # one iteration per link, past the iteration cap, so the exact fallback runs
    n = 200
    x = np.arange(n, dtype=np.float64) * 4.0
    boxes = np.stack([x, np.zeros(n), x + 6.0, np.full(n, 10.0)], axis=1)
    scores = np.linspace(1.0, 0.1, n)
    got = nms(boxes, scores, 0.1)
    assert got.tolist() == greedy_nms(boxes, scores, 0.1)
    assert got.tolist() == list(range(0, n, 2))


def test_nms_many_overlapping_candidates_uses_dense_blocks():
    # 2000 boxes spanning the width: the x-sweep would pair all of them
    rng = np.random.default_rng(3)
    n = 2000
    y = rng.random(n) * 2000
    boxes = np.stack([np.zeros(n), y, np.full(n, 100.0), y + rng.random(n) * 30 + 1], axis=1)
    scores = rng.random(n)
    classes = rng.integers(0, 2, n)
    got = nms(boxes, scores, 0.5, classes, max_output=10_000)
    assert got.tolist() == greedy_nms(boxes, scores, 0.5, classes)


def test_nms_max_output_is_the_best_kept():
    rng = np.random.default_rng(4)
    boxes = random_boxes(rng, 300, 500, 50)
    scores = rng.random(300)
    full = greedy_nms(boxes, scores, 0.5)
    assert nms(boxes, scores, 0.5, max_output=7).tolist() == full[:7]


def test_box_iou_known_values():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10], [3, 3, 3, 3]], np.float32)
    np.testing.assert_allclose(box_iou(a, b)[0], [50 / 150, 0.0, 1.0, 0.0])


@pytest.mark.parametrize(
    "boxes, scores, iou",
    [
        (np.zeros((3, 5)), np.zeros(3), 0.5),
        (np.zeros((3, 4)), np.zeros(2), 0.5),
        (np.zeros((3, 4)), np.zeros(3), 1.5),
    ],
)
def test_nms_bad_input(boxes, scores, iou):
    with pytest.raises(InputError):
        nms(boxes, scores, iou)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300), iou=st.floats(0.05, 0.95))
def test_nms_matches_torchvision(seed, n, iou):
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, n, 400.0, 120.0)
    scores = rng.permutation(n).astype(np.float64) / n
    classes = rng.integers(0, 4, n)
    want = ops.batched_nms(
        torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(classes), iou
    )
    assert nms(boxes, scores, iou, classes).tolist() == want.tolist()
