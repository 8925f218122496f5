"""Allocate+release pairs through trtpipe's pools and the peers (pytest-benchmark).

python -m pytest bench/test_bench_pool.py --benchmark-only       # per-size timings
python -m pytest bench/test_bench_pool.py -k report               # full comparison table
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench import pool as pool_bench
from trtpipe.memory import HostPool

SIZES = pool_bench.SIZES
IDS = [pool_bench.size_label(s).replace(" ", "") for s in SIZES]
GPU_REASON = pool_bench.gpu_unusable_reason()
needs_gpu = pytest.mark.skipif(GPU_REASON is not None, reason=GPU_REASON or "")


@pytest.mark.parametrize("nbytes", SIZES, ids=IDS)
def test_host_pool_pair(benchmark, nbytes):
    pool = HostPool(pool_bench.POOL_BYTES, fallback=False)
    benchmark(lambda: pool.alloc(nbytes).release())
    assert pool.stats().live_blocks == 0 and pool.stats().fallbacks == 0


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("nbytes", SIZES, ids=IDS)
def test_device_pool_pair(benchmark, nbytes):
    from trtpipe import DevicePool

    pool = DevicePool(pool_bench.POOL_BYTES, fallback=False)
    benchmark(lambda: pool.alloc(nbytes).release())
    assert pool.stats().live_blocks == 0 and pool.stats().fallbacks == 0


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("nbytes", SIZES, ids=IDS)
def test_torch_empty_pair(benchmark, nbytes):
    torch = pytest.importorskip("torch")
    benchmark(lambda: torch.empty(nbytes, dtype=torch.uint8, device="cuda"))


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("nbytes", SIZES, ids=IDS)
def test_cupy_memory_pool_pair(benchmark, nbytes):
    cupy = pytest.importorskip("cupy")
    memory_pool = cupy.cuda.MemoryPool()
    benchmark(lambda: memory_pool.malloc(nbytes))


@pytest.mark.gpu
@needs_gpu
def test_report():
    """Every peer in one process; writes pool.md/.json/.png to $TRTPIPE_BENCH_OUT."""
    series = pool_bench.collect(quick=os.environ.get("TRTPIPE_BENCH_QUICK") == "1")
    out = Path(os.environ.get("TRTPIPE_BENCH_OUT", "bench/results"))
    path = pool_bench.write_report(series, out, pool_bench.skipped_peers_note(series))
    assert path.exists() and (out / "pool.json").exists()
    cases = {s.case for s in series}
    assert len(cases) == 4 * len(SIZES)  # host memory and GPU, each from C++ and from Python
    assert all(s.median > 0 for s in series)


def test_host_report(tmp_path):
    """The host-memory comparison runs without a GPU: HostPool next to the C library and NumPy."""
    series = pool_bench.collect(quick=True, host_only=True)
    path = pool_bench.write_report(series, tmp_path, "")
    assert path.exists() and (tmp_path / "pool.json").exists()
    by_case: dict[str, set[str]] = {}
    for s in series:
        by_case.setdefault(s.case, set()).add(s.impl)
        assert len(s.samples_us) == 200 and s.median > 0
    labels = [pool_bench.size_label(n) for n in SIZES]
    assert by_case == {
        **{
            f"alloc+release {x} (C++, host memory)": {"trtpipe", "aligned_alloc/free"}
            for x in labels
        },
        **{
            f"alloc+release {x} (Python, host memory)": {
                "trtpipe",
                "trtpipe (released by GC)",
                "numpy.empty",
            }
            for x in labels
        },
    }
    assert "| trtpipe |" in path.read_text()
