"""Detections.to_msg and the Isaac ROS DetectNet conversion: the vision_msgs 4.x layout, with
the real message classes where they import and with stand-in classes otherwise."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from trtpipe.decode import Detections, detectnet_to_msg
from trtpipe.errors import InputError


class Msg(SimpleNamespace):
    pass


def stand_in_messages() -> SimpleNamespace:
    """Classes shaped like vision_msgs 4.x: nested fields default-constructed."""

    def detection() -> Msg:
        center = Msg(position=Msg(x=0.0, y=0.0), theta=0.0)
        return Msg(header=None, results=[], bbox=Msg(center=center, size_x=0.0, size_y=0.0))

    return SimpleNamespace(
        Detection2DArray=lambda: Msg(header=None, detections=[]),
        Detection2D=detection,
        ObjectHypothesisWithPose=lambda: Msg(hypothesis=Msg(class_id="", score=0.0), pose=Msg()),
    )


def real_messages():
    msg = pytest.importorskip("vision_msgs.msg")
    header = pytest.importorskip("std_msgs.msg").Header(frame_id="camera")
    return msg, header


DETS = Detections.from_arrays(
    np.array([[10, 20, 50, 100], [0, 0, 5, 5]], np.float32),
    np.array([0.9, 0.4], np.float32),
    np.array([1, 0]),
    ["cat", "dog"],
)


def check_layout(msg, header, dets=DETS):
    assert msg.header is header
    assert len(msg.detections) == len(dets)
    d = msg.detections[0]
    assert d.header is header
    assert d.bbox.center.position.x == pytest.approx(30.0)
    assert d.bbox.center.position.y == pytest.approx(60.0)
    assert d.bbox.size_x == pytest.approx(40.0)
    assert d.bbox.size_y == pytest.approx(80.0)
    assert d.results[0].hypothesis.class_id == "dog"
    assert d.results[0].hypothesis.score == pytest.approx(0.9)
    assert msg.detections[1].results[0].hypothesis.class_id == "cat"


def test_to_msg_with_stand_in_classes():
    header = Msg(frame_id="camera")
    check_layout(DETS.to_msg(header, messages=stand_in_messages()), header)


def test_to_msg_without_labels_uses_class_ids():
    dets = Detections.from_arrays(DETS.boxes, DETS.scores, DETS.class_ids)
    msg = dets.to_msg(messages=stand_in_messages())
    assert [d.results[0].hypothesis.class_id for d in msg.detections] == ["1", "0"]


@pytest.mark.ros
def test_to_msg_with_vision_msgs():
    msg_module, header = real_messages()
    msg = DETS.to_msg(header)
    assert isinstance(msg, msg_module.Detection2DArray)
    assert msg.header.frame_id == "camera"
    d = msg.detections[0]
    assert d.bbox.center.position.x == pytest.approx(30.0)
    assert d.bbox.size_y == pytest.approx(80.0)
    assert d.results[0].hypothesis.class_id == "dog"


def isaac_detections():
    def det(cx, cy, w, h, label, conf):
        bbox = SimpleNamespace(center_x=cx, center_y=cy, width=w, height=h)
        return SimpleNamespace(bbox=bbox, class_label=label, confidence=conf)

    return SimpleNamespace(
        header=Msg(frame_id="camera"),
        detections=[det(30, 60, 40, 80, "dog", 0.9), det(2.5, 2.5, 5, 5, "cat", 0.4)],
    )


def test_detectnet_to_msg_with_stand_in_classes():
    isaac = isaac_detections()
    check_layout(detectnet_to_msg(isaac, messages=stand_in_messages()), isaac.header)


@pytest.mark.ros
def test_detectnet_to_msg_with_vision_msgs():
    msg_module, header = real_messages()
    isaac = isaac_detections()
    isaac.header = header
    msg = detectnet_to_msg(isaac)
    assert isinstance(msg, msg_module.Detection2DArray)
    assert msg.detections[0].bbox.center.position.y == pytest.approx(60.0)
    assert msg.detections[1].results[0].hypothesis.class_id == "cat"


def test_detectnet_to_msg_bad_input():
    with pytest.raises(InputError):
        detectnet_to_msg(
            SimpleNamespace(detections=[SimpleNamespace(bbox=None)]), messages=stand_in_messages()
        )
    with pytest.raises(InputError):
        detectnet_to_msg(object(), messages=stand_in_messages())


def test_detections_checks_shapes():
    with pytest.raises(InputError):
        Detections(np.zeros((2, 4), np.float32), np.zeros(3, np.float32), np.zeros(3, np.int64))


@pytest.mark.parametrize(
    ("boxes", "scores", "class_ids", "labels", "message"),
    [
        ([[0, 0, np.nan, 1]], [0.9], [0], None, "boxes/scores: expected finite"),
        ([[0, 0, 1, 1]], [np.inf], [0], None, "boxes/scores: expected finite"),
        ([[0, 0, 1, 1]], [0.9], [1.5], None, "class_ids: expected whole numbers"),
        ([[0, 0, 1, 1]], [0.9], [-1], None, "class_ids: expected whole numbers"),
        ([[0, 0, 1, 1]], [0.9], [2.0**70], None, "class_ids: expected ids below"),
        ([[0, 0, 1, 1]], [0.9], ["a"], None, "detections: expected numeric"),
        ([[0, 0, 1, 1]], [0.9], [0], "person", "label_names: expected a sequence"),
    ],
)
def test_detections_from_arrays_refuses_what_no_message_can_carry(
    boxes, scores, class_ids, labels, message
):
    with pytest.raises(InputError, match=message):
        Detections.from_arrays(boxes, scores, class_ids, labels)


def test_detections_from_arrays_takes_whole_float_ids():
    dets = Detections.from_arrays([[0, 0, 1, 1]], [0.9], [2.0], ["a", "b", "c"])
    assert dets.class_ids.tolist() == [2] and dets.labels == ["c"]
