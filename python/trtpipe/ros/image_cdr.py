"""sensor_msgs/Image and CompressedImage read straight from their serialized CDR bytes.

A node subscribed with ``raw=True`` receives each message as the bytes the middleware
delivered. Reading the few fields before the pixels takes microseconds, and the pixels stay
where they are: ``data`` is a view into those bytes. rclpy's own deserialisation builds the
message object and converts the pixel sequence, milliseconds for a 1080p frame. Whatever the
bytes hold, reading them raises :class:`FrameRejected` ("bad_cdr") or returns fields that the
frame rule then checks, as for every other input.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from trtpipe.ros.image_input import FrameRejected

# CDR (XCDR1) encapsulation identifiers: big endian, little endian.
_BYTE_ORDERS = {b"\x00\x00": ">", b"\x00\x01": "<"}
_U32 = {order: struct.Struct(order + "I") for order in "<>"}
_STAMP = {order: struct.Struct(order + "iI") for order in "<>"}


@dataclass(frozen=True, slots=True)
class ImageFields:
    """A sensor_msgs/Image's fields; ``data`` is a view into the serialized bytes."""

    stamp_sec: int
    stamp_nanosec: int
    frame_id: str
    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: memoryview


@dataclass(frozen=True, slots=True)
class CompressedFields:
    """A sensor_msgs/CompressedImage's fields; ``data`` is a view into the serialized bytes."""

    stamp_sec: int
    stamp_nanosec: int
    frame_id: str
    format: str
    data: memoryview


class _Reader:
    """Reads CDR primitives in order; positions are aligned from the end of the 4-byte
    encapsulation header, as CDR aligns them."""

    __slots__ = ("buf", "order", "pos", "size")

    def __init__(self, buf: memoryview):
        if buf.nbytes < 4:
            raise _bad(f"{buf.nbytes} bytes, fewer than the 4-byte CDR header")
        order = _BYTE_ORDERS.get(bytes(buf[:2]))
        if order is None:
            raise _bad(f"encapsulation {bytes(buf[:2]).hex()}: expected plain CDR (0000 or 0001)")
        self.buf, self.order, self.pos, self.size = buf, order, 4, buf.nbytes

    def _take(self, count: int, what: str) -> int:
        start = self.pos
        if count > self.size - start:
            raise _bad(f"{what}: needs {count} bytes at offset {start}, {self.size - start} left")
        self.pos = start + count
        return start

    def _align(self, n: int) -> None:
        self.pos += -(self.pos - 4) % n

    def stamp(self) -> tuple[int, int]:
        self._align(4)
        return _STAMP[self.order].unpack_from(self.buf, self._take(8, "header.stamp"))

    def u32(self, what: str) -> int:
        self._align(4)
        return _U32[self.order].unpack_from(self.buf, self._take(4, what))[0]

    def u8(self, what: str) -> int:
        return self.buf[self._take(1, what)]

    def string(self, what: str) -> str:
        length = self.u32(what)  # counts the terminating NUL
        if length == 0:
            return ""
        start = self._take(length, what)
        if self.buf[start + length - 1] != 0:
            raise _bad(f"{what}: a string without its terminating NUL")
        try:
            return str(self.buf[start : start + length - 1], "utf-8")
        except UnicodeDecodeError as exc:
            raise _bad(f"{what}: not UTF-8 ({exc})") from None

    def octets(self, what: str) -> memoryview:
        length = self.u32(what)
        start = self._take(length, what)
        return self.buf[start : start + length]


def _bad(message: str) -> FrameRejected:
    return FrameRejected("bad_cdr", f"serialized message: {message}")


def _view(serialized: bytes | bytearray | memoryview) -> memoryview:
    return memoryview(serialized).cast("B")


def image_from_cdr(serialized: bytes | bytearray | memoryview) -> ImageFields:
    """The fields of a serialized ``sensor_msgs/Image``; raises :class:`FrameRejected`."""
    r = _Reader(_view(serialized))
    sec, nanosec = r.stamp()
    frame_id = r.string("header.frame_id")
    height = r.u32("height")
    width = r.u32("width")
    encoding = r.string("encoding")
    is_bigendian = r.u8("is_bigendian")
    step = r.u32("step")
    data = r.octets("data")
    return ImageFields(sec, nanosec, frame_id, height, width, encoding, is_bigendian, step, data)


def compressed_from_cdr(serialized: bytes | bytearray | memoryview) -> CompressedFields:
    """The fields of a serialized ``sensor_msgs/CompressedImage``; raises
    :class:`FrameRejected`."""
    r = _Reader(_view(serialized))
    sec, nanosec = r.stamp()
    frame_id = r.string("header.frame_id")
    fmt = r.string("format")
    return CompressedFields(sec, nanosec, frame_id, fmt, r.octets("data"))
