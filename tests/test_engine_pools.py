"""The engine loop's memory: every buffer is a block of a pool, taken once, and frames take none.

The expected sizes are worked out here from the test model's IO table and profile (each buffer
rounded to the pools' 256-byte blocks), independently of how the runner sizes its pools.
"""

from __future__ import annotations

import gc
import itertools

import numpy as np
import pytest

import trtpipe
from core_testing import core_testing
from trtpipe import _core
from trtpipe.errors import InputError, PoolExhaustedError

gpu = pytest.mark.gpu

CHANNELS = 4
MAX_BATCH = 8
BLOCK = 256
TENSORS_PER_SLOT = 3  # input, scaled, row_sum
COUNTS = ("allocations", "releases", "in_use", "live_blocks", "fallbacks", "capacity", "arenas")


def block_bytes(nbytes: int) -> int:
    return max(1, -(-nbytes // BLOCK)) * BLOCK


def binding_bytes(slots: int) -> int:
    """Bytes of one kind (device or pinned) the runner holds: one buffer per tensor per slot."""
    scaled = MAX_BATCH * CHANNELS * 4  # float32 (batch, channels), as is the input
    row_sum = MAX_BATCH * 4
    return slots * (2 * block_bytes(scaled) + block_bytes(row_sum))


def oracle(x: np.ndarray) -> dict[str, np.ndarray]:
    scaled = x * np.float32(2.0) + np.float32(1.0)
    return {"scaled": scaled, "row_sum": scaled.sum(axis=1, dtype=np.float32)}


def check(outputs: dict[str, np.ndarray], x: np.ndarray) -> None:
    want = oracle(x)
    assert set(outputs) == set(want)
    for name, value in want.items():
        assert outputs[name].shape == value.shape, name
        np.testing.assert_allclose(outputs[name], value, rtol=1e-6, atol=1e-5, err_msg=name)


def frame(batch: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, CHANNELS)).astype(np.float32)


def model():
    return core_testing().ScaleModel(channels=CHANNELS, profiles=[(1, 2, MAX_BATCH)])


def counts(stats: dict | trtpipe.PoolStats) -> dict:
    """The counters that any allocation or release would change."""
    if isinstance(stats, trtpipe.PoolStats):
        return {key: getattr(stats, key) for key in COUNTS}
    return {key: stats[key] for key in COUNTS}


def run_frames(runner, frames: int) -> None:
    """Frames in runs of five per batch size: a plain enqueue, a capture, then replays, and a
    batch change (new shapes, a new graph) every five frames."""
    for step in range(frames):
        batch = (2, MAX_BATCH, 5, 1)[(step // 5) % 4]
        x = frame(batch, seed=step)
        check(runner.result(runner.submit({"input": x}), 5000), x)


@gpu
def test_runner_made_pools_hold_exactly_the_bindings():
    r = _core.engine.EngineRunner(model(), slots=2)
    stats = r.stats()
    for kind in ("device_pool", "pinned_pool"):
        pool = stats[kind]
        assert pool["capacity"] == binding_bytes(2), kind
        assert pool["in_use"] == pool["capacity"], kind
        assert pool["allocations"] == pool["live_blocks"] == 2 * TENSORS_PER_SLOT, kind
        assert pool["fallbacks"] == 0, kind
        assert pool["arenas"] == 1, kind
    assert trtpipe.PoolStats(**stats["device_pool"]).capacity == binding_bytes(2)


@gpu
@pytest.mark.parametrize("cuda_graphs", [True, False])
def test_a_hundred_frames_allocate_nothing(cuda_graphs):
    r = _core.engine.EngineRunner(model(), slots=2, cuda_graphs=cuda_graphs)
    run_frames(r, 5)  # warm-up
    before = {kind: counts(r.stats()[kind]) for kind in ("device_pool", "pinned_pool")}
    shape_sets = r.stats()["shape_sets"]
    run_frames(r, 100)
    stats = r.stats()
    for kind, counted in before.items():
        assert counts(stats[kind]) == counted, kind
        assert counted["allocations"] == 2 * TENSORS_PER_SLOT, kind
        assert counted["releases"] == 0, kind
    assert stats["shape_sets"] > shape_sets  # the batch did change
    assert stats["completed"] == 105
    if cuda_graphs:
        assert stats["graph_captures"] > 0 and stats["graph_replays"] > 0
        assert stats["plain_enqueues"] > 0
    else:
        assert stats["plain_enqueues"] == 105


@gpu
def test_device_inputs_and_pre_steps_allocate_nothing_per_frame():
    cupy = pytest.importorskip("cupy")
    r = _core.engine.EngineRunner(model(), slots=2, cuda_graphs=True)
    x = frame(MAX_BATCH, seed=1)
    on_gpu = cupy.asarray(x)
    check(r.result(r.submit({"input": on_gpu}), 5000), x)
    before = counts(r.stats()["device_pool"])
    for step in range(50):
        check(r.result(r.submit({"input": on_gpu}), 5000), x)
        ticket = core_testing().submit_with_pre_step(r, {"input": x}, add=0.5, key=3)
        check(r.result(ticket, 5000), x + np.float32(0.5))
        assert counts(r.stats()["device_pool"]) == before, step
    assert r.stats()["graph_replays"] > 0


@gpu
def test_shared_pools_from_python_hold_the_bindings_and_get_them_back():
    device_pool = trtpipe.DevicePool(1 << 20)
    pinned_pool = trtpipe.PinnedPool(1 << 20)
    r = _core.engine.EngineRunner(
        model(), slots=2, device_pool=device_pool, pinned_pool=pinned_pool
    )
    assert r.device_pool is device_pool
    assert r.pinned_pool is pinned_pool
    for pool in (device_pool, pinned_pool):
        stats = pool.stats()
        assert stats.in_use == binding_bytes(2)
        assert stats.allocations == stats.live_blocks == 2 * TENSORS_PER_SLOT
        assert stats.capacity == 1 << 20 and stats.fallbacks == 0
    assert trtpipe.PoolStats(**r.stats()["device_pool"]) == device_pool.stats()

    run_frames(r, 5)
    before = [counts(pool.stats()) for pool in (device_pool, pinned_pool)]
    run_frames(r, 100)
    assert [counts(pool.stats()) for pool in (device_pool, pinned_pool)] == before

    # The rest of the pipeline allocates from the same pools, never over the runner's blocks.
    mine = device_pool.alloc(1000)
    used = [b for b in device_pool.blocks() if b.state == "used"]
    assert len(used) == 2 * TENSORS_PER_SLOT + 1
    spans = sorted((b.address, b.address + b.size) for b in used)
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))
    x = frame(3, seed=99)
    check(r.result(r.submit({"input": x}), 5000), x)

    del r
    gc.collect()
    assert device_pool.stats().in_use == block_bytes(1000)
    assert device_pool.stats().live_blocks == 1
    assert pinned_pool.stats().in_use == 0
    mine.release()
    assert device_pool.stats().in_use == 0


@gpu
def test_two_runners_share_one_pool():
    device_pool = trtpipe.DevicePool(1 << 16)
    a = _core.engine.EngineRunner(model(), slots=1, device_pool=device_pool)
    b = _core.engine.EngineRunner(model(), slots=2, device_pool=device_pool)
    assert device_pool.stats().in_use == binding_bytes(1) + binding_bytes(2)
    # Each still has a pinned pool of its own, sized for its own bindings.
    assert a.stats()["pinned_pool"]["capacity"] == binding_bytes(1)
    assert b.stats()["pinned_pool"]["capacity"] == binding_bytes(2)
    for step in range(10):
        xa, xb = frame(2, seed=step), frame(7, seed=100 + step)
        ta, tb = a.submit({"input": xa}), b.submit({"input": xb})
        check(b.result(tb, 5000), xb)
        check(a.result(ta, 5000), xa)
    assert device_pool.stats().allocations == 3 * TENSORS_PER_SLOT


@gpu
def test_too_small_a_shared_pool_raises_or_falls_back_and_is_counted():
    strict = trtpipe.DevicePool(1024, fallback=False)
    with pytest.raises(PoolExhaustedError, match="device memory for") as caught:
        _core.engine.EngineRunner(model(), slots=2, device_pool=strict)
    assert "pipeline slot" in str(caught.value)
    gc.collect()
    assert strict.stats().in_use == 0  # what was taken before the failure went back

    lenient = trtpipe.DevicePool(1024, fallback=True)
    r = _core.engine.EngineRunner(model(), slots=2, device_pool=lenient)
    taken = lenient.stats()
    assert taken.fallbacks > 0
    assert taken.allocations == 2 * TENSORS_PER_SLOT
    run_frames(r, 20)
    assert lenient.stats().fallbacks == taken.fallbacks  # none more per frame
    del r
    gc.collect()
    assert lenient.stats().live_fallbacks == 0 and lenient.stats().in_use == 0


@gpu
def test_a_pool_on_another_gpu_is_refused():
    device_pool = trtpipe.DevicePool(1 << 16, device=0)
    with pytest.raises(InputError, match=r"device_pool: expected a pool on GPU 1 .*GPU 0"):
        _core.engine.EngineRunner(model(), device=1, device_pool=device_pool)
    pinned_pool = trtpipe.PinnedPool(1 << 16, device=0)
    with pytest.raises(InputError, match=r"pinned_pool: expected a pool mapped to GPU 1"):
        _core.engine.EngineRunner(model(), device=1, pinned_pool=pinned_pool)


@gpu
def test_tensorrt_engine_takes_shared_pools_and_reports_them_to_the_monitor():
    from trtpipe.backends.tensorrt import TensorRTEngine
    from trtpipe.memory import OwnPool
    from trtpipe.monitor import PerformanceMonitor

    device_pool = trtpipe.DevicePool(1 << 20)
    shared = TensorRTEngine.from_model(model(), slots=2, device_pool=device_pool)
    assert shared.device_pool is device_pool
    assert isinstance(shared.pinned_pool, OwnPool)
    assert shared.pinned_pool.stats().capacity == binding_bytes(2)
    x = frame(4, seed=4)
    check(shared.infer({"input": x}), x)
    assert shared.stats["device_pool"]["in_use"] == binding_bytes(2)

    with PerformanceMonitor(nvml_device=None) as monitor:
        monitor.add_pool("engine device", shared.device_pool)
        monitor.add_pool("engine pinned", shared.pinned_pool)
        pools = monitor.snapshot().pools
    assert pools["engine device"]["in_use"] == binding_bytes(2)
    assert pools["engine pinned"]["in_use"] == binding_bytes(2)
    assert pools["engine pinned"]["capacity"] == binding_bytes(2)

    shared.close()
    gc.collect()
    assert device_pool.stats().in_use == 0


def test_tensorrt_engine_rejects_pools_of_the_wrong_kind():
    from trtpipe.backends.tensorrt import TensorRTEngine

    with pytest.raises(InputError, match=r"device_pool: expected a trtpipe\.DevicePool or None"):
        TensorRTEngine(b"anything", device_pool=bytearray(16))
    with pytest.raises(InputError, match=r"pinned_pool: expected a trtpipe\.PinnedPool or None"):
        TensorRTEngine.from_model(None, pinned_pool=np.zeros(4))
