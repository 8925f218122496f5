"""Frames encoded by trtpipe.frames decode back to the image with OpenCV's own converters."""

from __future__ import annotations

import numpy as np
import pytest

from trtpipe.errors import InputError
from trtpipe.frames import FRAME_ENCODINGS, encode_frame, resize_nearest

cv2 = pytest.importorskip("cv2")


def _smooth_rgb(h: int = 48, w: int = 64) -> np.ndarray:
    # Smooth content, so chroma sub-sampling loses little and the round trip stays tight.
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], axis=2).astype(np.uint8)


def _decode_with_opencv(frame) -> np.ndarray:
    rows = frame.data.reshape(-1, frame.step)
    w, h = frame.width, frame.height
    if frame.encoding == "nv12":
        return cv2.cvtColor(np.ascontiguousarray(rows[:, :w]), cv2.COLOR_YUV2RGB_NV12)
    if frame.encoding in ("yuv422", "uyvy"):
        packed = np.ascontiguousarray(rows[:, : 2 * w]).reshape(h, w, 2)
        return cv2.cvtColor(packed, cv2.COLOR_YUV2RGB_UYVY)
    if frame.encoding in ("yuv422_yuy2", "yuyv"):
        packed = np.ascontiguousarray(rows[:, : 2 * w]).reshape(h, w, 2)
        return cv2.cvtColor(packed, cv2.COLOR_YUV2RGB_YUY2)
    image = frame.as_image()
    if frame.encoding == "mono8":
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_GRAY2RGB)
    code = {
        "rgb8": None,
        "bgr8": cv2.COLOR_BGR2RGB,
        "rgba8": cv2.COLOR_RGBA2RGB,
        "bgra8": cv2.COLOR_BGRA2RGB,
    }[frame.encoding]
    image = np.ascontiguousarray(image)
    return image if code is None else cv2.cvtColor(image, code)


@pytest.mark.parametrize("encoding", FRAME_ENCODINGS)
@pytest.mark.parametrize("padding", [0, 7])
def test_round_trip_through_opencv(encoding: str, padding: int) -> None:
    rgb = _smooth_rgb()
    frame = encode_frame(rgb, encoding, row_padding=padding)
    assert frame.data.size % frame.step == 0 and frame.step >= frame.width
    decoded = _decode_with_opencv(frame).astype(np.int32)
    if encoding == "mono8":
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.int32)
        # mono8 is full-range luma; OpenCV's gray uses the same weights
        assert np.abs(decoded[..., 0] - gray).max() <= 2
    else:
        tolerance = 0 if encoding in ("rgb8", "bgr8", "rgba8", "bgra8") else 6
        assert np.abs(decoded - rgb.astype(np.int32)).max() <= tolerance


def test_bad_input() -> None:
    with pytest.raises(InputError, match="encoding"):
        encode_frame(_smooth_rgb(), "rgb16")
    with pytest.raises(InputError, match="width"):
        encode_frame(_smooth_rgb(4, 5), "uyvy")
    with pytest.raises(InputError, match="rgb"):
        encode_frame(np.zeros((4, 4), np.uint8), "rgb8")
    with pytest.raises(InputError, match="row_padding: expected bytes >= 0, given -10"):
        encode_frame(_smooth_rgb(), "rgb8", row_padding=-10)
    with pytest.raises(InputError, match=r"row_padding: expected an int, given float 1\.5"):
        encode_frame(_smooth_rgb(), "rgb8", row_padding=1.5)
    with pytest.raises(InputError, match="width/height: expected each >= 1, given 0x4"):
        resize_nearest(_smooth_rgb(), 0, 4)


def test_resize_nearest_known_answers() -> None:
    rgb = _smooth_rgb()
    # halving picks the pixel whose centre is nearest each output centre: 1, 3, 5, ...
    np.testing.assert_array_equal(resize_nearest(rgb, 32, 24), rgb[1::2, 1::2])
    # doubling repeats every pixel twice
    np.testing.assert_array_equal(resize_nearest(rgb, 128, 96), rgb.repeat(2, 0).repeat(2, 1))
