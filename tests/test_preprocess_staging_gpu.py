"""Host frames reach the kernel through staging taken from trtpipe's pools (the caller's
PinnedPool/DevicePool, or the preprocessor's own), and Preprocessor.empty() hands out DevicePool
buffers; results stay the CPU path's. Pool statistics show where the memory came from."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from trtpipe.errors import InputError
from trtpipe.memory import DeviceBuffer, DevicePool, PinnedPool
from trtpipe.preprocess import Preprocessor

pytestmark = pytest.mark.gpu

OPTIONS = dict(size=(96, 64), mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
MiB = 1 << 20


def cupy():
    return pytest.importorskip("cupy")


def frames(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(480, 640, 3), dtype=np.uint8) for _ in range(count)]


def cpu_result(image: np.ndarray) -> np.ndarray:
    pre = Preprocessor(device="cpu", **OPTIONS)
    out = pre.empty(1)
    pre(image, out)
    return out


def assert_close(gpu_out, want: np.ndarray) -> None:
    cp = cupy()
    np.testing.assert_allclose(cp.asnumpy(cp.asarray(gpu_out)), want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("host_input", ["mapped", "copy"])
def test_pageable_frames_are_staged_in_the_given_pools(host_input):
    cp = cupy()
    pinned = PinnedPool(8 * MiB, fallback=False)
    device = DevicePool(8 * MiB, fallback=False)
    pre = Preprocessor(
        device="cuda", host_input=host_input, pinned_pool=pinned, device_pool=device, **OPTIONS
    )
    images = frames(5)
    frame_bytes = images[0].nbytes
    outs = [device.empty(pre.output_shape(1), np.float32) for _ in images]
    out_bytes = device.stats().in_use
    stream = cp.cuda.Stream(non_blocking=True)
    for image, out in zip(images, outs, strict=True):
        pre(image, out, stream=stream)
    stream.synchronize()
    for image, out in zip(images, outs, strict=True):
        assert_close(out, cpu_result(image))
    # Two staging sets used in turn: two pinned blocks, taken once and kept.
    staged = pinned.stats()
    assert staged.allocations == 2 and staged.live_blocks == 2
    assert staged.in_use >= 2 * frame_bytes
    assert staged.fallbacks == 0
    copies = device.stats().in_use - out_bytes
    if host_input == "copy":
        assert copies >= 2 * frame_bytes
    else:
        assert copies == 0  # the kernel read the pinned staging in place
    del pre
    gc.collect()
    assert pinned.stats().live_blocks == 0  # staging given back with the preprocessor
    assert device.stats().in_use == out_bytes


def test_frames_already_in_the_pinned_pool_are_read_in_place():
    pinned = PinnedPool(8 * MiB)
    pre = Preprocessor(device="cuda", host_input="mapped", pinned_pool=pinned, **OPTIONS)
    image = frames(1, seed=4)[0]
    frame = pinned.empty(image.shape, np.uint8)
    np.asarray(frame)[...] = image
    out = pre.empty(1)
    before = pinned.stats()
    pre(frame, out)
    cupy().cuda.runtime.deviceSynchronize()
    assert_close(out, cpu_result(image))
    assert pinned.stats().allocations == before.allocations  # no staging copy


def test_empty_hands_out_device_pool_buffers():
    cp = cupy()
    pool = DevicePool(4 * MiB)
    given = Preprocessor(device="cuda", device_pool=pool, **OPTIONS)
    out = given.empty(3)
    assert isinstance(out, DeviceBuffer)
    assert out.shape == given.output_shape(3) and out.typestr == "<f4"
    assert pool.stats().in_use >= 3 * 3 * 96 * 64 * 4
    own = Preprocessor(device="cuda", dtype="float16", **OPTIONS)
    half = own.empty(2)
    assert isinstance(half, DeviceBuffer) and half.typestr == "<f2"
    image = frames(1, seed=2)[0]
    given(image, out, batch_index=2)
    cp.cuda.runtime.deviceSynchronize()
    np.testing.assert_allclose(cp.asnumpy(cp.asarray(out))[2:], cpu_result(image), atol=1e-5)
    stream = cp.cuda.Stream(non_blocking=True)
    on_stream = given.empty(1, stream=stream)
    assert on_stream.stream == stream.ptr  # calls on that stream wait for no other
    given(image, on_stream, stream=stream)
    stream.synchronize()
    np.testing.assert_allclose(cp.asnumpy(cp.asarray(on_stream)), cpu_result(image), atol=1e-5)
    on_stream.release()  # before the stream goes: the pool fences released blocks on it


def test_pools_of_another_gpu_are_refused():
    cp = cupy()
    if cp.cuda.runtime.getDeviceCount() < 2:
        pytest.skip("needs two GPUs")
    with pytest.raises(InputError, match="pinned_pool: expected a pool of GPU 0"):
        Preprocessor(device="cuda:0", pinned_pool=PinnedPool(MiB, device=1))
    with pytest.raises(InputError, match="device_pool: expected a pool of GPU 0"):
        Preprocessor(device="cuda:0", device_pool=DevicePool(MiB, device=1))


def _camera_frame(rng, encoding: str, width: int, height: int, padded: bool) -> np.ndarray:
    channels = {"bgr8": 3, "rgba8": 4, "mono8": 1, "uyvy": 2, "nv12": 1}[encoding]
    rows = height * 3 // 2 if encoding == "nv12" else height
    extra = 64 if padded else 0  # a row step beyond the pixels, as cameras give
    full = rng.integers(0, 256, size=(rows, width + extra, channels), dtype=np.uint8)
    frame = full[:, :width]
    return frame[..., 0] if channels == 1 else frame


@pytest.mark.parametrize("host_input", ["mapped", "copy"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("encoding", ["bgr8", "rgba8", "mono8", "uyvy", "nv12"])
@pytest.mark.parametrize(
    "src, dst, padded",
    [
        ((1920, 1080), (320, 320), False),
        ((1280, 720), (640, 640), True),
        ((334, 518), (96, 64), True),
    ],
)
def test_staging_only_the_rows_read_gives_the_whole_frames_result(
    host_input, interpolation, encoding, src, dst, padded
):
    # A pageable frame is staged row by row where the kernel reads a fraction of it; the same
    # frame on the GPU (read whole) is the oracle. Every frame is new, so a row left out of the
    # staging would hold an earlier frame's pixels and differ.
    cp = cupy()
    rng = np.random.default_rng(7)
    pre = Preprocessor(device="cuda", size=dst, interpolation=interpolation, host_input=host_input)
    staged, whole = pre.empty(1), pre.empty(1)
    for _ in range(3):
        frame = _camera_frame(rng, encoding, *src, padded)
        pre(frame, staged, encoding)
        pre(cp.asarray(frame), whole, encoding)
        cp.cuda.Device().synchronize()
        np.testing.assert_array_equal(cp.asnumpy(cp.asarray(staged)), cp.asnumpy(cp.asarray(whole)))
