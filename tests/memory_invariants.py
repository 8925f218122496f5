"""Checks a pool's block table and statistics against what the test itself handed out."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from trtpipe.memory import BlockInfo, PoolStats

ALIGNMENT = 256
MAX_PARKED_PER_STREAM = 16  # kParkedPerStream in csrc/memory/block_policy.hpp


def check_invariants(pool, live: Iterable) -> None:
    """`live` holds every buffer the test holds and has not released."""
    live = list(live)
    blocks: list[BlockInfo] = pool.blocks()
    arenas = pool.arenas()
    stats: PoolStats = pool.stats()

    # Buffers: aligned, big enough, pairwise disjoint.
    spans = []
    for buf in live:
        assert buf.ptr % ALIGNMENT == 0, hex(buf.ptr)
        assert buf.block_size % ALIGNMENT == 0 and buf.block_size >= max(buf.nbytes, 1)
        spans.append((buf.ptr, buf.ptr + buf.block_size, buf.fallback))
    spans.sort()
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        assert end <= start, "two live buffers overlap"

    # Blocks tile each arena exactly, in address order, without gaps.
    by_arena: dict[int, list[BlockInfo]] = {}
    for block in blocks:
        by_arena.setdefault(block.arena, []).append(block)
    assert sorted(by_arena) == list(range(len(arenas)))
    for index, (base, size) in enumerate(arenas):
        run = by_arena[index]
        assert run[0].address == base
        for a, b in itertools.pairwise(run):
            assert a.address + a.size == b.address
            # Coalescing: no two neighbours both free to the same set of streams (parked blocks
            # are kept whole for exact reuse on their stream and coalesce on demand).
            if a.state == b.state == "free":
                raise AssertionError(f"uncoalesced free neighbours at {a.address:#x}")
            if a.state == b.state == "stream_cached" and a.stream == b.stream:
                raise AssertionError(f"uncoalesced cached neighbours at {a.address:#x}")
        assert run[-1].address + run[-1].size == base + size
        assert all(b.address % ALIGNMENT == 0 and b.size % ALIGNMENT == 0 for b in run)

    # The used blocks are exactly the live pool buffers.
    used = sorted((b.address, b.size) for b in blocks if b.state == "used")
    pooled = sorted((buf.ptr, buf.block_size) for buf in live if not buf.fallback)
    assert used == pooled

    free = [b for b in blocks if b.state != "used"]
    assert stats.capacity == sum(size for _, size in arenas)
    assert stats.arenas == len(arenas)
    assert stats.in_use == sum(size for _, size in used)
    assert stats.free_bytes == stats.capacity - stats.in_use == sum(b.size for b in free)
    assert stats.largest_free_block == max((b.size for b in free), default=0)
    assert stats.stream_cached_bytes == sum(
        b.size for b in free if b.state in ("stream_cached", "parked")
    )
    parked_per_stream: dict[int, int] = {}
    for b in free:
        if b.state == "parked":
            parked_per_stream[b.stream] = parked_per_stream.get(b.stream, 0) + 1
    assert all(count <= MAX_PARKED_PER_STREAM for count in parked_per_stream.values())
    assert stats.pending_bytes == sum(b.size for b in free if b.state == "pending")
    assert stats.live_blocks == len(used)
    assert stats.free_blocks == len(free)
    fallbacks = [buf for buf in live if buf.fallback]
    assert stats.live_fallbacks == len(fallbacks)
    assert stats.fallback_bytes_in_use == sum(buf.block_size for buf in fallbacks)
    assert stats.peak_in_use >= stats.in_use
    expected_fragmentation = (
        0.0 if stats.free_bytes == 0 else 1 - stats.largest_free_block / stats.free_bytes
    )
    assert abs(stats.fragmentation - expected_fragmentation) < 1e-12


def check_fully_coalesced(pool) -> None:
    """Everything released and reclaimed: each arena is one free block again."""
    blocks = pool.blocks()
    arenas = pool.arenas()
    assert [(b.address, b.size, b.state) for b in blocks] == [
        (base, size, "free") for base, size in sorted(arenas)
    ]
    stats = pool.stats()
    largest = max(size for _, size in arenas)
    assert stats.in_use == 0 and stats.largest_free_block == largest
    # Separate arenas never merge, so only a single-arena pool reaches zero fragmentation.
    assert abs(stats.fragmentation - (1 - largest / stats.capacity)) < 1e-12
