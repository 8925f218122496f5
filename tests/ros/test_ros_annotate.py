"""Box outlines on the debug image, checked pixel by pixel against a hand-made expectation."""

from __future__ import annotations

import numpy as np

from trtpipe.ros.annotate import draw_boxes


def test_outline_is_drawn_on_a_copy_and_clipped():
    image = np.zeros((10, 12, 3), np.uint8)
    out = draw_boxes(image, np.array([[2, 3, 6, 8], [-5, -5, 100, 100]]), thickness=1)
    assert not image.any()  # the input frame is not touched
    expected = np.zeros((10, 12), bool)
    expected[3, 2:7] = expected[8, 2:7] = True
    expected[3:9, 2] = expected[3:9, 6] = True
    expected[0, :] = expected[9, :] = expected[:, 0] = expected[:, 11] = True
    np.testing.assert_array_equal((out == (0, 255, 0)).all(axis=2), expected)


def test_mono_and_empty_boxes():
    image = np.full((4, 4), 3, np.uint8)
    np.testing.assert_array_equal(draw_boxes(image, np.zeros((0, 4))), image)
    out = draw_boxes(image, np.array([[0, 0, 3, 3]]), thickness=1)
    assert out[0, 0] == 255 and out[1, 1] == 3
