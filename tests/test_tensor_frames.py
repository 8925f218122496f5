"""An engine's own frames (TensorFrames over a resizable ContextStep) in the native frame
pipeline on a GPU, driven through the test model of _core_testing.

ScaleModel stands in for a TensorRT engine behind the same internal interface and does real
GPU work on the bound buffers (scaled = input * 2 + 1, row_sum = scaled.sum(axis=1)), so every
answer is checked against NumPy, and its own call counters check what the pipeline told it.
"""

from __future__ import annotations

import gc
import time

import numpy as np
import pytest

from core_testing import core_testing
from trtpipe import _core
from trtpipe.backends.base import ModelStep
from trtpipe.errors import EngineError, InputError
from trtpipe.frame_pipeline import TensorFrames

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


def frames(m, slots: int = 2, cuda_graphs: bool = True, profile: int = 0) -> TensorFrames:
    step = _core.engine.ContextStep(m, profile=profile, resizable=True)
    return TensorFrames(ModelStep(step, owner=m), slots, graphs=cuda_graphs)


def stats_of(f: TensorFrames) -> tuple[int, int, int] | str:
    """(step frames, captures, graph frames), or why graphs stopped."""
    s = f.stats()
    return s["stopped"] or (s["step_frames"], s["captures"], s["graph_frames"])


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
    f = frames(model(), slots=1, cuda_graphs=False)
    x = frame(batch, seed=batch)
    check(f.result(f.submit({"input": x}), 5000), x)


def test_binds_once_and_sets_shapes_only_when_they_change():
    m = model()
    step = _core.engine.ContextStep(m, resizable=True)
    f = TensorFrames(ModelStep(step, owner=m), 1, graphs=False)
    (_, opt, largest) = m.profile(0)["input"]
    # Construction: shaped at the profile's largest to size the bindings, then at opt.
    assert step.shape_sets == (1 if opt == largest else 2)
    assert m.counters()["set_tensor_address"] == 3  # input and outputs, bound once
    expected = step.shape_sets
    previous = opt[0]
    for n, batch in enumerate([8, 8, 3, 3, 3, 8, 1]):
        x = frame(batch, seed=n)
        check(f.result(f.submit({"input": x}), 5000), x)
        expected += batch != previous
        previous = batch
        assert step.shape_sets == expected, n
    counters = m.counters()
    assert counters["set_input_shape"] == step.shape_sets
    assert counters["set_tensor_address"] == 3
    assert counters["enqueues"] == 7
    assert f.stats()["reshapes"] == expected - (1 if opt == largest else 2)


def test_gpu_inputs_are_copied_in_stream_order_and_read_fresh_every_frame():
    torch = pytest.importorskip("torch")
    m = model(static_batch=5)
    f = frames(m, slots=1, cuda_graphs=True)
    on_gpu = torch.as_tensor(frame(5, seed=1), device="cuda")
    for n in range(4):  # step by step, capture, then graphs: the copy runs before each
        x = frame(5, seed=10 + n)
        on_gpu.copy_(torch.as_tensor(x))  # on PyTorch's stream, which the frame waits for
        check(f.result(f.submit({"input": on_gpu}), 5000), x)
    assert stats_of(f) == (1, 1, 3)
    # an address 4 bytes past an aligned block is copied like any other
    base = torch.zeros(5 * CHANNELS + 1, device="cuda")
    view = base[1:].view(5, CHANNELS)
    assert view.data_ptr() % 256 != 0
    x = frame(5, seed=20)
    view.copy_(torch.as_tensor(x))
    check(f.result(f.submit({"input": view}), 5000), x)
    assert m.counters()["set_tensor_address"] == 3  # never rebound


def test_graph_is_captured_once_and_replayed_with_fresh_inputs():
    m = model(static_batch=4)
    f = frames(m, slots=1, cuda_graphs=True)
    n_frames = 10
    for n in range(n_frames):
        x = frame(4, seed=100 + n)
        check(f.result(f.submit({"input": x}), 5000), x)
    # the first frame warms the step up, the second is captured, every frame after it replays
    assert stats_of(f) == (1, 1, n_frames - 1)
    assert f.stats()["stopped"] == ""
    # Replays never call the model: it saw one plain enqueue and one while being captured.
    assert m.counters()["enqueues"] == 2
    assert m.counters()["captured_enqueues"] == 1


@pytest.mark.parametrize("cuda_graphs", [True, False], ids=["graphs", "step-by-step"])
def test_a_host_input_is_read_at_submit_so_the_caller_may_reuse_it(cuda_graphs):
    # the model takes 50 ms: the caller overwrites its array while every frame still runs
    f = frames(model(static_batch=2, delay_us=50_000), slots=2, cuda_graphs=cuda_graphs)
    buffer = np.empty((2, CHANNELS), np.float32)
    for n in range(4):
        x = frame(2, seed=300 + n)
        buffer[:] = x
        ticket = f.submit({"input": buffer})
        buffer[:] = -1000.0
        check(f.result(ticket, 5000), x)


def test_host_and_gpu_inputs_alternating_each_run_on_their_own_graph():
    torch = pytest.importorskip("torch")
    f = frames(model(static_batch=3), slots=1, cuda_graphs=True)
    on_gpu = torch.zeros((3, CHANNELS), device="cuda")
    for n in range(12):
        x = frame(3, seed=400 + n)
        if n % 4 < 2:
            given = x
        else:
            on_gpu.copy_(torch.as_tensor(x))
            given = on_gpu
        check(f.result(f.submit({"input": given}), 5000), x)
    stats = f.stats()
    assert stats["stopped"] == ""
    assert stats["graph_frames"] > 0


def test_graph_is_recaptured_when_the_batch_changes():
    f = frames(model(), slots=1, cuda_graphs=True)
    for n, batch in enumerate([2, 2, 2, 6, 6, 6, 2]):
        x = frame(batch, seed=n)
        check(f.result(f.submit({"input": x}), 5000), x)
    # batch 2: step, capture, graph; batch 6: step, capture, graph; batch 2 again: step.
    assert stats_of(f) == (3, 2, 4)


def test_each_slot_captures_its_own_graph():
    f = frames(model(static_batch=2), slots=2, cuda_graphs=True)
    for n in range(8):
        x = frame(2, seed=n)
        check(f.result(f.submit({"input": x}), 5000), x)
    # one warm-up frame, then each slot's first graph frame is its capture
    assert stats_of(f) == (1, 2, 7)


def test_capture_failure_runs_step_by_step_and_says_so():
    m = model(static_batch=3, fail_capture=True)
    f = frames(m, slots=1, cuda_graphs=True)
    for n in range(5):
        x = frame(3, seed=n)
        check(f.result(f.submit({"input": x}), 5000), x)
    stats = f.stats()
    assert "cannot run under stream capture" in stats["stopped"]
    assert (stats["graph_frames"], stats["captures"], stats["step_frames"]) == (0, 0, 5)
    assert m.counters()["captured_enqueues"] == 1  # no retry after the failure


def test_graphs_off_never_capture():
    m = model(static_batch=2)
    f = frames(m, slots=1, cuda_graphs=False)
    for n in range(4):
        f.result(f.submit({"input": frame(2, seed=n)}), 5000)
    assert stats_of(f) == (4, 0, 0)
    assert m.counters()["captured_enqueues"] == 0


def test_wait_times_out_with_a_clear_error_and_the_frame_survives():
    m = model(delay_us=400_000)
    f = frames(m, slots=1, cuda_graphs=False)
    x = frame(2, seed=7)
    ticket = f.submit({"input": x})
    started = time.perf_counter()
    with pytest.raises(EngineError, match=r"did not finish within 20 ms"):
        f.wait(ticket, 20.0)
    assert time.perf_counter() - started < 0.3
    assert f.stats()["timeouts"] == 1
    assert not f.ready(ticket)
    with pytest.raises(InputError, match="still running"):
        f.take(ticket)
    check(f.result(ticket, 5000), x)


def test_pipelined_frames_come_back_in_any_order_with_their_own_outputs():
    f = frames(model(), slots=3, cuda_graphs=True)
    inputs = [frame(batch, seed=batch) for batch in (2, 5, 7)]
    tickets = [f.submit({"input": x}) for x in inputs]
    assert len(set(tickets)) == 3
    with pytest.raises(InputError, match="at most 3 frames in flight"):
        f.submit({"input": frame(1, seed=0)})
    for ticket, x in reversed(list(zip(tickets, inputs, strict=True))):
        check(f.result(ticket, 5000), x)
    with pytest.raises(InputError, match="already taken"):
        f.take(tickets[0])
    # Results are copies: later frames reusing the slots do not change them.
    kept = f.result(f.submit({"input": inputs[0]}), 5000)
    for n in range(6):
        f.result(f.submit({"input": frame(3, seed=50 + n)}), 5000)
    check(kept, inputs[0])
    assert f.stats()["frames"] == f.stats()["completed"] == 10


def test_submit_returns_while_the_gpu_runs_the_frame():
    delay_s = 0.2
    f = frames(model(delay_us=int(delay_s * 1e6)), slots=2, cuda_graphs=False)
    x0, x1 = frame(2, seed=0), frame(2, seed=1)
    started = time.perf_counter()
    t0, t1 = f.submit({"input": x0}), f.submit({"input": x1})
    submitted = time.perf_counter() - started
    assert submitted < delay_s / 2, f"two submits took {submitted:.3f}s: they waited for the GPU"
    check(f.result(t0, 5000), x0)
    check(f.result(t1, 5000), x1)


def test_profile_selection_and_bounds():
    m = model(profiles=[(1, 1, 4), (2, 8, 16)])
    wide = frames(m, slots=1, profile=1)
    x = frame(12, seed=12)
    check(wide.result(wide.submit({"input": x}), 5000), x)
    with pytest.raises(InputError, match=r"within profile 1 \(min \[2, 4\], max \[16, 4\]\)"):
        wide.submit({"input": frame(1, seed=1)})
    narrow = frames(m, slots=1, profile=0)
    with pytest.raises(InputError, match="within profile 0"):
        narrow.submit({"input": frame(12, seed=12)})
    with pytest.raises(InputError, match="profile: expected an optimisation profile index"):
        frames(m, profile=2)
    # a frame refused leaves the next one unharmed
    check(wide.result(wide.submit({"input": x[:3]}), 5000), x[:3])


def test_a_step_of_fixed_shapes_refuses_another_shape():
    m = model()
    step = _core.engine.ContextStep(m, shapes={"input": [2, CHANNELS]})
    f = TensorFrames(ModelStep(step, owner=m), 1)
    x = frame(2, seed=3)
    check(f.result(f.submit([x]), 5000), x)
    with pytest.raises(InputError, match="expected at most 32 bytes"):
        f.submit([frame(3, seed=3)])
    check(f.result(f.submit([frame(1, seed=4)]), 5000), frame(1, seed=4))


def test_bad_inputs_raise_input_errors_naming_the_field():
    f = frames(model(), slots=1)
    with pytest.raises(InputError, match="expected a tensor named 'input', given none"):
        f.submit({"images": frame(2, seed=0)})
    with pytest.raises(InputError, match="expected only 'input', given an input named 'extra'"):
        f.submit({"input": frame(2, seed=0), "extra": frame(2, seed=0)})
    with pytest.raises(InputError, match="expected dtype float32, given float64"):
        f.submit({"input": frame(2, seed=0).astype(np.float64)})
    with pytest.raises(InputError, match=r"given \[2, 3\]"):
        f.submit({"input": np.zeros((2, 3), np.float32)})
    with pytest.raises(InputError, match="already taken, or never submitted"):
        f.wait(12345, 10)
    with pytest.raises(InputError, match=r"slots: expected 1\.\.64"):
        frames(model(), slots=0)
    assert f.stats()["frames"] == 0


def test_non_contiguous_host_input_is_read_correctly():
    f = frames(model(), slots=1)
    wide = frame(3, seed=9).repeat(2, axis=1)[:, ::2]  # a strided view
    assert not wide.flags.c_contiguous
    check(f.result(f.submit({"input": wide}), 5000), np.ascontiguousarray(wide))


def test_inputs_as_a_list_in_io_order_match_inputs_by_name():
    f = frames(model(), slots=2, cuda_graphs=True)
    for n, batch in enumerate([3, 3, 3, 5]):
        x = frame(batch, seed=200 + n)
        check(f.result(f.submit([x]), 5000), x)
        check(f.result(f.submit((x,)), 5000), x)
        check(f.result(f.submit({"input": x}), 5000), x)
    assert f.stats()["graph_frames"] > 0, f.stats()["stopped"]
    with pytest.raises(InputError, match=r"expected 1 tensors in the order of the model's inputs"):
        f.submit([frame(2, seed=0), frame(2, seed=1)])
    with pytest.raises(InputError, match="expected a tensor named 'input', given none"):
        f.submit([])
    with pytest.raises(InputError, match="expected dtype float32, given float64"):
        f.submit([frame(2, seed=0).astype(np.float64)])
    with pytest.raises(InputError, match="expected a dict of input name to array, or a list"):
        f.submit(frame(2, seed=0))
    assert f.stats()["frames"] == f.stats()["completed"] == 12


def test_outputs_as_views_hold_the_frame_until_its_slot_is_reused():
    f = frames(model(), slots=1, cuda_graphs=True)
    x = frame(4, seed=300)
    views = f.result(f.submit([x]), 5000, False)
    check(views, x)
    assert not views["scaled"].flags.owndata  # the pinned output buffer itself, not a copy
    copies = f.result(f.submit([x]), 5000)
    assert copies["scaled"].flags.owndata
    # One slot: the next frame reuses it, so the views now show that frame's outputs.
    y = frame(4, seed=301)
    check(f.result(f.submit([y]), 5000), y)
    check(views, y)
    check(copies, x)


def test_output_views_keep_the_pipeline_alive():
    f = frames(model(), slots=1)
    x = frame(2, seed=302)
    ticket = f.submit([x])
    f.wait(ticket, 5000)
    views = f.take(ticket, copy=False)
    del f
    gc.collect()
    check(views, x)


def test_frame_seen_finished_is_taken_without_waiting_again():
    f = frames(model(static_batch=2), slots=2, cuda_graphs=True)
    for n in range(6):
        x = frame(2, seed=400 + n)
        ticket = f.submit([x])
        f.wait(ticket, 5000)
        assert f.ready(ticket)
        f.wait(ticket, 0)  # already finished: a zero timeout cannot fire
        check(f.take(ticket), x)
        with pytest.raises(InputError, match="already taken"):
            f.ready(ticket)
    assert f.stats()["timeouts"] == 0


def test_gpu_inputs_are_read_through_the_one_array_reader():
    torch = pytest.importorskip("torch")
    f = frames(model(), slots=1)
    x = frame(3, seed=500)
    on_gpu = torch.as_tensor(x, device="cuda")

    class DLPackOnly:  # no __cuda_array_interface__: read as DLPack
        def __dlpack__(self, **kwargs):
            return on_gpu.__dlpack__(**kwargs)

        def __dlpack_device__(self):
            return on_gpu.__dlpack_device__()

    check(f.result(f.submit({"input": DLPackOnly()}), 5000), x)
    wide = torch.zeros((3, 2 * CHANNELS), device="cuda")[:, ::2]
    with pytest.raises(InputError, match="input 'input': expected a C-contiguous GPU array"):
        f.submit({"input": wide})
