"""The block-pool policy on the CPU (HostPool runs the same C++ policy as the GPU pools)."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trtpipe
from core_testing import core_testing
from memory_invariants import check_fully_coalesced, check_invariants
from trtpipe.errors import InputError, PoolExhaustedError
from trtpipe.memory import HostPool

KIB = 1024
MIB = 1024 * KIB


def test_exported_from_package():
    assert trtpipe.HostPool is HostPool
    assert trtpipe.DevicePool.__name__ == "DevicePool"
    assert trtpipe.PinnedPool.__name__ == "PinnedPool"


def test_blocks_are_aligned_rounded_and_best_fit():
    pool = HostPool(64 * KIB, fallback=False)
    a = pool.alloc(1)
    assert a.ptr % 256 == 0 and a.block_size == 256 and a.nbytes == 1
    b = pool.alloc(257)
    assert b.block_size == 512 and b.ptr == a.ptr + 256
    zero = pool.alloc(0)
    assert zero.block_size == 256
    check_invariants(pool, [a, b, zero])
    # Holes of 1 KiB and 3 KiB: a 1 KiB request takes the 1 KiB hole (best fit), not the first.
    big_hole = pool.alloc(3 * KIB)
    sep1 = pool.alloc(256)
    small_hole = pool.alloc(KIB)
    sep2 = pool.alloc(256)
    big_addr, small_addr = big_hole.ptr, small_hole.ptr
    big_hole.release()
    small_hole.release()
    again = pool.alloc(KIB)
    assert again.ptr == small_addr
    rest = pool.alloc(3 * KIB)
    assert rest.ptr == big_addr
    check_invariants(pool, [a, b, zero, sep1, sep2, again, rest])


def test_release_coalesces_with_both_neighbours():
    pool = HostPool(4 * KIB, fallback=False)
    bufs = [pool.alloc(KIB) for _ in range(4)]
    for i in (0, 2, 1, 3):
        bufs[i].release()
    check_invariants(pool, [])
    pool.reclaim()
    check_fully_coalesced(pool)
    whole = pool.alloc(4 * KIB)
    assert whole.ptr == pool.arenas()[0][0]


def test_exhausted_names_request_free_and_largest_block():
    pool = HostPool(4 * KIB, fallback=False)
    bufs = [pool.alloc(KIB) for _ in range(4)]
    bufs[0].release()
    bufs[2].release()
    with pytest.raises(PoolExhaustedError) as caught:
        pool.alloc(1536)
    err = caught.value
    assert (err.requested, err.free_bytes, err.largest_free_block) == (1536, 2 * KIB, KIB)
    assert "1536" in str(err) and isinstance(err, MemoryError)
    assert pool.stats().fallbacks == 0
    check_invariants(pool, [bufs[1], bufs[3]])


def test_fallback_is_counted_usable_and_freed():
    pool = HostPool(4 * KIB)
    inside = pool.alloc(4 * KIB)
    outside = pool.alloc(10 * KIB)
    assert outside.fallback and not inside.fallback
    view = np.asarray(outside)
    view[:] = 7
    assert int(view.sum()) == 7 * 10 * KIB
    stats = pool.stats()
    assert (stats.fallbacks, stats.live_fallbacks, stats.allocations) == (1, 1, 2)
    assert stats.fallback_bytes_in_use == 10 * KIB
    check_invariants(pool, [inside, outside])
    del view
    outside.release()
    assert pool.stats().live_fallbacks == 0 and pool.stats().fallback_bytes_in_use == 0
    with pytest.raises(InputError):
        outside.release()


def test_growth_adds_arenas_up_to_the_limit():
    pool = HostPool(MIB, max_bytes=4 * MIB, grow_bytes=MIB, fallback=False)
    bufs = [pool.alloc(MIB) for _ in range(2)]
    assert pool.stats().arenas == 2
    # Larger than grow_bytes: the new arena is as large as the request.
    bufs.append(pool.alloc(2 * MIB))
    assert pool.stats().arenas == 3 and pool.stats().capacity == 4 * MIB
    check_invariants(pool, bufs)
    with pytest.raises(PoolExhaustedError):
        pool.alloc(256)
    for buf in bufs:
        buf.release()
    pool.reclaim()
    check_fully_coalesced(pool)


def test_growth_from_empty_pool():
    pool = HostPool(0, max_bytes=MIB, grow_bytes=64 * KIB, fallback=False)
    assert pool.stats().capacity == 0
    buf = pool.alloc(1000)
    assert pool.stats().arenas == 1 and pool.stats().capacity == 64 * KIB
    check_invariants(pool, [buf])


def test_peak_and_reset_peak():
    pool = HostPool(MIB)
    a = pool.alloc(100 * KIB)
    b = pool.alloc(200 * KIB)
    a.release()
    assert pool.stats().peak_in_use == 300 * KIB
    pool.reset_peak()
    assert pool.stats().peak_in_use == 200 * KIB == pool.stats().in_use
    b.release()
    assert pool.stats().peak_in_use == 200 * KIB


def test_same_stream_reuses_at_once_other_streams_wait_for_the_fence():
    pool = HostPool(2 * KIB, fallback=False, deferred_fences=True)
    first = pool.alloc(2 * KIB, stream=1)
    address = first.ptr
    first.release()
    again = pool.alloc(2 * KIB, stream=1)
    assert again.ptr == address  # stream 1's queue orders the reuse: no fence needed
    again.release()
    # Stream 1's work may still read the block: stream 2 must not get it.
    with pytest.raises(PoolExhaustedError):
        pool.alloc(2 * KIB, stream=2)
    assert pool.stats().pending_bytes == 2 * KIB
    pool.complete_fences()  # stream 1 caught up
    other = pool.alloc(2 * KIB, stream=2)
    assert other.ptr == address
    check_invariants(pool, [other])


def test_pending_blocks_go_to_fallback_not_to_another_stream():
    pool = HostPool(2 * KIB, deferred_fences=True)
    first = pool.alloc(2 * KIB, stream=1)
    span = (first.ptr, first.ptr + first.block_size)
    first.release()
    other = pool.alloc(2 * KIB, stream=2)
    assert other.fallback
    assert other.ptr >= span[1] or other.ptr + other.block_size <= span[0]


@pytest.mark.parametrize("fallback", [True, False], ids=["fallback", "no-fallback"])
def test_own_cached_block_coalesces_with_free_neighbour_before_any_fallback(fallback):
    pool = HostPool(4 * KIB, fallback=fallback)
    half = pool.alloc(2 * KIB, stream=5)
    half.release()  # cached for stream 5, next to 2 KiB free for everyone
    whole = pool.alloc(4 * KIB, stream=5)
    assert not whole.fallback and whole.ptr == pool.arenas()[0][0]
    assert pool.stats().fallbacks == 0


def test_steady_same_size_reuse_takes_back_the_exact_block():
    pool = HostPool(MIB, fallback=False)
    pool.alloc(256, stream=1).release()  # a cached block next to where the next ones go
    first = pool.alloc(64 * KIB, stream=1)
    address = first.ptr
    first.release()  # would merge with the cached 256 B: kept whole instead
    table = pool.blocks()
    assert [(b.size, b.state) for b in table if b.address == address] == [(64 * KIB, "parked")]
    for _ in range(50):
        buf = pool.alloc(64 * KIB, stream=1)
        assert buf.ptr == address  # no split, no search elsewhere
        buf.release()
        assert pool.blocks() == table  # no block split or merged
    check_invariants(pool, [])
    pool.reclaim()
    check_fully_coalesced(pool)


def test_parked_blocks_coalesce_on_a_miss_without_any_fence():
    # Deferred fences never complete here: only the stream's own blocks can serve it.
    pool = HostPool(4 * KIB, fallback=False, deferred_fences=True)
    bufs = [pool.alloc(KIB, stream=3) for _ in range(4)]
    for buf in bufs:
        buf.release()
    assert sorted(b.state for b in pool.blocks()) == ["parked", "parked"] + ["stream_cached"] * 2
    check_invariants(pool, [])
    whole = pool.alloc(4 * KIB, stream=3)
    assert not whole.fallback and whole.ptr == pool.arenas()[0][0]
    assert pool.stats().fence_waits == 0
    check_invariants(pool, [whole])


def test_parked_blocks_per_stream_are_bounded():
    pool = HostPool(64 * KIB, fallback=False)
    bufs = [pool.alloc(KIB, stream=2) for _ in range(64)]
    for buf in bufs[0::2]:
        buf.release()  # neighbours in use: cached, not parked
    check_invariants(pool, bufs[1::2])
    odd = bufs[1::2]
    for i, buf in enumerate(odd):
        buf.release()  # each would merge: parked, until the bound coalesces them
        check_invariants(pool, odd[i + 1 :])
    assert any(b.state == "parked" for b in pool.blocks())
    assert len(pool.blocks()) < 64
    pool.reclaim()
    check_fully_coalesced(pool)


def test_immediate_fences_let_other_streams_reuse():
    pool = HostPool(2 * KIB, fallback=False)
    first = pool.alloc(2 * KIB, stream=1)
    address = first.ptr
    first.release()
    assert pool.alloc(2 * KIB, stream=2).ptr == address


def test_empty_gives_a_typed_writable_view():
    pool = HostPool(MIB)
    buf = pool.empty((3, 5), np.float32)
    arr = np.asarray(buf)
    assert arr.shape == (3, 5) and arr.dtype == np.float32 and arr.flags.c_contiguous
    arr[:] = np.arange(15, dtype=np.float32).reshape(3, 5)
    again = np.asarray(buf)
    assert again.ctypes.data == buf.ptr
    np.testing.assert_array_equal(again, np.arange(15, dtype=np.float32).reshape(3, 5))
    mv = memoryview(buf)
    assert mv.format == "f" and mv.shape == (3, 5) and not mv.readonly
    assert buf.device_ptr is None  # plain host memory is not mapped
    for dtype in (np.uint8, np.int64, np.float16, np.complex64, np.bool_):
        b = pool.empty(4, dtype)
        assert np.asarray(b).dtype == dtype and b.nbytes == 4 * np.dtype(dtype).itemsize


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda p: p.alloc(-1), "nbytes"),
        (lambda p: p.alloc("12"), "nbytes"),
        (lambda p: p.alloc(2**64), "nbytes"),
        (lambda p: p.empty((2, -1)), "shape[1]"),
        (lambda p: p.empty((2, 1.5)), "shape[1]"),
        (lambda p: p.empty(3, "U4"), "dtype"),
        (lambda p: p.empty(3, np.dtype(">f4")), "dtype"),
        (lambda p: p.empty(3, "not-a-dtype"), "dtype"),
        (lambda p: p.alloc(8, stream=-3), "stream"),
        (lambda p: p.alloc(8, stream="s"), "stream"),
        (lambda p: p.alloc(), "nbytes"),
        (lambda p: p.alloc(8, 1), "positional"),
        (lambda p: p.alloc(8, streams=1), "keyword argument stream"),
        (lambda p: p.alloc(8).release(1, 2), "positional"),
        (lambda p: p.alloc(8).release(1, stream=2), "stream given twice"),
        (lambda p: p.alloc(8).release(stream="s"), "stream"),
    ],
)
def test_bad_input_raises_input_error_naming_the_field(call, field):
    pool = HostPool(64 * KIB)
    with pytest.raises(InputError, match=field.replace("[", r"\[")):
        call(pool)


@pytest.mark.parametrize(
    "kwargs", [{"max_bytes": KIB}, {"max_bytes": -1}, {"grow_bytes": -5}], ids=str
)
def test_bad_pool_options_raise(kwargs):
    with pytest.raises(InputError):
        HostPool(4 * KIB, **kwargs)


def test_release_on_another_stream_caches_the_block_there():
    for release in (lambda b: b.release(7), lambda b: b.release(stream=7)):
        pool = HostPool(64 * KIB, deferred_fences=True, fallback=False)
        buf = pool.alloc(KIB, stream=1)
        address = buf.ptr
        release(buf)
        assert [(b.state, b.stream) for b in pool.blocks() if b.address == address] == [
            ("stream_cached", 7)
        ]
        assert pool.alloc(KIB, stream=7).ptr == address  # stream 7 reuses it at once


def test_use_after_release_and_double_release_raise():
    pool = HostPool(64 * KIB)
    buf = pool.empty(16, np.float32)
    buf.release()
    assert buf.released
    with pytest.raises(InputError, match="released"):
        buf.release()
    with pytest.raises(InputError):
        _ = buf.ptr
    with pytest.raises(InputError):
        np.asarray(buf)
    with pytest.raises(BufferError):
        memoryview(buf)
    assert pool.stats().releases == 1 and pool.stats().in_use == 0


def test_garbage_collection_releases_and_views_keep_buffers_alive():
    pool = HostPool(64 * KIB)
    view = np.asarray(pool.alloc(KIB))
    assert pool.stats().live_blocks == 1  # the view keeps its buffer
    del view
    assert pool.stats().live_blocks == 0
    assert pool.stats().releases == 1


def test_buffers_keep_their_pool_alive():
    buf = HostPool(64 * KIB).alloc(KIB)
    np.asarray(buf)[:] = 3  # the pool object is gone from Python; its memory must not be
    assert int(np.asarray(buf).sum()) == 3 * KIB
    buf.release()


# --- property-based: random alloc/release sequences keep every invariant -------------------

# Weighted: mostly allocations and releases; "complete" (all streams idle) is rare, or the
# stream-safety oracle would be reset before it could catch anything.
_KINDS = ["alloc"] * 5 + ["release"] * 4 + ["reclaim", "complete"]
_ops = st.lists(
    st.tuples(
        st.sampled_from(_KINDS),
        st.integers(0, 12 * KIB) | st.sampled_from([1, 255, 256, 257, 4096, 16 * KIB]),
        st.integers(0, 2),
        st.integers(0, 63),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=_ops,
    fallback=st.booleans(),
    deferred=st.booleans(),
    growth=st.booleans(),
)
def test_random_sequences_keep_invariants(ops, fallback, deferred, growth):
    pool = HostPool(
        16 * KIB,
        max_bytes=48 * KIB if growth else None,
        grow_bytes=8 * KIB,
        fallback=fallback,
        deferred_fences=deferred,
    )
    live: list = []
    # Ranges released on a stream whose "work" may still run: no other stream may get them.
    in_flight: dict[int, list[tuple[int, int]]] = {0: [], 1: [], 2: []}
    allocations = fallbacks = 0
    for op, value, stream, index in ops:
        if op == "alloc":
            try:
                buf = pool.alloc(value, stream=stream)
            except PoolExhaustedError as err:
                assert not fallback
                assert err.requested == value
                stats = pool.stats()
                assert err.free_bytes == stats.free_bytes
                assert err.largest_free_block == stats.largest_free_block
                continue
            allocations += 1
            fallbacks += buf.fallback
            start, end = buf.ptr, buf.ptr + buf.block_size
            if deferred and not buf.fallback:
                for other, spans in in_flight.items():
                    if other != stream:
                        assert all(end <= s or start >= e for s, e in spans), "unsafe reuse"
            np.asarray(buf)[:] = len(live) % 251  # the memory is really there
            live.append(buf)
        elif op == "release" and live:
            buf = live.pop(index % len(live))
            if not buf.fallback:
                in_flight[buf.stream].append((buf.ptr, buf.ptr + buf.block_size))
            buf.release()
        elif op == "complete":
            pool.complete_fences()
            in_flight = {0: [], 1: [], 2: []}
        elif op == "reclaim":
            pool.reclaim()
        check_invariants(pool, live)
    stats = pool.stats()
    assert (stats.allocations, stats.fallbacks) == (allocations, fallbacks)
    for buf in live:
        buf.release()
    live.clear()
    pool.reclaim()
    pool.complete_fences()
    pool.reclaim()
    check_invariants(pool, [])
    check_fully_coalesced(pool)
    assert pool.stats().releases == allocations


# --- threads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fallback", [True, False], ids=["fallback", "no-fallback"])
def test_concurrent_alloc_release_under_contention(fallback):
    pool = HostPool(512 * KIB, max_bytes=MIB, grow_bytes=256 * KIB, fallback=fallback)
    threads, rounds = 8, 400
    errors: list[BaseException] = []
    served = [0] * threads
    barrier = threading.Barrier(threads)

    def worker(index: int) -> None:
        rng = random.Random(index)
        held = []
        try:
            barrier.wait()
            for i in range(rounds):
                try:
                    buf = pool.alloc(rng.choice([256, 1000, 4 * KIB, 20 * KIB]), stream=index % 3)
                except PoolExhaustedError:
                    assert not fallback
                    continue
                stamp = (index * 31 + i) % 251
                np.asarray(buf)[:] = stamp
                held.append((buf, stamp))
                if len(held) > 4 or rng.random() < 0.5:
                    old, old_stamp = held.pop(rng.randrange(len(held)))
                    # Another thread writing into an overlapping block would show here.
                    assert np.all(np.asarray(old) == old_stamp)
                    old.release()
                served[index] += 1
            for old, old_stamp in held:
                assert np.all(np.asarray(old) == old_stamp)
                old.release()
        except BaseException as err:
            errors.append(err)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert not errors, errors[0]
    stats = pool.stats()
    assert stats.allocations == sum(served) > 0
    assert stats.releases == stats.allocations
    assert stats.live_blocks == 0 and stats.live_fallbacks == 0
    pool.reclaim()
    check_fully_coalesced(pool)


@pytest.mark.parametrize(
    ("fallback", "max_bytes"),
    [(True, None), (False, None), (False, 2 * MIB)],
    ids=["fallback", "no-fallback", "growth"],
)
def test_native_threads_hammering_one_pool(fallback, max_bytes):
    pool = HostPool(MIB, max_bytes=max_bytes, grow_bytes=256 * KIB, fallback=fallback)
    threads, iterations = 8, 3000
    report = core_testing().stress_pool(
        pool, threads, iterations, 48 * KIB, seed=7, write_patterns=True
    )
    assert report["overlaps"] == 0 and report["corrupted"] == 0
    assert report["allocations"] + report["exhausted"] == threads * iterations
    assert report["allocations"] > threads * iterations // 2
    if fallback:
        assert report["exhausted"] == 0
    stats = pool.stats()
    assert stats.allocations == stats.releases == report["allocations"]
    assert stats.live_blocks == 0 and stats.live_fallbacks == 0
    pool.reclaim()
    check_fully_coalesced(pool)
