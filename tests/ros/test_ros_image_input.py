"""Validation of camera messages before they reach the detector (no ROS needed: duck-typed)."""

from __future__ import annotations

import array
import io
from types import SimpleNamespace

import numpy as np
import pytest

from trtpipe.errors import InputError
from trtpipe.ros.image_input import FrameRejected, decode_compressed, raw_frame


def _msg(encoding="rgb8", width=6, height=4, step=None, data=None, bpp=3):
    step = width * bpp if step is None else step
    if data is None:
        data = array.array("B", bytes(range(256)) * (height * step // 256 + 1))[: height * step]
    return SimpleNamespace(encoding=encoding, width=width, height=height, step=step, data=data)


@pytest.mark.parametrize(
    ("fields", "reason", "field"),
    [
        ({"encoding": "32FC1"}, "unknown_encoding", "encoding"),
        ({"width": 0}, "zero_size", "width/height"),
        ({"height": 0, "data": b""}, "zero_size", "width/height"),
        ({"width": 65535, "height": 1, "step": 3 * 65535}, "too_large", "width/height"),
        ({"step": 17}, "bad_step", "step"),
        ({"step": 0}, "bad_step", "step"),  # a message states its rows: 0 is not "packed"
        ({"data": bytes(3 * 18 + 17)}, "short_data", "image"),
        ({"encoding": "yuyv", "width": 5, "step": 10, "bpp": 2}, "odd_size", "width"),
        ({"encoding": "nv12", "height": 3, "step": 6, "data": bytes(6 * 5)}, "odd_size", "height"),
        ({"encoding": "nv12", "height": 4, "step": 6, "data": bytes(6 * 4)}, "short_data", "image"),
    ],
)
def test_bad_messages_are_rejected_with_a_reason(fields, reason, field):
    with pytest.raises(FrameRejected) as info:
        raw_frame(_msg(**fields))
    assert info.value.reason == reason
    assert isinstance(info.value, InputError)
    assert str(info.value).startswith(field + ":")
    assert "given" in str(info.value)


@pytest.mark.parametrize(("encoding", "bpp"), [("rgb8", 3), ("bgra8", 4), ("mono8", 1)])
def test_padded_rows_view_the_pixels_only(encoding, bpp):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (5, 7, bpp), dtype=np.uint8)
    padded = np.concatenate([pixels.reshape(5, -1), np.zeros((5, 3), np.uint8)], axis=1)
    data = array.array("B", padded.tobytes())
    frame = raw_frame(_msg(encoding, 7, 5, step=7 * bpp + 3, data=data))
    expected = pixels if bpp > 1 else pixels[..., 0]
    np.testing.assert_array_equal(frame.as_array(), expected)
    assert np.shares_memory(frame.as_array(), np.frombuffer(data, np.uint8))


def test_nv12_and_extra_trailing_bytes_are_accepted():
    frame = raw_frame(_msg("nv12", 6, 4, step=8, data=bytes(8 * 6 + 5)))
    assert (frame.width, frame.height, frame.step) == (6, 4, 8)
    with pytest.raises(InputError, match="encoding: expected one of"):
        frame.as_array()


def test_compressed_png_decodes_to_rgb_and_garbage_is_rejected():
    from PIL import Image

    rgb = np.random.default_rng(2).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    good = SimpleNamespace(format="png", data=array.array("B", buf.getvalue()))
    np.testing.assert_array_equal(decode_compressed(good), rgb)
    for payload in (b"", b"\xff\xd8\xff\xe0 truncated jpeg", buf.getvalue()[:40]):
        with pytest.raises(FrameRejected) as info:
            decode_compressed(SimpleNamespace(format="jpeg", data=payload))
        assert info.value.reason == "bad_compressed"


def test_a_padded_frame_with_step_zero_is_refused_not_read_as_packed():
    from trtpipe.ros.rgbd import depth_array

    padded = array.array("B", bytes(5 * (7 * 3 + 3)))
    with pytest.raises(FrameRejected) as info:
        raw_frame(_msg("rgb8", 7, 5, step=0, data=padded))
    assert info.value.reason == "bad_step"
    depth = SimpleNamespace(
        encoding="16UC1", width=7, height=5, step=0, is_bigendian=0, data=bytes(5 * 16)
    )
    with pytest.raises(FrameRejected) as info:
        depth_array(depth)
    assert info.value.reason == "bad_step"


@pytest.mark.parametrize(
    ("dtype", "fmt"), [(np.uint16, "PNG"), (np.int32, "TIFF"), (np.float32, "TIFF")]
)
def test_a_compressed_image_of_wider_samples_is_refused_not_saturated(dtype, fmt):
    from PIL import Image

    wide = (np.arange(9 * 11).reshape(9, 11) * 600).astype(dtype)  # most values above 255
    buf = io.BytesIO()
    Image.fromarray(wide).save(buf, format=fmt)
    with pytest.raises(FrameRejected) as info:
        decode_compressed(SimpleNamespace(format=fmt, data=array.array("B", buf.getvalue())))
    assert info.value.reason == "not_8_bit" and repr(Image.open(buf).mode) in str(info.value)


def test_validated_encodings_are_the_ones_the_preprocessing_reads():
    preprocess = pytest.importorskip("trtpipe.preprocess")
    accepted = []
    for encoding in (*preprocess.ENCODINGS, "rgb16", "32FC1"):
        try:
            raw_frame(_msg(encoding, 4, 4, step=16, data=bytes(16 * 6)))
            accepted.append(encoding)
        except FrameRejected as exc:
            assert exc.reason == "unknown_encoding", (encoding, exc)
    assert accepted == list(preprocess.ENCODINGS)


def test_the_last_row_needs_no_padding_as_for_every_frame_input():
    """The one size rule: rows step bytes apart, the last one ending at its last pixel."""
    preprocess = pytest.importorskip("trtpipe.preprocess")
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    padded = np.concatenate([pixels.reshape(6, -1), np.zeros((6, 9), np.uint8)], axis=1)
    data = padded.tobytes()[:-9]  # 5 rows of 24 bytes, then the last row's 15
    frame = raw_frame(_msg("rgb8", 5, 6, step=24, data=data))
    np.testing.assert_array_equal(frame.as_array(), pixels)
    pre = preprocess.Preprocessor(size=(16, 16), device="cpu")
    out = pre.empty()
    pre(frame.data, out, "rgb8", width=5, height=6, step=24)  # the preprocessing agrees
    with pytest.raises(FrameRejected, match="given 134") as info:
        raw_frame(_msg("rgb8", 5, 6, step=24, data=data[:-1]))
    assert info.value.reason == "short_data"
    with pytest.raises(InputError, match="given 134"):
        pre(data[:-1], out, "rgb8", width=5, height=6, step=24)


def test_a_validated_frame_preprocesses_like_the_same_pixels_as_an_array():
    preprocess = pytest.importorskip("trtpipe.preprocess")
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    padded = np.concatenate([pixels.reshape(30, -1), np.zeros((30, 8), np.uint8)], axis=1)
    frame = raw_frame(_msg("bgr8", 40, 30, step=128, data=array.array("B", padded.tobytes())))
    pre = preprocess.Preprocessor(size=(32, 32), device="cpu")
    from_view, from_array = pre.empty(batch=1), pre.empty(batch=1)
    pre(frame.data, from_view, frame.encoding, width=40, height=30, step=frame.step)
    pre(pixels, from_array, "bgr8")
    np.testing.assert_array_equal(from_view, from_array)


def _png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (no pixel data)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("width", "height", "reason"),
    [(100_000, 100_000, "bad_compressed"), (40_000, 1, "too_large")],
)
def test_a_small_payload_claiming_a_huge_image_is_bad_input(width, height, reason):
    """A 69-byte PNG whose header claims 100000x100000 (Pillow's decompression bomb) or a side
    beyond the frame rule: a counted drop with a reason, never a failure of the decoder."""
    payload = _png_header(width, height)
    assert len(payload) < 100
    with pytest.raises(FrameRejected) as raised:
        decode_compressed(SimpleNamespace(format="png", data=payload))
    assert raised.value.reason == reason
