"""Annotated images: every box drawn, and where labels overlap the most confident one is on top
(the demo's coffee cup sits inside the dining table's box, with its label in the same place)."""

from __future__ import annotations

import numpy as np
import pytest

from trtpipe.decode.detections import Detections

pytest.importorskip("cv2")


def test_the_most_confident_label_is_drawn_last():
    from trtpipe.annotate import _colour, draw

    image = np.full((120, 200, 3), 255, np.uint8)
    # a cup inside a table, both boxes' tops at the image edge: their labels overlap there
    boxes = np.array([[10, 2, 190, 110], [20, 4, 120, 80]], np.float32)
    dets = Detections(
        boxes, np.array([0.36, 0.95], np.float32), np.array([60, 41]), ["diningtable", "cup"]
    )
    out = draw(image, dets)
    # the top left of the cup's label, which the table's label also covers
    assert tuple(out[2, 21]) == _colour(41)
    swapped = Detections(
        boxes[::-1].copy(),
        dets.scores[::-1].copy(),
        dets.class_ids[::-1].copy(),
        ["cup", "diningtable"],
    )
    assert tuple(draw(image, swapped)[2, 21]) == _colour(41)  # whatever the input order
    for x1, _, x2, y2 in boxes.astype(int):  # every box is drawn
        assert (out[y2, x1:x2] != 255).any()


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((8, 8, 3), np.float32), "image: expected dtype uint8, given float32"),
        (np.zeros((8, 8, 3), np.uint16), "image: expected dtype uint8, given uint16"),
        (
            np.zeros((8, 8, 2), np.uint8),
            "image: expected (H, W) or (H, W, 1|3|4) with H, W >= 1, given shape (8, 8, 2)",
        ),
        (
            np.zeros((8, 8, 5), np.uint8),
            "image: expected (H, W) or (H, W, 1|3|4) with H, W >= 1, given shape (8, 8, 5)",
        ),
        (
            np.zeros((0, 0, 3), np.uint8),
            "image: expected (H, W) or (H, W, 1|3|4) with H, W >= 1, given shape (0, 0, 3)",
        ),
        (
            np.zeros((1, 8, 8, 3), np.uint8),
            "image: expected (H, W) or (H, W, 1|3|4) with H, W >= 1, given shape (1, 8, 8, 3)",
        ),
        ([[0]], "image: expected a NumPy array, given list"),
    ],
)
def test_an_image_it_cannot_draw_on_is_an_input_error(image, message):
    import re

    from trtpipe.annotate import draw
    from trtpipe.errors import InputError

    dets = Detections(
        np.array([[1, 1, 4, 4]], np.float32), np.array([0.9], np.float32), np.array([0])
    )
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        draw(image, dets)


def test_boxes_are_clipped_and_non_finite_ones_skipped():
    from trtpipe.annotate import _colour, draw

    image = np.full((40, 40), 255, np.uint8)  # mono in, BGR out
    boxes = np.array(
        [[-1e12, -1e12, 1e12, 1e12], [np.nan, 0, 5, 5], [0, 0, np.inf, 5], [50, 50, 60, 60]],
        np.float32,
    )
    dets = Detections(boxes, np.full(4, 0.5, np.float32), np.array([3, 4, 4, 4]))
    out = draw(image, dets)
    assert out.shape == (40, 40, 3)
    assert tuple(out[39, 20]) == _colour(3)  # the huge box is drawn along the image's edge
    assert (out[20, 20] == 255).all()  # nothing drawn inside
    assert not (out == np.array(_colour(4), np.uint8)).all(axis=2).any()  # the others skipped
