"""The per-frame engine loop on a GPU, driven through the test model compiled into _core.

ScaleModel stands in for a TensorRT engine behind the same internal interface and does real
GPU work on the bound buffers (scaled = input * 2 + 1, row_sum = scaled.sum(axis=1)), so every
answer is checked against NumPy, and its own call counters check what the runner told it.
"""

from __future__ import annotations

import gc
import time

import numpy as np
import pytest

from core_testing import core_testing
from trtpipe import _core
from trtpipe.errors import EngineError, InputError

pytestmark = pytest.mark.gpu

CHANNELS = 4


def oracle(x: np.ndarray, scale: float = 2.0, bias: float = 1.0) -> dict[str, np.ndarray]:
    scaled = x.astype(np.float32) * np.float32(scale) + np.float32(bias)
    return {"scaled": scaled, "row_sum": scaled.sum(axis=1, dtype=np.float32)}


def frame(batch: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, CHANNELS)).astype(np.float32)


def check(outputs: dict[str, np.ndarray], x: np.ndarray) -> None:
    want = oracle(x)
    assert set(outputs) == set(want)
    for name, value in want.items():
        assert outputs[name].shape == value.shape, name
        assert outputs[name].dtype == np.float32, name
        np.testing.assert_allclose(outputs[name], value, rtol=1e-6, atol=1e-5, err_msg=name)


def model(**kwargs):
    kwargs.setdefault("channels", CHANNELS)
    return core_testing().ScaleModel(**kwargs)


def runner(m, **kwargs):
    return _core.engine.EngineRunner(m, **kwargs)


def test_io_table_and_profiles_of_the_test_model():
    m = model(profiles=[(1, 2, 8), (4, 16, 32)])
    assert m.io() == [
        {"name": "input", "is_input": True, "dtype": "float32", "shape": (-1, CHANNELS)},
        {"name": "scaled", "is_input": False, "dtype": "float32", "shape": (-1, CHANNELS)},
        {"name": "row_sum", "is_input": False, "dtype": "float32", "shape": (-1,)},
    ]
    assert m.profile_count() == 2
    assert m.profile(1) == {"input": ((4, CHANNELS), (16, CHANNELS), (32, CHANNELS))}


@pytest.mark.parametrize("batch", [1, 3, 8])
def test_outputs_match_numpy(batch):
    r = runner(model(), slots=1, cuda_graphs=False)
    x = frame(batch, seed=batch)
    check(r.result(r.submit({"input": x}), 5000), x)


def test_binds_once_and_rebinds_only_on_shape_change():
    m = model()
    r = runner(m, slots=1, cuda_graphs=False)
    # Construction: the slot's context is shaped to the profile max, outputs bound once.
    assert r.stats()["shape_sets"] == 1
    assert r.stats()["address_binds"] == 2
    expected_shape_sets = 1
    previous = None
    for step, batch in enumerate([8, 8, 3, 3, 3, 8, 1]):
        x = frame(batch, seed=step)
        check(r.result(r.submit({"input": x}), 5000), x)
        if batch != (previous or 8):
            expected_shape_sets += 1
        previous = batch
        stats = r.stats()
        assert stats["shape_sets"] == expected_shape_sets, step
        assert stats["address_binds"] == 3, step  # the input buffer is bound on the first frame
    counters = m.counters()
    assert counters["set_input_shape"] == r.stats()["shape_sets"]
    assert counters["set_tensor_address"] == r.stats()["address_binds"]
    assert counters["enqueues"] == 7


def test_device_inputs_are_bound_zero_copy_and_rebound_on_a_new_address():
    cupy = pytest.importorskip("cupy")
    m = model()
    r = runner(m, slots=1, cuda_graphs=False)
    first = frame(5, seed=1)
    on_gpu = cupy.asarray(first)
    check(r.result(r.submit({"input": on_gpu}), 5000), first)
    binds = r.stats()["address_binds"]
    # Same array, new contents: no rebinding, and the engine reads the new contents.
    second = frame(5, seed=2)
    on_gpu[...] = cupy.asarray(second)
    check(r.result(r.submit({"input": on_gpu}), 5000), second)
    assert r.stats()["address_binds"] == binds
    other = cupy.asarray(frame(5, seed=3))
    check(r.result(r.submit({"input": other}), 5000), cupy.asnumpy(other))
    assert r.stats()["address_binds"] == binds + 1
    assert m.counters()["set_tensor_address"] == binds + 1


def test_misaligned_device_input_is_copied_not_bound():
    cupy = pytest.importorskip("cupy")
    m = model()
    r = runner(m, slots=1, cuda_graphs=True)
    x = frame(5, seed=4)
    base = cupy.zeros(x.size + 1, dtype=cupy.float32)
    view = base[1:].reshape(x.shape)  # 4 bytes past a 256-byte aligned allocation
    view[...] = cupy.asarray(x)
    assert view.data.ptr % 256 != 0
    for _ in range(3):  # plain, capture, replay: the copy is part of the graph
        check(r.result(r.submit({"input": view}), 5000), x)
    # TensorRT needs 256-byte aligned bindings, so the slot's own buffer stays bound.
    assert r.stats()["address_binds"] == 3
    assert r.stats()["graph_replays"] == 2
    y = frame(5, seed=5)
    view[...] = cupy.asarray(y)
    check(r.result(r.submit({"input": view}), 5000), y)


def test_graph_is_captured_once_and_replayed_with_fresh_inputs():
    m = model(static_batch=4)
    r = runner(m, slots=1, cuda_graphs=True)
    frames = 10
    for step in range(frames):
        x = frame(4, seed=100 + step)
        check(r.result(r.submit({"input": x}), 5000), x)
    stats = r.stats()
    assert stats["plain_enqueues"] == 1  # warm-up run with these bindings
    assert stats["graph_captures"] == 1
    assert stats["graph_replays"] == frames - 1
    assert stats["graph_capture_failures"] == 0
    assert stats["graphs_enabled"]
    # Replays never call the model: it saw one plain enqueue and one while being captured.
    assert m.counters()["enqueues"] == 2
    assert m.counters()["captured_enqueues"] == 1


def test_graph_is_recaptured_when_the_batch_changes():
    r = runner(model(), slots=1, cuda_graphs=True)
    for step, batch in enumerate([2, 2, 2, 6, 6, 6, 2]):
        x = frame(batch, seed=step)
        check(r.result(r.submit({"input": x}), 5000), x)
    stats = r.stats()
    # batch 2: plain, capture, replay; batch 6: plain, capture, replay; batch 2 again: plain.
    assert stats["graph_captures"] == 2
    assert stats["graph_replays"] == 4
    assert stats["plain_enqueues"] == 3


def test_each_slot_captures_its_own_graph():
    r = runner(model(static_batch=2), slots=2, cuda_graphs=True)
    for step in range(8):
        x = frame(2, seed=step)
        check(r.result(r.submit({"input": x}), 5000), x)
    stats = r.stats()
    assert stats["plain_enqueues"] == 2
    assert stats["graph_captures"] == 2
    assert stats["graph_replays"] == 6


def test_pre_step_writes_into_the_binding_and_is_captured_with_its_key():
    m = model(static_batch=3)
    r = runner(m, slots=1, cuda_graphs=True)
    for step in range(4):
        x = frame(3, seed=step)
        ticket = core_testing().submit_with_pre_step(r, {"input": x}, add=1.5, key=7)
        check(r.result(ticket, 5000), x + np.float32(1.5))
    stats = r.stats()
    assert (stats["plain_enqueues"], stats["graph_captures"], stats["graph_replays"]) == (1, 1, 3)
    # Key 0 means "not the same work every time": never captured, never replayed.
    for step in range(3):
        x = frame(3, seed=10 + step)
        ticket = core_testing().submit_with_pre_step(r, {"input": x}, add=-1.0 * step, key=0)
        check(r.result(ticket, 5000), x - np.float32(step))
    stats = r.stats()
    assert (stats["plain_enqueues"], stats["graph_captures"], stats["graph_replays"]) == (4, 1, 3)


def test_capture_failure_falls_back_to_plain_enqueue_and_says_so():
    m = model(static_batch=3, fail_capture=True)
    r = runner(m, slots=1, cuda_graphs=True)
    for step in range(5):
        x = frame(3, seed=step)
        check(r.result(r.submit({"input": x}), 5000), x)
    stats = r.stats()
    assert stats["graph_capture_failures"] == 1
    assert not stats["graphs_enabled"]
    assert "capture failed" in stats["graph_fallback_reason"]
    assert "cannot run under stream capture" in stats["graph_fallback_reason"]
    assert stats["graph_replays"] == 0
    assert stats["plain_enqueues"] == 5
    assert m.counters()["captured_enqueues"] == 1  # no retry after the failure


def test_graphs_off_never_capture():
    m = model(static_batch=2)
    r = runner(m, slots=1, cuda_graphs=False)
    for step in range(4):
        r.result(r.submit({"input": frame(2, seed=step)}), 5000)
    assert r.stats()["graph_captures"] == 0
    assert m.counters()["captured_enqueues"] == 0


def test_wait_times_out_with_a_clear_error_and_the_frame_survives():
    m = model(delay_us=400_000)
    r = runner(m, slots=1, cuda_graphs=False)
    x = frame(2, seed=7)
    ticket = r.submit({"input": x})
    started = time.perf_counter()
    with pytest.raises(EngineError, match=rf"frame {ticket} did not finish within 20 ms"):
        r.wait(ticket, 20.0)
    assert time.perf_counter() - started < 0.3
    assert r.stats()["timeouts"] == 1
    assert not r.ready(ticket)
    with pytest.raises(InputError, match="still running"):
        r.take(ticket)
    check(r.result(ticket, 5000), x)


def test_pipelined_frames_come_back_in_any_order_with_their_own_outputs():
    r = runner(model(), slots=3, cuda_graphs=True)
    inputs = [frame(batch, seed=batch) for batch in (2, 5, 7)]
    tickets = [r.submit({"input": x}) for x in inputs]
    assert len(set(tickets)) == 3
    with pytest.raises(InputError, match="at most 3 frames in flight"):
        r.submit({"input": frame(1, seed=0)})
    for ticket, x in reversed(list(zip(tickets, inputs, strict=True))):
        check(r.result(ticket, 5000), x)
    with pytest.raises(InputError, match="already taken"):
        r.take(tickets[0])
    # Results are copies: later frames reusing the slots do not change them.
    kept = r.result(r.submit({"input": inputs[0]}), 5000)
    for step in range(6):
        r.result(r.submit({"input": frame(3, seed=50 + step)}), 5000)
    check(kept, inputs[0])
    assert r.stats()["submitted"] == r.stats()["completed"] == 10


def test_frames_in_flight_overlap_on_the_gpu():
    delay_s = 0.15
    r = runner(model(delay_us=int(delay_s * 1e6)), slots=2, cuda_graphs=False)
    x0, x1 = frame(2, seed=0), frame(2, seed=1)
    started = time.perf_counter()
    t0, t1 = r.submit({"input": x0}), r.submit({"input": x1})
    check(r.result(t0, 5000), x0)
    check(r.result(t1, 5000), x1)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.6 * delay_s, f"two frames took {elapsed:.3f}s: they did not overlap"


def test_profile_selection_and_bounds():
    m = model(profiles=[(1, 1, 4), (2, 8, 16)])
    wide = runner(m, slots=1, profile=1)
    x = frame(12, seed=12)
    check(wide.result(wide.submit({"input": x}), 5000), x)
    with pytest.raises(InputError, match=r"within profile 1 \(min \[2, 4\], max \[16, 4\]\)"):
        wide.submit({"input": frame(1, seed=1)})
    narrow = runner(m, slots=1, profile=0)
    with pytest.raises(InputError, match="within profile 0"):
        narrow.submit({"input": frame(12, seed=12)})
    with pytest.raises(InputError, match="profile: expected an optimisation profile index"):
        runner(m, profile=2)


def test_bad_inputs_raise_input_errors_naming_the_field():
    r = runner(model(), slots=1)
    with pytest.raises(InputError, match="expected a tensor named 'input', given none"):
        r.submit({"images": frame(2, seed=0)})
    with pytest.raises(InputError, match="expected only 'input', given an input named 'extra'"):
        r.submit({"input": frame(2, seed=0), "extra": frame(2, seed=0)})
    with pytest.raises(InputError, match="expected dtype float32, given float64"):
        r.submit({"input": frame(2, seed=0).astype(np.float64)})
    with pytest.raises(InputError, match=r"given \[2, 3\]"):
        r.submit({"input": np.zeros((2, 3), np.float32)})
    with pytest.raises(InputError, match="already taken, or never submitted"):
        r.wait(12345, 10)
    with pytest.raises(InputError, match=r"slots: expected 1\.\.64"):
        runner(model(), slots=0)
    assert r.stats()["submitted"] == 0


def test_non_contiguous_host_input_is_read_correctly():
    r = runner(model(), slots=1)
    wide = frame(3, seed=9).repeat(2, axis=1)[:, ::2]  # a strided view
    assert not wide.flags.c_contiguous
    check(r.result(r.submit({"input": wide}), 5000), np.ascontiguousarray(wide))


def test_cpp_timing_loop_returns_one_sample_per_frame():
    r = runner(model(static_batch=1), slots=2)
    samples = core_testing().time_frames(r, {"input": frame(1, seed=0)}, 50, warmup=5, depth=2)
    assert samples.shape == (50,)
    assert np.all(samples > 0)
    assert r.stats()["completed"] == 55
    with pytest.raises(InputError, match="depth"):
        core_testing().time_frames(r, {"input": frame(1, seed=0)}, 5, depth=3)


def test_inputs_as_a_list_in_io_order_match_inputs_by_name():
    r = runner(model(), slots=2, cuda_graphs=True)
    for step, batch in enumerate([3, 3, 3, 5]):
        x = frame(batch, seed=200 + step)
        check(r.result(r.submit([x]), 5000), x)
        check(r.result(r.submit((x,)), 5000), x)
        check(r.result(r.submit({"input": x}), 5000), x)
    assert r.stats()["graph_replays"] > 0
    with pytest.raises(InputError, match=r"expected 1 tensors in the order of the engine's inputs"):
        r.submit([frame(2, seed=0), frame(2, seed=1)])
    with pytest.raises(InputError, match="expected a tensor named 'input', given none"):
        r.submit([])
    with pytest.raises(InputError, match="expected dtype float32, given float64"):
        r.submit([frame(2, seed=0).astype(np.float64)])
    with pytest.raises(InputError, match="expected a dict of input name to array, or a list"):
        r.submit(frame(2, seed=0))
    assert r.stats()["submitted"] == r.stats()["completed"] == 12


def test_outputs_as_views_hold_the_frame_until_its_slot_is_reused():
    r = runner(model(), slots=1, cuda_graphs=True)
    x = frame(4, seed=300)
    views = r.result(r.submit([x]), 5000, False)
    check(views, x)
    assert not views["scaled"].flags.owndata  # the pinned output buffer itself, not a copy
    copies = r.result(r.submit([x]), 5000)
    assert copies["scaled"].flags.owndata
    # One slot: the next frame reuses it, so the views now show that frame's outputs.
    y = frame(4, seed=301)
    check(r.result(r.submit([y]), 5000), y)
    check(views, y)
    check(copies, x)


def test_output_views_keep_the_runner_alive():
    r = runner(model(), slots=1)
    x = frame(2, seed=302)
    views = r.take(_wait(r, r.submit([x])), copy=False)
    del r
    gc.collect()
    check(views, x)


def _wait(r, ticket: int) -> int:
    r.wait(ticket, 5000)
    return ticket


def test_frame_seen_finished_is_taken_without_waiting_again():
    r = runner(model(static_batch=2), slots=2, cuda_graphs=True)
    for step in range(6):
        x = frame(2, seed=400 + step)
        ticket = r.submit([x])
        r.wait(ticket, 5000)
        assert r.ready(ticket)  # known finished: no new query, still the right answer
        r.wait(ticket, 0)  # already finished: a zero timeout cannot fire
        check(r.take(ticket), x)
        with pytest.raises(InputError, match="already taken"):
            r.ready(ticket)
    assert r.stats()["timeouts"] == 0


def test_cpp_host_overhead_timing_returns_one_sample_per_frame():
    r = runner(model(static_batch=1), slots=2)
    samples = core_testing().time_host_overhead(r, [frame(1, seed=0)], 40, warmup=4)
    assert samples.shape == (40,)
    assert np.all(samples > 0)
    assert r.stats()["completed"] == 44
    assert r.stats()["graph_replays"] > 0
