"""DevicePool and PinnedPool on a GPU: memory, streams, threads, fallback and zero-copy views.

The tests touch GPU memory through PyTorch and CuPy (imported inside each test, skipped when
absent), so _core needs no kernels of its own for them.
"""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

from core_testing import core_testing
from memory_invariants import check_fully_coalesced, check_invariants
from trtpipe import _core
from trtpipe.errors import InputError, NoGpuError, PoolExhaustedError
from trtpipe.memory import DevicePool, PinnedPool

KIB = 1024
MIB = 1024 * KIB


def _gpu_usable() -> bool:
    return bool(_core.build_info()["with_cuda"] and _core.query_devices()["gpus"])


@pytest.mark.skipif(_gpu_usable(), reason="checks the behaviour without a usable GPU")
@pytest.mark.parametrize("pool_class", [DevicePool, PinnedPool])
def test_gpu_pools_without_a_gpu_raise_no_gpu_error(pool_class):
    with pytest.raises(NoGpuError):
        pool_class(MIB)


def _torch():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch sees no CUDA device")
    return torch


def _cupy():
    return pytest.importorskip("cupy")


@pytest.mark.gpu
def test_device_pool_blocks_stats_and_coalescing():
    pool = DevicePool(4 * MIB, fallback=False)
    bufs = [pool.alloc(size) for size in (1, 300, 64 * KIB, MIB, 5000)]
    check_invariants(pool, bufs)
    for buf in bufs[::2] + bufs[1::2]:
        buf.release()
    pool.reclaim()
    check_fully_coalesced(pool)


@pytest.mark.gpu
def test_torch_wraps_a_device_buffer_without_copy():
    torch = _torch()
    pool = DevicePool(8 * MIB)
    buf = pool.empty((64, 33), np.float32)
    tensor = torch.as_tensor(buf, device="cuda")
    assert tensor.data_ptr() == buf.ptr and tuple(tensor.shape) == (64, 33)
    assert tensor.dtype == torch.float32
    expected = torch.arange(64 * 33, dtype=torch.float32, device="cuda").reshape(64, 33)
    tensor.copy_(expected)
    # A second, independent view of the same pool memory sees the write.
    again = torch.from_dlpack(buf)
    assert again.data_ptr() == buf.ptr
    torch.cuda.synchronize()
    assert torch.equal(again, expected)


@pytest.mark.gpu
def test_dlpack_view_keeps_its_buffer_alive():
    torch = _torch()
    pool = DevicePool(MIB)
    tensor = torch.from_dlpack(pool.empty(1000, np.int32))
    gc.collect()
    assert pool.stats().live_blocks == 1
    tensor.fill_(3)
    assert int(tensor.sum()) == 3000
    del tensor
    gc.collect()
    assert pool.stats().live_blocks == 0


@pytest.mark.gpu
def test_cupy_wraps_a_device_buffer_without_copy():
    cp = _cupy()
    pool = DevicePool(8 * MIB)
    buf = pool.empty((16, 8), np.float16)
    view = cp.asarray(buf)
    assert view.data.ptr == buf.ptr and view.shape == (16, 8) and view.dtype == np.float16
    view[:] = cp.arange(128, dtype=cp.float16).reshape(16, 8)
    other = cp.from_dlpack(buf)
    assert other.data.ptr == buf.ptr
    np.testing.assert_array_equal(
        cp.asnumpy(other), np.arange(128, dtype=np.float16).reshape(16, 8)
    )


@pytest.mark.gpu
def test_pinned_buffer_is_host_memory_kernels_read_and_write_in_place():
    cp = _cupy()
    pool = PinnedPool(4 * MIB)
    buf = pool.empty(4096, np.float32)
    host = np.asarray(buf)
    assert host.ctypes.data == buf.ptr and buf.device_ptr is not None
    host[:] = np.arange(4096, dtype=np.float32)
    memory = cp.cuda.UnownedMemory(buf.device_ptr, buf.nbytes, buf, 0)
    device_view = cp.ndarray((4096,), cp.float32, cp.cuda.MemoryPointer(memory, 0))
    assert float(device_view.sum()) == float(np.arange(4096, dtype=np.float64).sum())
    device_view *= 2  # a kernel writing mapped host memory
    cp.cuda.runtime.deviceSynchronize()
    np.testing.assert_array_equal(host, 2 * np.arange(4096, dtype=np.float32))
    check_invariants(pool, [buf])


@pytest.mark.gpu
def test_cross_stream_reuse_does_not_corrupt_data_still_being_read():
    torch = _torch()
    if not hasattr(torch.cuda, "_sleep"):
        pytest.skip("torch.cuda._sleep is unavailable")
    n = 2 * MIB  # float32 elements: 8 MiB, the whole pool
    pool = DevicePool(4 * n, fallback=False)
    stream_a, stream_b = torch.cuda.Stream(), torch.cuda.Stream()

    first = pool.empty(n, np.float32, stream=stream_a)
    address = first.ptr
    with torch.cuda.stream(stream_a):
        source = torch.as_tensor(first, device="cuda")
        source.fill_(1.0)
        torch.cuda._sleep(300_000_000)  # keeps stream A busy for a good fraction of a second
        copy = source.clone()  # reads the block after the sleep
    del source
    first.release()  # stream A's clone has not run yet

    # The pool holds nothing else: it must wait for stream A before stream B gets the block.
    second = pool.empty(n, np.float32, stream=stream_b)
    with torch.cuda.stream(stream_b):
        torch.as_tensor(second, device="cuda").fill_(-5.0)
    torch.cuda.synchronize()
    assert second.ptr == address
    assert pool.stats().fence_waits == 1
    assert bool(torch.all(copy == 1.0)), "stream B overwrote a block stream A was still reading"


@pytest.mark.gpu
def test_cross_stream_with_fallback_takes_fresh_memory_instead_of_waiting():
    torch = _torch()
    if not hasattr(torch.cuda, "_sleep"):
        pytest.skip("torch.cuda._sleep is unavailable")
    n = MIB
    pool = DevicePool(4 * n, fallback=True)
    stream_a, stream_b = torch.cuda.Stream(), torch.cuda.Stream()
    first = pool.empty(n, np.float32, stream=stream_a)
    with torch.cuda.stream(stream_a):
        source = torch.as_tensor(first, device="cuda")
        source.fill_(2.0)
        torch.cuda._sleep(300_000_000)
        copy = source.clone()
    del source
    span = (first.ptr, first.ptr + first.block_size)
    first.release()
    second = pool.empty(n, np.float32, stream=stream_b)
    assert second.fallback and pool.stats().fence_waits == 0
    assert second.ptr >= span[1] or second.ptr + second.block_size <= span[0]
    with torch.cuda.stream(stream_b):
        torch.as_tensor(second, device="cuda").fill_(-1.0)
    torch.cuda.synchronize()
    assert bool(torch.all(copy == 2.0))


@pytest.mark.gpu
def test_same_stream_reuse_is_immediate_even_while_the_stream_is_busy():
    torch = _torch()
    if not hasattr(torch.cuda, "_sleep"):
        pytest.skip("torch.cuda._sleep is unavailable")
    pool = DevicePool(MIB, fallback=False)
    stream = torch.cuda.Stream()
    first = pool.alloc(MIB, stream=stream)
    address = first.ptr
    with torch.cuda.stream(stream):
        torch.cuda._sleep(50_000_000)
    first.release()
    again = pool.alloc(MIB, stream=stream)
    assert again.ptr == address and pool.stats().fence_waits == 0
    torch.cuda.synchronize()


@pytest.mark.gpu
@pytest.mark.parametrize("pool_class", [DevicePool, PinnedPool])
def test_fallback_is_counted_and_exhaustion_raises(pool_class):
    pool = pool_class(MIB)
    inside = pool.alloc(MIB)
    outside = pool.alloc(3 * MIB)
    assert outside.fallback and pool.stats().fallbacks == 1
    assert pool.stats().fallback_bytes_in_use == 3 * MIB
    check_invariants(pool, [inside, outside])
    outside.release()
    assert pool.stats().live_fallbacks == 0

    strict = pool_class(MIB, fallback=False)
    held = strict.alloc(768 * KIB)
    with pytest.raises(PoolExhaustedError) as caught:
        strict.alloc(512 * KIB)
    assert caught.value.requested == 512 * KIB
    assert caught.value.free_bytes == caught.value.largest_free_block == 256 * KIB
    held.release()


@pytest.mark.gpu
def test_fallback_memory_is_real_device_memory():
    torch = _torch()
    pool = DevicePool(MIB)
    held = pool.alloc(MIB)  # keeps the whole pool busy, so the next request falls back
    extra = pool.empty(1024, np.float64)
    assert extra.fallback and not held.fallback
    tensor = torch.as_tensor(extra, device="cuda")
    tensor.fill_(0.5)
    assert float(tensor.sum()) == 512.0
    assert not held.fallback


@pytest.mark.gpu
def test_device_pool_grows_by_arenas():
    pool = DevicePool(MIB, max_bytes=3 * MIB, fallback=False)
    bufs = [pool.alloc(MIB) for _ in range(3)]
    assert pool.stats().arenas == 3
    with pytest.raises(PoolExhaustedError):
        pool.alloc(MIB)
    check_invariants(pool, bufs)


@pytest.mark.gpu
def test_threads_on_their_own_streams_never_share_live_memory():
    torch = _torch()
    pool = DevicePool(8 * MIB, max_bytes=16 * MIB, grow_bytes=4 * MIB)
    threads, rounds = 6, 150
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            stream = torch.cuda.Stream()
            rng = np.random.default_rng(index)
            with torch.cuda.stream(stream):
                for i in range(rounds):
                    elements = int(rng.integers(64, 64 * KIB))
                    buf = pool.empty(elements, np.float32, stream=stream)
                    tensor = torch.as_tensor(buf, device="cuda")
                    value = float(index * 1000 + i)
                    tensor.fill_(value)
                    torch.cuda._sleep(int(rng.integers(0, 20_000)))
                    ok = bool(torch.all(tensor == value))  # synchronises the stream
                    assert ok, f"thread {index} round {i}: block overwritten while live"
                    del tensor
                    buf.release()
        except BaseException as err:
            errors.append(err)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert not errors, errors[0]
    torch.cuda.synchronize()
    stats = pool.stats()
    assert stats.allocations == stats.releases == threads * rounds
    pool.reclaim()
    check_invariants(pool, [])


@pytest.mark.gpu
def test_released_device_buffer_refuses_every_export():
    pool = DevicePool(MIB)
    buf = pool.alloc(KIB)
    buf.release()
    with pytest.raises(InputError):
        buf.release()
    with pytest.raises(InputError):
        _ = buf.__cuda_array_interface__
    with pytest.raises(InputError):
        buf.__dlpack__()
    assert buf.__dlpack_device__() == (2, 0)


@pytest.mark.gpu
def test_cuda_array_interface_describes_the_buffer():
    pool = DevicePool(MIB)
    buf = pool.empty((3, 4), np.int16)
    cai = buf.__cuda_array_interface__
    assert cai["version"] == 3 and cai["shape"] == (3, 4) and cai["typestr"] == "<i2"
    assert cai["data"] == (buf.ptr, False) and cai["strides"] is None
    assert cai["stream"] == 1  # allocated on the default stream


@pytest.mark.gpu
@pytest.mark.parametrize("pool_class", [DevicePool, PinnedPool])
def test_native_threads_hammering_a_gpu_pool(pool_class):
    pool = pool_class(4 * MIB, max_bytes=8 * MIB, grow_bytes=2 * MIB)
    threads, iterations = 8, 2000
    report = core_testing().stress_pool(
        pool, threads, iterations, 64 * KIB, seed=3, write_patterns=pool_class is PinnedPool
    )
    assert report["overlaps"] == 0 and report["corrupted"] == 0
    assert report["allocations"] == threads * iterations and report["exhausted"] == 0
    stats = pool.stats()
    assert stats.allocations == stats.releases == threads * iterations
    pool.reclaim()
    check_invariants(pool, [])
