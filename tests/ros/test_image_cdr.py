"""Images read from their serialized CDR bytes against rclpy's own deserialisation (every
field, every encoding, odd sizes, padded rows, both byte orders), and bytes that are not a
message: every prefix of one, mutated ones, a node fed them. Never a crash: a FrameRejected,
counted as bad_message.bad_cdr."""

from __future__ import annotations

import contextlib
import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .ros_harness import Graph, ScriptedDetector, drops, factory_of, wait_for

pytestmark = pytest.mark.ros

ENCODINGS = ("rgb8", "bgr8", "mono8", "rgba8", "bgra8", "yuv422", "nv12", "mono16", "32FC1")


def _cdr_writer(order: str):
    """A CDR writer of its own (the oracle for the big-endian case): alignment counted from
    the end of the 4-byte encapsulation header."""
    out = bytearray(b"\x00\x00\x00\x00" if order == ">" else b"\x00\x01\x00\x00")

    def align(n: int) -> None:
        out.extend(b"\0" * (-(len(out) - 4) % n))

    def u32(value: int) -> None:
        align(4)
        out.extend(struct.pack(order + "I", value))

    def i32(value: int) -> None:
        align(4)
        out.extend(struct.pack(order + "i", value))

    def string(text: str) -> None:
        data = text.encode() + b"\0"
        u32(len(data))
        out.extend(data)

    def octets(data: bytes) -> None:
        u32(len(data))
        out.extend(data)

    return out, u32, i32, string, octets


def _image_cdr(msg: Any, order: str) -> bytes:
    out, u32, i32, string, octets = _cdr_writer(order)
    i32(msg.header.stamp.sec)
    u32(msg.header.stamp.nanosec)
    string(msg.header.frame_id)
    u32(msg.height)
    u32(msg.width)
    string(msg.encoding)
    out.append(msg.is_bigendian)
    u32(msg.step)
    octets(bytes(msg.data))
    return bytes(out)


def _image(encoding: str, width: int, height: int, pad: int, big: int = 0, frame="cam") -> Any:
    from sensor_msgs.msg import Image

    rng = np.random.default_rng(width * 31 + height)
    step = width * 4 + pad  # any step: the reader takes what the message says
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=big, step=step)
    msg.header.frame_id = frame
    msg.header.stamp.sec = 1_700_000_000 + width
    msg.header.stamp.nanosec = 999_999_999 - height
    msg.data = rng.integers(0, 256, step * height, dtype=np.uint8).tobytes()
    return msg


def _same_fields(fields: Any, msg: Any) -> None:
    assert (fields.stamp_sec, fields.stamp_nanosec) == (
        msg.header.stamp.sec,
        msg.header.stamp.nanosec,
    )
    assert fields.frame_id == msg.header.frame_id
    assert (fields.height, fields.width, fields.step) == (msg.height, msg.width, msg.step)
    assert (fields.encoding, fields.is_bigendian) == (msg.encoding, msg.is_bigendian)
    assert fields.data.tobytes() == bytes(msg.data)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(
    ("width", "height", "pad"), [(1, 1, 0), (3, 5, 0), (7, 2, 3), (64, 48, 16)]
)
def test_fields_equal_rclpys_deserialisation(ros_context, encoding, width, height, pad):
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import Image

    from trtpipe.ros.image_cdr import image_from_cdr

    msg = _image(encoding, width, height, pad, big=int(encoding == "mono16"), frame="f" * width)
    serialized = serialize_message(msg)
    # the test's own writer writes what rclpy reads back (padding bytes may differ: rclpy
    # leaves them unset)
    _same_fields(
        image_from_cdr(_image_cdr(msg, "<")), deserialize_message(_image_cdr(msg, "<"), Image)
    )
    _same_fields(image_from_cdr(serialized), deserialize_message(serialized, Image))
    # big-endian CDR, which rclpy does not write on this machine: the same fields
    _same_fields(image_from_cdr(_image_cdr(msg, ">")), msg)


def test_the_pixels_are_a_view_of_the_serialized_bytes(ros_context):
    from rclpy.serialization import serialize_message

    from trtpipe.ros.image_cdr import image_from_cdr
    from trtpipe.ros.image_input import raw_frame

    msg = _image("bgr8", 16, 8, 0)
    msg.step = 16 * 3
    msg.data = bytes(range(256)) * (16 * 3 * 8 // 256) + bytes(16 * 3 * 8 % 256)
    serialized = bytearray(serialize_message(msg))
    frame = raw_frame(image_from_cdr(serialized))
    pixels = frame.as_array()
    np.testing.assert_array_equal(pixels.reshape(-1), np.frombuffer(bytes(msg.data), np.uint8))
    serialized[-1] ^= 0xFF  # the last pixel byte, changed in the received buffer
    assert pixels[-1, -1, -1] == msg.data[-1] ^ 0xFF


def test_compressed_fields_equal_rclpys(ros_context):
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import CompressedImage

    from trtpipe.ros.image_cdr import compressed_from_cdr

    msg = CompressedImage(format="jpeg")
    msg.header.frame_id = "left"
    msg.header.stamp.sec, msg.header.stamp.nanosec = 12, 34
    msg.data = b"\xff\xd8 not really a jpeg \xff\xd9"
    serialized = serialize_message(msg)
    fields = compressed_from_cdr(serialized)
    want = deserialize_message(serialized, CompressedImage)
    assert (fields.stamp_sec, fields.stamp_nanosec, fields.frame_id) == (12, 34, "left")
    assert fields.format == want.format and fields.data.tobytes() == bytes(want.data)


def test_every_prefix_of_a_message_is_a_bad_cdr_drop(ros_context):
    from rclpy.serialization import serialize_message

    from trtpipe.ros.image_cdr import compressed_from_cdr, image_from_cdr
    from trtpipe.ros.image_input import FrameRejected

    serialized = serialize_message(_image("rgb8", 3, 2, 1))
    for end in range(len(serialized)):
        with pytest.raises(FrameRejected) as err:
            image_from_cdr(serialized[:end])
        assert err.value.reason == "bad_cdr"
    for bad in (b"\x00\x02\x00\x00" + serialized[4:], b"", b"\x00\x01"):
        with pytest.raises(FrameRejected, match="serialized message"):
            image_from_cdr(bad)
        with pytest.raises(FrameRejected, match="serialized message"):
            compressed_from_cdr(bad)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_messages_are_read_or_rejected_never_a_crash(ros_context, data):
    from rclpy.serialization import serialize_message

    from trtpipe.ros.image_cdr import image_from_cdr
    from trtpipe.ros.image_input import FrameRejected, raw_frame

    base = bytearray(serialize_message(_image("bgr8", 4, 3, 0)))
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(base) - 1))
        base[at] = data.draw(st.integers(0, 255))
    with contextlib.suppress(FrameRejected):  # a counted drop; anything else fails the test
        raw_frame(image_from_cdr(bytes(base)))


def test_the_node_counts_bytes_that_are_not_an_image_and_serves_the_next(ros_context):
    from rclpy.serialization import serialize_message

    from .ros_harness import image_msg

    g = Graph(ros_context, factory_of(ScriptedDetector()), "cdr")
    try:
        good = image_msg(np.zeros((4, 6, 3), np.uint8), "bgr8", 5)
        serialized = serialize_message(good)
        g.pub.publish(serialized[: len(serialized) // 2])  # a truncated message, as bytes
        wait_for(lambda: drops(g.node).get("bad_message.bad_cdr", 0) == 1, what="bad_cdr drop")
        out = g.send_and_wait(good, 1)
        assert out.header.stamp == good.header.stamp and out.header.frame_id == "camera"
    finally:
        g.close()
