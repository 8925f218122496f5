"""Calibration images that cannot be used: one InputError naming the file (load_image_nchw),
not an ONNX Runtime, NumPy or Pillow error mid-calibration."""

from __future__ import annotations

import numpy as np
import pytest

from trtpipe.calibration import calibration_images, load_image_nchw
from trtpipe.errors import InputError


def _npy(path, array):
    np.save(path, array)
    return path


def test_uint8_chw_and_float_hwc_arrays_load_as_rgb_in_0_1(tmp_path):
    chw = np.zeros((3, 4, 5), np.uint8)
    chw[0] = 255  # red
    out = load_image_nchw(_npy(tmp_path / "a.npy", chw), 4, 5)
    assert out.shape == (3, 4, 5) and out.dtype == np.float32
    assert out[0].min() == 1.0 and out[1:].max() == 0.0
    hwc = np.full((4, 5, 3), 0.5, np.float32)
    assert np.allclose(load_image_nchw(_npy(tmp_path / "b.npy", hwc), 2, 2), 0.5)


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.full((3, 4, 4), np.nan, np.float32), "expected finite values, given NaN or inf"),
        (
            np.zeros((3, 0, 0), np.float32),
            "expected an image of at least 1x1 pixels, given shape (3, 0, 0)",
        ),
        (
            np.array(["a", "b", "c"]).reshape(3, 1, 1),
            "expected uint8 (0..255) or float (0..1) values, given dtype <U1",
        ),
        (
            np.zeros((4, 4), np.uint8),
            "expected an HWC or CHW array with 3 channels, given shape (4, 4)",
        ),
    ],
)
def test_an_unusable_npy_array_is_an_input_error_naming_the_file(tmp_path, array, expected):
    path = _npy(tmp_path / "a.npy", array)
    with pytest.raises(InputError) as raised:
        load_image_nchw(path, 4, 4)
    assert str(raised.value) == f"calibration: {path}: {expected}"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("object.npy", None),
        ("corrupt.npy", b"\x93NUMPY garbage"),
        ("corrupt.jpg", b"notajpeg"),
        ("empty.png", b""),
    ],
)
def test_an_unreadable_file_is_an_input_error_naming_it(tmp_path, name, content):
    pytest.importorskip("PIL")
    path = tmp_path / name
    if content is None:
        np.save(path, np.array([None, 1], dtype=object), allow_pickle=True)
    else:
        path.write_bytes(content)
    with pytest.raises(InputError, match=f"^calibration: {path}: expected a "):
        load_image_nchw(path, 4, 4)


def test_a_folder_named_like_an_image_is_not_an_image(tmp_path):
    (tmp_path / "x.png").mkdir()
    _npy(tmp_path / "a.npy", np.zeros((4, 4, 3), np.uint8))
    assert calibration_images(tmp_path) == [tmp_path / "a.npy"]
