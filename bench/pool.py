"""Allocate+release pairs: trtpipe's DevicePool against every allocator a user could pick instead.

Sizes 256 B, 64 KiB, 1 MiB, 16 MiB, 64 MiB. From C++ (a loop inside _core, steady_clock per pair):
trtpipe, cudaMalloc/cudaFree, cudaMallocAsync/cudaFreeAsync (the device's default memory pool).
From Python (perf_counter_ns per pair): trtpipe, the same two CUDA runtime pairs through CuPy,
CuPy's MemoryPool, PyTorch's caching allocator (torch.empty) and RAPIDS RMM's pool resource;
a peer that does not import here is listed with the reason instead. Every peer is imported and
set up before the first pair is timed, so all of them run in the same process state; trtpipe is
also timed once before any peer is imported, to show what importing them costs it. Targets:
≤ 0.5 µs median from C++, ≤ 2 µs from Python, faster than every peer at every size.

Without a GPU (and with one, too) the same pairs run over host memory: trtpipe's HostPool (the
policy every pool runs) against aligned_alloc/free from C++ and numpy.empty from Python.

    python -m bench.pool [--quick] [--out DIR]   # DIR: $TRTPIPE_BENCH_OUT, else bench/results
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench import report
from bench.report import Series

log = logging.getLogger("bench.pool")

KIB = 1024
MIB = 1024 * KIB
SIZES = (256, 64 * KIB, MIB, 16 * MIB, 64 * MIB)
POOL_BYTES = 256 * MIB


def size_label(nbytes: int) -> str:
    for unit, scale in (("MiB", MIB), ("KiB", KIB)):
        if nbytes >= scale and nbytes % scale == 0:
            return f"{nbytes // scale} {unit}"
    return f"{nbytes} B"


def gpu_unusable_reason() -> str | None:
    from trtpipe import _core

    if not _core.build_info()["with_cuda"]:
        return "trtpipe._core was built without CUDA"
    devices = _core.query_devices()
    if not devices["gpus"]:
        return f"no usable GPU: {devices['reason']}"
    return None


def time_pairs(pair: Callable[[], object], iterations: int, warmup: int) -> np.ndarray:
    """Microseconds per call of `pair` (one allocate+release), one sample per call."""
    clock = time.perf_counter_ns
    for _ in range(warmup):
        pair()
    samples = np.empty(iterations)
    for i in range(iterations):
        start = clock()
        pair()
        samples[i] = clock() - start
    return samples / 1e3


def host_series(iterations: int, warmup: int) -> list[Series]:
    """HostPool against the C library (from C++) and numpy.empty (from Python); needs no GPU."""
    from trtpipe import HostPool, _core_testing

    out = []
    for impl, nbytes, ns in _core_testing.host_memory_bench(list(SIZES), iterations, warmup):
        case = f"alloc+release {size_label(nbytes)} (C++, host memory)"
        out.append(Series(case, impl, np.asarray(ns) / 1e3))
    pool = HostPool(POOL_BYTES, fallback=False)
    for nbytes in SIZES:
        case = f"alloc+release {size_label(nbytes)} (Python, host memory)"

        def trtpipe_pair(nbytes: int = nbytes) -> None:
            pool.alloc(nbytes).release()

        def trtpipe_gc(nbytes: int = nbytes) -> None:
            pool.alloc(nbytes)

        def numpy_empty(nbytes: int = nbytes) -> None:
            np.empty(nbytes, dtype=np.uint8)

        out.append(Series(case, "trtpipe", time_pairs(trtpipe_pair, iterations, warmup)))
        out.append(
            Series(
                case,
                "trtpipe (released by GC)",
                time_pairs(trtpipe_gc, iterations, warmup),
                note="no explicit release()",
            )
        )
        out.append(Series(case, "numpy.empty", time_pairs(numpy_empty, iterations, warmup)))
    stats = pool.stats()
    if stats.fallbacks or stats.live_blocks:
        raise AssertionError(f"the host benchmark pool fell back or leaked: {stats}")
    return out


def cpp_series(iterations: int, warmup: int) -> list[Series]:
    from trtpipe import _core_testing

    out = []
    for impl, nbytes, ns in _core_testing.memory_bench(list(SIZES), iterations, warmup):
        out.append(Series(f"alloc+release {size_label(nbytes)} (C++)", impl, np.asarray(ns) / 1e3))
    return out


def _python_peers(nbytes: int) -> list[tuple[str, Callable[[], object] | None, str]]:
    """(name, pair, note): pair is None when the peer is unavailable, and note says why."""
    peers: list[tuple[str, Callable[[], object] | None, str]] = []
    try:
        import cupy

        runtime = cupy.cuda.runtime
        cupy_pool = cupy.cuda.MemoryPool()

        def cupy_memory_pool() -> None:
            cupy_pool.malloc(nbytes)  # freed back to the pool when the pointer dies

        peers += [
            ("cudaMalloc/cudaFree", lambda: runtime.free(runtime.malloc(nbytes)), "via CuPy"),
            (
                "cudaMallocAsync/cudaFreeAsync",
                lambda: runtime.freeAsync(runtime.mallocAsync(nbytes, 0), 0),
                "via CuPy, default memory pool",
            ),
            ("CuPy MemoryPool", cupy_memory_pool, ""),
        ]
    except Exception as exc:
        peers.append(("CuPy MemoryPool", None, f"skipped: {exc}"))
    try:
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError("PyTorch sees no CUDA device")
        device = torch.device("cuda")

        def torch_empty() -> None:
            torch.empty(nbytes, dtype=torch.uint8, device=device)

        peers.append(("torch.empty (caching allocator)", torch_empty, ""))
    except Exception as exc:
        peers.append(("torch.empty (caching allocator)", None, f"skipped: {exc}"))
    try:
        import rmm

        upstream = rmm.mr.CudaMemoryResource()
        rmm_pool = rmm.mr.PoolMemoryResource(
            upstream, initial_pool_size=POOL_BYTES, maximum_pool_size=POOL_BYTES
        )

        def rmm_pair() -> None:
            rmm_pool.deallocate(rmm_pool.allocate(nbytes), nbytes)

        def rmm_buffer() -> None:
            rmm.DeviceBuffer(size=nbytes, mr=rmm_pool)  # an owning object, like trtpipe's

        peers.append(("RMM PoolMemoryResource", rmm_pair, "allocate/deallocate, raw pointer"))
        try:
            rmm_buffer()
            peers.append(("RMM DeviceBuffer (pool)", rmm_buffer, "owning object"))
        except TypeError as exc:
            peers.append(("RMM DeviceBuffer (pool)", None, f"skipped: {exc}"))
    except Exception as exc:
        peers.append(("RMM PoolMemoryResource", None, f"skipped: {exc}"))
    return peers


def python_series(iterations: int, warmup: int) -> tuple[list[Series], list[str]]:
    from trtpipe import DevicePool

    pool = DevicePool(POOL_BYTES, fallback=False)
    series: list[Series] = []
    skipped: list[str] = []

    def trtpipe_pair(nbytes: int) -> Callable[[], None]:
        return lambda: pool.alloc(nbytes).release()

    def trtpipe_gc(nbytes: int) -> Callable[[], None]:
        return lambda: pool.alloc(nbytes)  # released when the buffer object dies

    before = {n: time_pairs(trtpipe_pair(n), iterations, warmup) for n in SIZES}
    peers = {n: _python_peers(n) for n in SIZES}
    for nbytes in SIZES:
        case = f"alloc+release {size_label(nbytes)} (Python)"
        series.append(Series(case, "trtpipe", time_pairs(trtpipe_pair(nbytes), iterations, warmup)))
        series.append(
            Series(
                case,
                "trtpipe (before peers imported)",
                before[nbytes],
                note="timed before CuPy, PyTorch and RMM were imported",
            )
        )
        series.append(
            Series(
                case,
                "trtpipe (released by GC)",
                time_pairs(trtpipe_gc(nbytes), iterations, warmup),
                note="no explicit release()",
            )
        )
        for name, pair, note in peers[nbytes]:
            if pair is None:
                if nbytes == SIZES[0]:
                    skipped.append(f"{name}: {note}")
                continue
            series.append(Series(case, name, time_pairs(pair, iterations, warmup), note=note))
    stats = pool.stats()
    if stats.fallbacks or stats.live_blocks:
        raise AssertionError(f"the benchmark pool fell back or leaked: {stats}")
    return series, skipped


def collect(quick: bool = False, host_only: bool = False) -> list[Series]:
    """Host-memory series always; the GPU series where a GPU is usable (and not host_only)."""
    iterations, warmup = (200, 20) if quick else (2000, 200)
    host = host_series(iterations, warmup)
    reason = "host_only" if host_only else gpu_unusable_reason()
    if reason:
        log.info("GPU series skipped: %s", reason)
        return host
    series = host + cpp_series(iterations, warmup)
    python, skipped = python_series(iterations, warmup)
    for line in skipped:
        log.warning("peer %s", line)
    return series + python


def skipped_peers_note(series: list[Series]) -> str:
    if not any(s.case.endswith("(Python)") for s in series):
        return ""  # no GPU series: the GPU peers were not wanted
    present = {s.impl for s in series}
    wanted = ("CuPy MemoryPool", "torch.empty (caching allocator)", "RMM PoolMemoryResource")
    missing = [name for name in wanted if name not in present]
    return f"Peers not measured (not importable here): {', '.join(missing)}" if missing else ""


def write_report(series: list[Series], out_dir: Path, header: str) -> Path:
    """pool.md, pool.json and (with matplotlib) pool.png in out_dir; returns pool.md."""
    try:
        return report.write(series, out_dir, "pool", header=header)
    except ImportError as exc:  # the table and JSON are written before the plot
        log.warning("no plot: %s", exc)
        return out_dir / "pool.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pool", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    parser.add_argument("--host-only", action="store_true", help="host-memory pairs only")
    parser.add_argument(
        "--out", type=Path, default=Path(os.environ.get("TRTPIPE_BENCH_OUT", "bench/results"))
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    series = collect(quick=args.quick, host_only=args.host_only)
    header = "# Memory pool: allocate+release pairs (median / p99 µs; ratio = peer / trtpipe)"
    note = skipped_peers_note(series)
    path = write_report(series, args.out, header + (f"\n\n{note}" if note else ""))
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
