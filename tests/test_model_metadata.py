"""What a model says about itself: class names by id, the image size, and {} from a file that
is not a model. The metadata is the model author's: an unusable value is ignored (None) with a
warning, and the model still loads."""

from __future__ import annotations

import logging

import pytest

from trtpipe.model_metadata import class_names, image_size, onnx_metadata


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ("{0: 'person', 1: 'bicycle'}", ["person", "bicycle"]),
        # a skipped id keeps its place, named by its number: class 2 stays 'car'
        ("{0: 'person', 2: 'car'}", ["person", "1", "car"]),
        ("{'0': 'a', '1': 'b', '10': 'c', '2': 'd'}", ["a", "b", "d", *"3456789", "c"]),
        ("['a', 'b']", ["a", "b"]),
        ("{0: 'a', 'x': 'b'}", None),  # mixed key types: ignored, no TypeError
        ("{0: 'a', 0.5: 'b'}", None),
        ("{-1: 'a'}", None),
        ("'person'", None),
        ("{0: ", None),
    ],
)
def test_class_names_by_id(names, expected):
    assert class_names({"names": names}) == expected


def test_a_gap_in_the_class_ids_is_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        class_names({"names": "{0: 'person', 2: 'car'}"})
    assert "no name for class ids [1]" in caplog.text


@pytest.mark.parametrize(
    ("imgsz", "expected"),
    [
        ("640", (640, 640)),
        ("[480, 640]", (640, 480)),
        ("-640", None),
        ("0", None),
        ("True", None),
        ("[640]", None),
        ("[640.7, 480.2]", None),
        ("[16, 'a']", None),
        ("'big'", None),
    ],
)
def test_image_size_is_width_height_or_none(imgsz, expected, caplog):
    with caplog.at_level(logging.WARNING):
        assert image_size({"imgsz": imgsz}) == expected
    assert ("ignoring it" in caplog.text) == (expected is None)


@pytest.mark.parametrize("content", [b"", b"\x08\x07garbage\xff\xff", b"not a model\n"])
def test_metadata_of_a_file_that_is_not_a_model_is_empty(tmp_path, content):
    pytest.importorskip("onnx")
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    assert onnx_metadata(path) == {}
