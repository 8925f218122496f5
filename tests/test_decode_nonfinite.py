"""Non-finite model outputs are never detections, in every decoder and in _core's finishing of
the GPU head scan's candidates; and the decode options, formats and NMS refuse bad arguments
with InputError naming the field. Each answer is checked against the same decode of the output
without the bad rows and against a hand-computed result."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from trtpipe import _core
from trtpipe.decode import (
    DecodeOptions,
    Detections,
    decode,
    decode_detectnet,
    decode_efficient_nms,
    decode_end_to_end,
    decode_yolov5,
    decode_yolov8,
    nms,
)
from trtpipe.errors import InputError
from trtpipe.preprocess import letterbox_params

NAN, INF = float("nan"), float("inf")

# Two good anchors (cx, cy, w, h, class, score) and what they decode to in network pixels.
GOOD = [(100.0, 100.0, 20.0, 20.0, 1, 0.8), (200.0, 50.0, 10.0, 30.0, 0, 0.6)]
GOOD_BOXES = [[90.0, 90.0, 110.0, 110.0], [195.0, 35.0, 205.0, 65.0]]
GOOD_SCORES = [0.8, 0.6]
GOOD_CLASSES = [1, 0]
# Bad anchors, all scoring above the good ones so that each would come first: NaN cx, inf w,
# NaN h, a box whose x2 overflows float32, an inf score.
BAD = [
    (NAN, 100.0, 20.0, 20.0, 0, 0.95),
    (300.0, 100.0, INF, 20.0, 1, 0.95),
    (300.0, 100.0, 20.0, NAN, 1, 0.95),
    (3e38, 100.0, 3e38, 20.0, 0, 0.95),
    (50.0, 50.0, 20.0, 20.0, 1, INF),
]
CLASSES = 3


def yolov8_head(anchors) -> np.ndarray:
    """[4 + C, N] with one column per (cx, cy, w, h, class, score) anchor."""
    head = np.zeros((4 + CLASSES, len(anchors)), np.float32)
    for a, (cx, cy, w, h, cls, score) in enumerate(anchors):
        head[:4, a] = cx, cy, w, h
        head[4 + cls, a] = score
    return head


def yolov5_head(anchors) -> np.ndarray:
    """[N, 5 + C]: objectness 1 (inf for an inf score), the class score in its column."""
    head = np.zeros((len(anchors), 5 + CLASSES), np.float32)
    for a, (cx, cy, w, h, cls, score) in enumerate(anchors):
        head[a, :4] = cx, cy, w, h
        head[a, 4] = INF if np.isinf(score) else 1.0
        head[a, 5 + cls] = 0.5 if np.isinf(score) else score
    return head


def interleaved(good, bad):
    """The bad anchors before, between and after the good ones."""
    return [bad[0], good[0], *bad[1:3], good[1], *bad[3:]]


def assert_detections_equal(got: Detections, want: Detections) -> None:
    np.testing.assert_array_equal(got.boxes, want.boxes)
    np.testing.assert_array_equal(got.scores, want.scores)
    np.testing.assert_array_equal(got.class_ids, want.class_ids)
    assert got.labels == want.labels


def assert_known_answer(got: Detections, boxes, scores, classes) -> None:
    np.testing.assert_allclose(got.boxes, np.asarray(boxes, np.float32), rtol=1e-6)
    np.testing.assert_allclose(got.scores, np.asarray(scores, np.float32), rtol=1e-6)
    assert got.class_ids.tolist() == list(classes)


DENSE_DECODERS = {
    "yolov8": lambda anchors, **kw: decode_yolov8(yolov8_head(anchors), **kw)[0],
    "yolov8_transposed": lambda anchors, **kw: decode_yolov8(
        np.ascontiguousarray(yolov8_head(anchors).T), transposed=True, **kw
    )[0],
    "yolov5": lambda anchors, **kw: decode_yolov5(yolov5_head(anchors), **kw)[0],
}


@pytest.mark.parametrize("fmt", list(DENSE_DECODERS))
def test_dense_heads_skip_anchors_with_a_non_finite_box_or_score(fmt):
    run = DENSE_DECODERS[fmt]
    mixed = interleaved(GOOD, BAD)
    got = run(mixed, conf=0.25, iou=0.45)
    assert_known_answer(got, GOOD_BOXES, GOOD_SCORES, GOOD_CLASSES)
    assert_detections_equal(got, run(GOOD, conf=0.25, iou=0.45))
    # letterbox mapping in _core, and the top-k: the bad anchors take no slot
    lb = letterbox_params(640, 480, 320, 320)
    for kw in ({"transforms": lb}, {"max_detections": 1}, {"agnostic": True}):
        assert_detections_equal(run(mixed, **kw), run(GOOD, **kw))
    assert run(mixed, max_detections=1).class_ids.tolist() == [1]
    assert len(run(BAD)) == 0


def compact_records(anchors) -> tuple[np.ndarray, int]:
    """The records a GPU head scan writes for these anchors (in reverse order, as any order
    is allowed), with unread rows after them."""
    records = np.full((len(anchors) + 2, 8), 7.0, np.float32)
    ints = records.view(np.int32)
    for k, (a, (cx, cy, w, h, cls, score)) in enumerate(reversed(list(enumerate(anchors)))):
        records[k, :5] = cx, cy, w, h, score
        ints[k, 5], ints[k, 6], ints[k, 7] = a, cls, 0
    return records, len(anchors)


def test_gpu_scan_candidates_skip_non_finite_records_as_the_cpu_scan_does():
    terms = (0.0, 40.0, 0.5, 0.5, 640.0, 480.0)
    mixed = interleaved(GOOD, BAD)
    head = yolov8_head(mixed)
    whole = _core.decode.dense_head(head[4:], head[:4], 0.25, 0.45, 10, False, None, terms)
    records, count = compact_records(mixed)
    got = _core.decode.compact_candidates(records, count, 0.45, 10, False, terms)
    for g, w in zip(got, whole, strict=True):
        np.testing.assert_array_equal(g, w)
    # and that is the good anchors' answer: their records alone, and by hand
    good_records, good_count = compact_records(GOOD)
    alone = _core.decode.compact_candidates(good_records, good_count, 0.45, 10, False, None)
    np.testing.assert_array_equal(alone[0], np.asarray(GOOD_BOXES, np.float32))
    # (v - pad) / scale, clipped to the 640 x 480 source
    mapped = np.clip((np.asarray(GOOD_BOXES) - [0, 40, 0, 40]) / 0.5, 0, [640, 480, 640, 480])
    np.testing.assert_allclose(got[0], mapped, rtol=1e-6)
    assert got[2].tolist() == GOOD_CLASSES
    # max_output counts usable candidates only
    one = _core.decode.compact_candidates(records, count, 0.45, 1, False, None)
    assert one[2].tolist() == [1] and np.isfinite(one[0]).all()


def e2e_rows(rows) -> np.ndarray:
    return np.asarray(rows, np.float32).reshape(1, -1, 6)


E2E_GOOD = [[10, 20, 50, 60, 0.9, 2], [100, 100, 150, 140, 0.7, 0]]
E2E_BAD = [
    [10, 20, 50, 60, 0.95, NAN],  # class NaN
    [10, 20, 50, 60, 0.95, 1e30],  # class beyond any id
    [10, 20, 50, 60, 0.95, -3],  # negative class
    [10, 20, 50, 60, 0.95, INF],
    [10, 20, 50, 60, INF, 1],  # inf score
    [NAN, 20, 50, 60, 0.95, 1],
    [10, 20, INF, 60, 0.95, 1],
    [10, -INF, 50, 60, 0.95, 1],
]


def test_end_to_end_skips_rows_with_a_non_finite_or_invalid_value():
    mixed = e2e_rows([E2E_BAD[0], E2E_GOOD[0], *E2E_BAD[1:5], E2E_GOOD[1], *E2E_BAD[5:]])
    names = ("a", "b", "c")
    with np.errstate(all="raise"):  # no cast of NaN to int on the way
        got = decode_end_to_end(mixed, label_names=names)[0]
    assert_known_answer(got, [r[:4] for r in E2E_GOOD], [0.9, 0.7], [2, 0])
    assert got.labels == ["c", "a"]
    assert_detections_equal(got, decode_end_to_end(e2e_rows(E2E_GOOD), label_names=names)[0])
    one = decode_end_to_end(mixed, max_detections=1)[0]
    assert one.class_ids.tolist() == [2]
    assert len(decode_end_to_end(e2e_rows(E2E_BAD))[0]) == 0


@pytest.mark.parametrize("class_dtype", [np.float32, np.int32])
def test_efficient_nms_skips_rows_with_a_non_finite_or_invalid_value(class_dtype):
    rows = [E2E_BAD[2], E2E_GOOD[0], *E2E_BAD[4:], E2E_GOOD[1], E2E_BAD[0]]
    if class_dtype is np.int32:
        rows = [r for r in rows if np.isfinite(r[5])]  # an int output holds no NaN
    table = np.asarray(rows, np.float64)
    k = len(rows)

    def run(table: np.ndarray, **kw) -> Detections:
        n = len(table)
        padded = np.zeros((k + 2, 6))
        padded[:n] = table
        padded[n:] = [1, 1, 5, 5, 0.99, 0]  # past num_dets: never read
        return decode_efficient_nms(
            np.array([[n]], np.int32),
            padded[None, :, :4].astype(np.float32),
            padded[None, :, 4].astype(np.float32),
            padded[None, :, 5].astype(class_dtype),
            **kw,
        )[0]

    got = run(table)
    assert_known_answer(got, [r[:4] for r in E2E_GOOD], [0.9, 0.7], [2, 0])
    assert_detections_equal(got, run(np.asarray(E2E_GOOD, np.float64)))
    assert run(table, max_detections=1).class_ids.tolist() == [2]


def test_detectnet_skips_cells_with_a_non_finite_box_or_coverage():
    cov = np.zeros((1, 1, 2, 2), np.float32)
    bbox = np.ones((1, 4, 2, 2), np.float32)
    cov[0, 0, 0, 0] = 0.8  # the good cell: centre (8, 8), 35 px to every edge
    cov[0, 0, 0, 1] = INF
    cov[0, 0, 1, 0], bbox[0, 2, 1, 0] = 0.9, NAN
    cov[0, 0, 1, 1], bbox[0, 0, 1, 1] = 0.9, INF
    got = decode_detectnet(cov, bbox)[0]
    assert_known_answer(got, [[-27.0, -27.0, 43.0, 43.0]], [0.8], [0])
    only = np.zeros_like(cov)
    only[0, 0, 0, 0] = 0.8
    assert_detections_equal(got, decode_detectnet(only, np.ones_like(bbox))[0])


def test_a_detector_drops_non_finite_anchors_of_its_model(tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    import trtpipe

    def model(head: np.ndarray, name: str):
        # the constant head, plus 0 × the image so the graph depends on its input
        nodes = [
            helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
            helper.make_node("Mul", ["m", "zero"], ["z"]),
            helper.make_node("Add", ["head", "z"], ["output"]),
        ]
        graph = helper.make_graph(
            nodes,
            name,
            [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, list(head.shape))],
            initializer=[
                numpy_helper.from_array(head, "head"),
                numpy_helper.from_array(np.float32(0), "zero"),
            ],
        )
        path = tmp_path / f"{name}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
        return trtpipe.Detector(path, backend="onnxruntime", device="cpu", decoder="yolov8")

    small = [(a[0] / 4, a[1] / 4, a[2] / 4, a[3] / 4, a[4], a[5]) for a in GOOD]
    image = np.zeros((64, 64, 3), np.uint8)
    got = model(yolov8_head(interleaved(small, BAD))[None], "mixed")(image)
    want = model(yolov8_head(small)[None], "good")(image)
    assert len(got) == 2 and np.isfinite(got.boxes).all()
    assert_detections_equal(got, want)


# --- options, formats and NMS arguments -------------------------------------------------------

BAD_OPTIONS = [
    ("conf", "0.5"),
    ("conf", [0.5]),
    ("conf", np.array([0.5, 0.6])),
    ("conf", NAN),
    ("conf", True),
    ("iou", "0.4"),
    ("iou", 1.5),
    ("max_detections", 10.7),
    ("max_detections", NAN),
    ("max_detections", 2**63),
    ("max_detections", "10"),
    ("max_detections", True),
    ("max_detections", 0),
    ("max_detections", np.float64(3.0)),
    ("classes", [0.9]),
    ("classes", "15"),
    ("classes", 5),
    ("classes", [True]),
    ("classes", [2**70]),
    ("classes", [-1]),
    ("classes", np.array([1.0])),
    ("label_names", "person"),
    ("label_names", {0: "a", 1: "b"}),
    ("label_names", [0, 1]),
    ("label_names", 5),
    ("label_names", b"ab"),
]


@pytest.mark.parametrize(("field", "value"), BAD_OPTIONS)
def test_decode_options_refuse_bad_values_naming_the_field(field, value):
    with pytest.raises(InputError, match=rf"^{field}: expected .*, given "):
        DecodeOptions(**{field: value})
    # the same through a decoder's overrides, before any frame is decoded
    with pytest.raises(InputError, match=rf"^{field}: expected "):
        decode_yolov8(yolov8_head(GOOD), **{field: value})


def test_decode_options_take_numpy_numbers_and_normalise_them():
    opts = DecodeOptions(
        conf=np.float32(0.5),
        iou=Fraction(1, 2),
        max_detections=np.int64(5),
        classes=np.array([2, 0]),
        label_names=["a", "b", "c"],
    )
    assert (opts.conf, opts.iou, opts.max_detections) == (0.5, 0.5, 5)
    assert type(opts.conf) is float and type(opts.iou) is float
    assert type(opts.max_detections) is int
    assert opts.classes == (2, 0) and all(type(c) is int for c in opts.classes)
    assert opts.label_names == ("a", "b", "c")
    plain = DecodeOptions(0.5, 0.5, 5, (2, 0), ("a", "b", "c"))
    assert opts == plain
    head = yolov8_head(GOOD)
    assert_detections_equal(
        decode_yolov8(head, options=opts)[0], decode_yolov8(head, options=plain)[0]
    )


def test_decode_options_refuse_unknown_overrides_and_other_options():
    with pytest.raises(InputError, match=r"^confidence: expected an option of DecodeOptions"):
        decode_yolov8(yolov8_head(GOOD), confidence=0.5)
    with pytest.raises(InputError, match=r"^options: expected DecodeOptions or None, given int"):
        decode_yolov8(yolov8_head(GOOD), None, 5)


def test_decode_by_format_refuses_the_wrong_number_of_outputs():
    cov, bbox = np.zeros((1, 2, 3, 4), np.float32), np.zeros((1, 8, 3, 4), np.float32)
    for outputs in (
        {"cov": cov},
        {"cov": cov, "bbox": bbox, "extra": cov},
        {"cov": np.zeros(3), "bbox": np.zeros(3)},
    ):
        with pytest.raises(InputError, match=r"^outputs: expected 2 for detectnet.*given cov"):
            decode("detectnet", outputs)
    # either order of the two maps still works
    assert decode("detectnet", {"b": bbox, "c": cov})[0].boxes.shape == (0, 4)
    parts = [
        np.array([[1]]),
        np.ones((1, 2, 4), np.float32),
        np.ones((1, 2), np.float32),
        np.zeros((1, 2)),
    ]
    for outputs in (
        dict(zip("abc", parts[:3], strict=True)),
        dict(zip("abcde", [*parts, parts[0]], strict=True)),
    ):
        with pytest.raises(InputError, match=r"^outputs: expected 4 for efficient_nms.*given a "):
            decode("efficient_nms", outputs)
    assert len(decode("efficient_nms", dict(zip("abcd", parts, strict=True)))[0]) == 1


def test_efficient_nms_refuses_counts_and_classes_that_are_not_numbers():
    boxes, scores = np.ones((1, 2, 4), np.float32), np.ones((1, 2), np.float32)
    for counts in (np.array([[1.7]]), np.array([[NAN]]), np.array([["a"]])):
        with pytest.raises(InputError, match=r"^num_dets: expected whole numbers"):
            decode_efficient_nms(counts, boxes, scores, np.zeros((1, 2)))
    with pytest.raises(InputError, match=r"^det_classes: expected class ids"):
        decode_efficient_nms(np.array([[1]]), boxes, scores, np.full((1, 2), "a"))
    # a float count that is a whole number is a count
    assert len(decode_efficient_nms(np.array([[1.0]]), boxes, scores, np.zeros((1, 2)))[0]) == 1


BOXES = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float64)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((BOXES, np.array(["0.9", "0.8"]), None, 0.5, -1), "scores"),
        ((BOXES, np.array([0.9, 0.8]), None, 0.5, 2**70), "max_output"),
        ((BOXES, np.array([0.9, 0.8]), None, 0.5, 1.5), "max_output"),
        ((BOXES, np.array([0.9, 0.8]), None, 0.5, "1"), "max_output"),
        ((BOXES, np.array([0.9, 0.8]), None, "0.5", -1), "iou_threshold"),
        ((BOXES, np.array([0.9, 0.8]), None, NAN, -1), "iou_threshold"),
        ((BOXES, np.array([0.9, 0.8]), None, True, -1), "iou_threshold"),
        ((BOXES, np.array([0.9, 0.8]), np.array(["a", "b"]), 0.5, -1), "class_ids"),
    ],
)
def test_compiled_nms_refuses_bad_arguments_with_input_error(args, field):
    with pytest.raises(InputError, match=rf"^{field}: expected .*given"):
        _core.decode.nms(*args)


def test_nms_checks_its_arguments_and_keeps_numpy_ints():
    with pytest.raises(InputError, match=r"^scores: expected an array of real numbers"):
        nms(BOXES, np.array(["a", "b"]), 0.5)
    with pytest.raises(InputError, match=r"^boxes: expected real numbers"):
        nms(np.array([["a", "b", "c", "d"]]), np.array([0.5]), 0.5)
    with pytest.raises(InputError, match=r"^max_output: expected"):
        nms(BOXES, np.array([0.9, 0.8]), 0.5, max_output=2**70)
    with pytest.raises(InputError, match=r"^max_output: expected an int, given float 1.5"):
        nms(BOXES, np.array([0.9, 0.8]), 0.5, max_output=1.5)
    with pytest.raises(InputError, match=r"^iou_threshold: expected a value in"):
        nms(BOXES, np.array([0.9, 0.8]), "0.5")
    assert nms(BOXES, np.array([0.8, 0.9]), np.float32(0.5), max_output=np.int64(1)).tolist() == [1]
    assert nms(BOXES, np.array([0.8, 0.9]), 0.5).tolist() == [1, 0]


def test_compiled_dense_head_refuses_a_max_output_that_is_not_an_int():
    head = yolov8_head(GOOD)
    with pytest.raises(InputError, match=r"^max_output: expected an int, given float 10.7"):
        _core.decode.dense_head(head[4:], head[:4], 0.25, 0.45, 10.7, False)
    with pytest.raises(InputError, match=r"^max_output: expected"):
        _core.decode.dense_head(head[4:], head[:4], 0.25, 0.45, 2**63, False)
