"""Boxes mapped into the network input and back land within 0.5 px of where they started."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trtpipe.preprocess import letterbox_params


@settings(max_examples=200, deadline=None)
@given(
    src_w=st.integers(1, 4096),
    src_h=st.integers(1, 4096),
    dst=st.sampled_from([(320, 320), (640, 640), (640, 384), (960, 544)]),
    mode=st.sampled_from(["letterbox", "stretch"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip_within_half_pixel(src_w, src_h, dst, mode, seed):
    lb = letterbox_params(src_w, src_h, dst[0], dst[1], mode=mode)
    rng = np.random.default_rng(seed)
    xy = rng.random((50, 2)) * [src_w, src_h]
    wh = rng.random((50, 2)) * [src_w, src_h]
    boxes = np.concatenate([xy, np.minimum(xy + wh, [src_w, src_h])], axis=1)
    back = lb.to_source(lb.to_network(boxes))
    np.testing.assert_allclose(back, boxes, atol=0.5, rtol=0)
    net = lb.to_network(boxes)
    # the image occupies the network input inside the padding
    assert net[:, [0, 2]].min() >= -0.5 and net[:, [0, 2]].max() <= dst[0] + 0.5
    assert net[:, [1, 3]].min() >= -0.5 and net[:, [1, 3]].max() <= dst[1] + 0.5
