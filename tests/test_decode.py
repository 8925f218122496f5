"""Every decoder against a straightforward NumPy reference of its published decoding, on
random outputs (hypothesis), plus format detection and bad outputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decode_reference import detectnet, finish, letterbox_to_source, yolov5, yolov8
from trtpipe.decode import (
    DecodeOptions,
    decode,
    decode_detectnet,
    decode_efficient_nms,
    decode_end_to_end,
    decode_yolov5,
    decode_yolov8,
    detect_format,
)
from trtpipe.errors import InputError
from trtpipe.preprocess import letterbox_params

SIZE = 320


def assert_same(dets, want, transform=None):
    boxes, scores, classes = want
    if transform is not None and len(boxes):
        boxes = letterbox_to_source(
            boxes,
            transform.scale_x,
            transform.scale_y,
            transform.pad_x,
            transform.pad_y,
            transform.src_w,
            transform.src_h,
        )
    assert dets.class_ids.tolist() == list(classes)
    np.testing.assert_allclose(dets.scores, scores, rtol=0, atol=1e-6)
    np.testing.assert_allclose(dets.boxes, np.reshape(boxes, (-1, 4)), rtol=0, atol=1e-3)


def clustered_yolov8(rng, num_classes, n):
    """Anchors around a few objects (overlapping boxes, as a real head gives) plus noise."""
    out = np.zeros((4 + num_classes, n), np.float32)
    objects = rng.random((max(1, n // 10), 4)) * [SIZE, SIZE, 80, 80] + [0, 0, 4, 4]
    which = rng.integers(0, len(objects), n)
    out[:4] = (objects[which] + rng.normal(0, 3, (n, 4))).T
    out[4:] = rng.random((num_classes, n)) ** 3
    return out


settings_ = settings(max_examples=60, deadline=None)


@settings_
@given(
    seed=st.integers(0, 2**32 - 1),
    num_classes=st.integers(1, 6),
    n=st.integers(1, 400),
    conf=st.sampled_from([0.0, 0.25, 0.5, 0.9]),
    iou=st.sampled_from([0.3, 0.45, 0.7]),
    max_det=st.sampled_from([1, 5, 300]),
    src=st.sampled_from([None, (640, 480), (333, 500), (320, 320)]),
    filtered=st.booleans(),
)
def test_yolov8_matches_reference(seed, num_classes, n, conf, iou, max_det, src, filtered):
    rng = np.random.default_rng(seed)
    out = clustered_yolov8(rng, num_classes, n)
    classes = sorted(set(rng.integers(0, num_classes, 2).tolist())) if filtered else None
    lb = letterbox_params(src[0], src[1], SIZE, SIZE) if src else None
    got = decode_yolov8(out[None], lb, conf=conf, iou=iou, max_detections=max_det, classes=classes)[
        0
    ]
    assert_same(got, yolov8(out, conf, iou, max_det, classes), lb)


@settings_
@given(
    seed=st.integers(0, 2**32 - 1),
    num_classes=st.integers(1, 6),
    n=st.integers(1, 400),
    conf=st.sampled_from([0.0, 0.1, 0.25, 0.5]),
    filtered=st.booleans(),
)
def test_yolov5_matches_reference(seed, num_classes, n, conf, filtered):
    rng = np.random.default_rng(seed)
    v8 = clustered_yolov8(rng, num_classes, n)
    out = np.concatenate([v8[:4], rng.random((1, n), np.float32), v8[4:]]).T.copy()
    classes = [int(rng.integers(0, num_classes))] if filtered else None
    got = decode_yolov5(out[None], None, conf=conf, iou=0.45, classes=classes)[0]
    assert_same(got, yolov5(out, conf, 0.45, 300, classes))


@settings_
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 300),
    conf=st.sampled_from([0.0, 0.25, 0.6]),
    max_det=st.sampled_from([3, 300]),
)
def test_end_to_end_matches_reference(seed, n, conf, max_det):
    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2)) * SIZE
    out = np.concatenate(
        [xy, xy + rng.random((n, 2)) * 50, rng.random((n, 1)), rng.integers(0, 5, (n, 1))],
        axis=1,
    ).astype(np.float32)
    lb = letterbox_params(800, 600, SIZE, SIZE)
    got = decode_end_to_end(out[None], [lb], conf=conf, max_detections=max_det)[0]
    keep = out[:, 4] > conf
    want = finish(out[keep, :4], out[keep, 4], out[keep, 5], 0.45, max_det, nms=False)
    assert_same(got, want, lb)


@settings_
@given(seed=st.integers(0, 2**32 - 1), batch=st.integers(1, 3), k=st.integers(1, 50))
def test_efficient_nms_matches_reference(seed, batch, k):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, k + 1, (batch, 1)).astype(np.int32)
    xy = rng.random((batch, k, 2)) * SIZE
    boxes = np.concatenate([xy, xy + 20], axis=2).astype(np.float32)
    scores = rng.random((batch, k)).astype(np.float32)
    classes = rng.integers(0, 80, (batch, k)).astype(np.int32)
    got = decode_efficient_nms(counts, boxes, scores, classes, None, conf=0.3)
    for b in range(batch):
        n = int(counts[b, 0])
        keep = scores[b, :n] > 0.3
        want = finish(
            boxes[b, :n][keep], scores[b, :n][keep], classes[b, :n][keep], 0, 300, nms=False
        )
        assert_same(got[b], want)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    num_classes=st.integers(1, 3),
    rows=st.integers(1, 12),
    cols=st.integers(1, 12),
    conf=st.sampled_from([0.3, 0.6]),
)
def test_detectnet_matches_isaac_ros_loop(seed, num_classes, rows, cols, conf):
    rng = np.random.default_rng(seed)
    cov = rng.random((num_classes, rows, cols)).astype(np.float32)
    bbox = (rng.random((4 * num_classes, rows, cols)) * 2).astype(np.float32)
    got = decode_detectnet(cov[None], bbox[None], None, conf=conf, iou=0.5)[0]
    assert_same(got, detectnet(cov, bbox, conf, 0.5, 300))


def test_detectnet_keeps_coverage_greater_than_conf_only():
    cov = np.full((1, 1, 2, 2), 0.5, np.float32)  # every cell exactly at the threshold
    cov[0, 0, 1, 1] = 0.5000001
    bbox = np.full((1, 4, 2, 2), 0.5, np.float32)  # 35 px to each edge: big enough
    got = decode_detectnet(cov, bbox, None, conf=0.5, iou=0.5)[0]
    assert len(got) == 1 and got.scores[0] > 0.5


def test_yolov8_known_answer_and_labels():
    out = np.zeros((1, 4 + 2, 3), np.float32)
    out[0, :4, 0] = [100, 100, 20, 40]  # class 1, 0.9
    out[0, 5, 0] = 0.9
    out[0, :4, 1] = [101, 100, 20, 40]  # duplicate of anchor 0, lower: suppressed
    out[0, 5, 1] = 0.8
    out[0, :4, 2] = [101, 100, 20, 40]  # same place, other class: kept
    out[0, 4, 2] = 0.7
    lb = letterbox_params(640, 640, 320, 320)  # scale 0.5, no padding
    dets = decode_yolov8(out, lb, label_names=["cat", "dog"])[0]
    assert dets.labels == ["dog", "cat"]
    np.testing.assert_allclose(dets.scores, [0.9, 0.7], atol=1e-6)
    np.testing.assert_allclose(dets.boxes, [[180, 160, 220, 240], [182, 160, 222, 240]])


def test_boxes_are_clipped_to_the_source_image():
    out = np.zeros((1, 5, 1), np.float32)
    out[0, :, 0] = [5, 160, 40, 400, 0.9]  # spills over the left and the padding
    lb = letterbox_params(640, 320, 320, 320)  # scale 0.5, 80 px bars top and bottom
    dets = decode_yolov8(out, lb)[0]
    x1, y1, x2, y2 = dets.boxes[0]
    assert x1 == 0 and y1 == 0 and y2 == 320
    assert x2 == pytest.approx((5 + 20) / 0.5)


@pytest.mark.parametrize(
    "shapes, fmt",
    [
        ({"output0": (1, 84, 8400)}, "yolov8"),
        ({"output0": (1, 22, 2100)}, "yolov8"),
        ({"output": (1, 25200, 85)}, "yolov5"),
        ({"output0": (1, 300, 6)}, "end_to_end"),
        (
            {
                "num_dets": (1, 1),
                "det_boxes": (1, 100, 4),
                "det_scores": (1, 100),
                "det_classes": (1, 100),
            },
            "efficient_nms",
        ),
        (
            {"output_cov/Sigmoid": (1, 3, 34, 60), "output_bbox/BiasAdd": (1, 12, 34, 60)},
            "detectnet",
        ),
    ],
)
def test_detect_format(shapes, fmt):
    assert detect_format(shapes) == fmt


def test_decode_by_format_name():
    rng = np.random.default_rng(0)
    out = clustered_yolov8(rng, 3, 200)[None]
    direct = decode_yolov8(out)[0]
    via = decode("yolov8", {"output0": out})[0]
    np.testing.assert_array_equal(direct.boxes, via.boxes)


@pytest.mark.parametrize(
    "call",
    [
        lambda: detect_format({"a": (1, 2)}),
        lambda: decode("nope", {"a": np.zeros((1, 6, 10))}),
        lambda: decode_yolov8(np.zeros((1, 4, 10))),
        lambda: decode_yolov8(np.zeros((10,))),
        lambda: decode_yolov8(np.zeros((1, 6, 10)), classes=[5]),
        lambda: decode_yolov5(np.zeros((1, 10, 5))),
        lambda: decode_end_to_end(np.zeros((1, 10, 7))),
        lambda: decode_detectnet(np.zeros((1, 2, 4, 4)), np.zeros((1, 4, 4, 4))),
        lambda: decode_efficient_nms(
            np.array([[5]]), np.zeros((1, 3, 4)), np.zeros((1, 3)), np.zeros((1, 3))
        ),
        lambda: decode_yolov8(np.zeros((2, 6, 10)), [None]),
        lambda: DecodeOptions(conf=2.0),
    ],
)
def test_bad_outputs_raise_input_error(call):
    with pytest.raises(InputError):
        call()


@pytest.mark.parametrize("fmt", ["yolov8", "yolov8_transposed", "yolov5"])
def test_frame_decoder_equals_decode(fmt):
    from trtpipe.decode.formats import frame_decoder

    rng = np.random.default_rng(5)
    v8 = clustered_yolov8(rng, 3, 300)
    out = {
        "yolov8": v8,
        "yolov8_transposed": v8.T.copy(),
        "yolov5": np.concatenate([v8[:4], rng.random((1, 300), np.float32), v8[4:]]).T.copy(),
    }[fmt][None]
    lb = letterbox_params(640, 480, SIZE, SIZE)
    opts = DecodeOptions(conf=0.2, classes=(0, 2), label_names=("a", "b", "c"))
    run = frame_decoder(fmt, {"output0": out.shape}, opts)
    want = decode(fmt, {"output0": out}, lb, opts)[0]
    assert len(want) > 0
    for outputs in (
        {"output0": out},
        {"output0": out.astype(np.float64)},  # another dtype: the general path
    ):
        got = run(outputs, lb)
        np.testing.assert_array_equal(got.boxes, want.boxes)
        np.testing.assert_array_equal(got.class_ids, want.class_ids)
        assert got.labels == want.labels
