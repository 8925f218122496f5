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
