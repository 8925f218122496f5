"""trtpipe.arrays, the one reader of GPU array interfaces and stream handles, against
hand-written __cuda_array_interface__ v3 dicts (no GPU needed: only the description is read)."""

from __future__ import annotations

import numpy as np
import pytest

from trtpipe.arrays import contiguous_strides, device_array, is_device_array, stream_handle
from trtpipe.errors import InputError


class _Cai:
    def __init__(self, **cai):
        self.__cuda_array_interface__ = {"version": 3, "strides": None, "stream": None, **cai}


def test_a_contiguous_interface_gets_c_strides_and_no_stream():
    view = device_array(_Cai(shape=(2, 3, 4), typestr="<f4", data=(0x1000, False)))
    assert view.address == 0x1000 and view.shape == [2, 3, 4]
    assert view.strides == [48, 16, 4] and view.contiguous
    assert view.dtype == np.float32 and view.stream == 0 and not view.readonly


def test_strides_stream_and_read_only_are_read_as_given():
    cai = _Cai(shape=(4, 5), typestr="|u1", data=(64, True), strides=(8, 1), stream=7)
    view = device_array(cai)
    assert view.strides == [8, 1] and not view.contiguous
    assert view.stream == 7 and view.readonly and view.dtype == np.uint8


def test_host_arrays_are_not_device_arrays():
    host = np.zeros(3)
    assert device_array(host) is None and not is_device_array(host)
    assert is_device_array(_Cai(shape=(1,), typestr="<f2", data=(8, False)))


def test_a_big_endian_interface_keeps_its_byte_order():
    view = device_array(_Cai(shape=(2,), typestr=">f4", data=(8, False)))
    assert view.dtype == np.dtype(">f4") and view.dtype != np.float32


def test_an_unknown_typestr_raises_input_error_naming_the_array():
    with pytest.raises(InputError, match="out: dtype"):
        device_array(_Cai(shape=(2,), typestr="<V3x", data=(8, False)), "out")


def test_contiguous_strides_and_stream_handles():
    assert contiguous_strides([3, 2], 8) == [16, 8] and contiguous_strides([], 4) == []
    assert stream_handle(None) == 0 and stream_handle(np.int64(5)) == 5
    with pytest.raises(InputError, match="stream"):
        stream_handle(True)
