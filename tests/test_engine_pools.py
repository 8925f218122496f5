"""An engine's memory in the frame pipeline: every buffer is a block of a pool, taken once, and
frames take none.

The expected sizes are worked out here from the test model's IO table and profile (each buffer
rounded to the pools' 256-byte blocks), independently of how the pipeline sizes its pools: the
bindings once, at the profile's largest shapes; the outputs' pinned copies once per slot.
"""

from __future__ import annotations

import gc
import itertools

import numpy as np
import pytest

import trtpipe
from core_testing import core_testing
from trtpipe.errors import InputError, PoolExhaustedError

gpu = pytest.mark.gpu

CHANNELS = 4
MAX_BATCH = 8
BLOCK = 256
BINDINGS = 3  # input, scaled, row_sum
OUTPUTS = 2
COUNTS = ("allocations", "releases", "in_use", "live_blocks", "fallbacks", "capacity", "arenas")


def block_bytes(nbytes: int) -> int:
    return max(1, -(-nbytes // BLOCK)) * BLOCK


SCALED = block_bytes(MAX_BATCH * CHANNELS * 4)  # float32 (batch, channels), as is the input
ROW_SUM = block_bytes(MAX_BATCH * 4)
BINDING_BYTES = 2 * SCALED + ROW_SUM  # device: the bindings, once


def output_bytes(slots: int) -> int:
    """Pinned: each slot's copies of the outputs."""
    return slots * (SCALED + ROW_SUM)


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


def engine(**options):
    from trtpipe.backends.tensorrt import TensorRTEngine

    return TensorRTEngine.from_model(model(), **options)


def counts(stats: dict | trtpipe.PoolStats) -> dict:
    """The counters that any allocation or release would change."""
    if isinstance(stats, trtpipe.PoolStats):
        return {key: getattr(stats, key) for key in COUNTS}
    return {key: stats[key] for key in COUNTS}


def run_frames(e, frames: int) -> None:
    """Frames in runs of five per batch size: a warm-up, a capture, then graph frames, and a
    batch change (new shapes, a new graph) every five frames."""
    for n in range(frames):
        batch = (2, MAX_BATCH, 5, 1)[(n // 5) % 4]
        x = frame(batch, seed=n)
        check(e.result(e.submit({"input": x}), 5.0), x)


@gpu
def test_pools_made_by_the_engine_hold_exactly_its_buffers():
    stats = engine(slots=2).stats
    for kind, size, blocks in (
        ("device_pool", BINDING_BYTES, BINDINGS),
        ("pinned_pool", output_bytes(2), 2 * OUTPUTS),
    ):
        pool = stats[kind]
        assert pool["capacity"] == size, kind
        assert pool["in_use"] == pool["capacity"], kind
        assert pool["allocations"] == pool["live_blocks"] == blocks, kind
        assert pool["fallbacks"] == 0, kind
        assert pool["arenas"] == 1, kind


@gpu
@pytest.mark.parametrize("cuda_graphs", [True, False])
def test_a_hundred_frames_allocate_nothing(cuda_graphs):
    e = engine(slots=2, cuda_graphs=cuda_graphs)
    run_frames(e, 5)  # warm-up
    before = {kind: counts(e.stats[kind]) for kind in ("device_pool", "pinned_pool")}
    reshapes = e.stats["reshapes"]
    run_frames(e, 100)
    stats = e.stats
    for kind, counted in before.items():
        assert counts(stats[kind]) == counted, kind
        assert counted["releases"] == 0, kind
    assert stats["reshapes"] > reshapes  # the batch did change
    assert stats["completed"] == 105
    if cuda_graphs:
        assert stats["stopped"] == ""
        assert stats["captures"] > 0 and stats["graph_frames"] > 0 and stats["step_frames"] > 0
    else:
        assert stats["step_frames"] == 105


@gpu
def test_captures_come_back_after_a_window_of_frames():
    """Shapes changing every five frames spend the captures a window of 1024 frames allows
    (8 per slot); frames then run step by step, correctly, until the next window, where one
    shape held long enough is captured again and runs as graphs."""
    e = engine(slots=2)
    run_frames(e, 105)
    spent = e.stats
    assert spent["stopped"] == ""
    assert spent["captures"] == 16 and spent["uncaptured_frames"] > 0
    x = frame(MAX_BATCH, seed=7)
    for n in range(1500):
        out = e.result(e.submit({"input": x}), 5.0)
        if n % 100 == 0:
            check(out, x)
    after = e.stats
    assert after["captures"] > spent["captures"]
    assert after["graph_frames"] - spent["graph_frames"] > 400


@gpu
def test_gpu_inputs_allocate_nothing_per_frame():
    torch = pytest.importorskip("torch")
    e = engine(slots=2)
    x = frame(MAX_BATCH, seed=1)
    on_gpu = torch.as_tensor(x, device="cuda")
    check(e.infer({"input": on_gpu}), x)
    before = counts(e.stats["device_pool"])
    for n in range(50):
        check(e.infer({"input": on_gpu}), x)
        assert counts(e.stats["device_pool"]) == before, n
    assert e.stats["graph_frames"] > 0, e.stats["stopped"]


@gpu
def test_shared_pools_from_python_hold_the_buffers_and_get_them_back():
    device_pool = trtpipe.DevicePool(1 << 20)
    pinned_pool = trtpipe.PinnedPool(1 << 20)
    e = engine(slots=2, device_pool=device_pool, pinned_pool=pinned_pool)
    assert e.device_pool is device_pool
    assert e.pinned_pool is pinned_pool
    e.stats  # noqa: B018 - the buffers are taken with the first frame, or here
    for pool, size, blocks in (
        (device_pool, BINDING_BYTES, BINDINGS),
        (pinned_pool, output_bytes(2), 2 * OUTPUTS),
    ):
        stats = pool.stats()
        assert stats.in_use == size
        assert stats.allocations == stats.live_blocks == blocks
        assert stats.capacity == 1 << 20 and stats.fallbacks == 0
    assert trtpipe.PoolStats(**e.stats["device_pool"]) == device_pool.stats()

    run_frames(e, 5)
    before = [counts(pool.stats()) for pool in (device_pool, pinned_pool)]
    run_frames(e, 100)
    assert [counts(pool.stats()) for pool in (device_pool, pinned_pool)] == before

    # The rest of the pipeline allocates from the same pools, never over the engine's blocks.
    mine = device_pool.alloc(1000)
    used = [b for b in device_pool.blocks() if b.state == "used"]
    assert len(used) == BINDINGS + 1
    spans = sorted((b.address, b.address + b.size) for b in used)
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))
    x = frame(3, seed=99)
    check(e.infer({"input": x}), x)

    e.close()
    del e
    gc.collect()
    assert device_pool.stats().in_use == block_bytes(1000)
    assert device_pool.stats().live_blocks == 1
    assert pinned_pool.stats().in_use == 0
    mine.release()
    assert device_pool.stats().in_use == 0


@gpu
def test_two_engines_share_one_pool():
    device_pool = trtpipe.DevicePool(1 << 16)
    a = engine(slots=1, device_pool=device_pool)
    b = engine(slots=2, device_pool=device_pool)
    # Each still has a pinned pool of its own, sized for its own slots.
    assert a.stats["pinned_pool"]["capacity"] == output_bytes(1)
    assert b.stats["pinned_pool"]["capacity"] == output_bytes(2)
    assert device_pool.stats().in_use == 2 * BINDING_BYTES
    for n in range(10):
        xa, xb = frame(2, seed=n), frame(7, seed=100 + n)
        pa, pb = a.submit({"input": xa}), b.submit({"input": xb})
        check(b.result(pb, 5.0), xb)
        check(a.result(pa, 5.0), xa)
    assert device_pool.stats().allocations == 2 * BINDINGS


@gpu
def test_too_small_a_shared_pool_raises_or_falls_back_and_is_counted():
    strict = trtpipe.DevicePool(64, fallback=False)
    with pytest.raises(PoolExhaustedError, match="device memory for") as caught:
        engine(slots=2, device_pool=strict).infer({"input": frame(1, seed=0)})
    assert "of the model step" in str(caught.value)
    gc.collect()
    assert strict.stats().in_use == 0  # what was taken before the failure went back

    lenient = trtpipe.DevicePool(64, fallback=True)
    e = engine(slots=2, device_pool=lenient)
    run_frames(e, 1)
    taken = lenient.stats()
    assert taken.fallbacks > 0
    assert taken.allocations == BINDINGS
    run_frames(e, 20)
    assert lenient.stats().fallbacks == taken.fallbacks  # none more per frame
    e.close()
    del e
    gc.collect()
    assert lenient.stats().live_fallbacks == 0 and lenient.stats().in_use == 0


@gpu
def test_a_pool_on_another_gpu_is_refused():
    device_pool = trtpipe.DevicePool(1 << 16, device=0)
    with pytest.raises(InputError, match=r"device_pool: expected a pool on GPU 1 .*GPU 0"):
        engine(device=1, device_pool=device_pool)
    pinned_pool = trtpipe.PinnedPool(1 << 16, device=0)
    with pytest.raises(InputError, match=r"pinned_pool: expected a pool mapped to GPU 1"):
        engine(device=1, pinned_pool=pinned_pool)


@gpu
def test_tensorrt_engine_reports_its_pools_to_the_monitor():
    from trtpipe.memory import OwnPool
    from trtpipe.monitor import PerformanceMonitor

    device_pool = trtpipe.DevicePool(1 << 20)
    shared = engine(slots=2, device_pool=device_pool)
    assert shared.device_pool is device_pool
    assert isinstance(shared.pinned_pool, OwnPool)
    assert shared.pinned_pool.stats().capacity == output_bytes(2)
    x = frame(4, seed=4)
    check(shared.infer({"input": x}), x)
    assert shared.stats["device_pool"]["in_use"] == BINDING_BYTES

    with PerformanceMonitor(nvml_device=None) as monitor:
        monitor.add_pool("engine device", shared.device_pool)
        monitor.add_pool("engine pinned", shared.pinned_pool)
        pools = monitor.snapshot().pools
    assert pools["engine device"]["in_use"] == BINDING_BYTES
    assert pools["engine pinned"]["in_use"] == output_bytes(2)
    assert pools["engine pinned"]["capacity"] == output_bytes(2)

    shared.close()
    gc.collect()
    assert device_pool.stats().in_use == 0


def test_tensorrt_engine_rejects_pools_of_the_wrong_kind():
    from trtpipe.backends.tensorrt import TensorRTEngine

    with pytest.raises(InputError, match=r"device_pool: expected a trtpipe\.DevicePool or None"):
        TensorRTEngine(b"anything", device_pool=bytearray(16))
    with pytest.raises(InputError, match=r"pinned_pool: expected a trtpipe\.PinnedPool or None"):
        TensorRTEngine.from_model(None, pinned_pool=np.zeros(4))
