"""TensorRTEngine (the Python backend) over _core's runner, with the test model as the engine."""

from __future__ import annotations

import numpy as np
import pytest

from core_testing import core_testing
from trtpipe.backends.base import Engine, Profile, TensorInfo
from trtpipe.errors import EngineError

pytestmark = pytest.mark.gpu


def make_engine(**kwargs):
    from trtpipe.backends.tensorrt import TensorRTEngine

    m = core_testing().ScaleModel(
        channels=3, profiles=[(1, 2, 6)], scale=0.5, bias=-2.0, delay_us=kwargs.pop("delay_us", 0)
    )
    return TensorRTEngine.from_model(m, **kwargs), m


def test_io_table_and_profiles():
    engine, _ = make_engine()
    assert isinstance(engine, Engine)
    assert engine.backend == "tensorrt"
    assert engine.device == "cuda:0"
    assert engine.inputs == [TensorInfo("input", (-1, 3), np.dtype(np.float32), True)]
    assert [t.name for t in engine.outputs] == ["scaled", "row_sum"]
    assert engine.outputs[1].shape == (-1,) and engine.outputs[1].is_dynamic
    assert engine.profiles == [
        Profile(min={"input": (1, 3)}, opt={"input": (2, 3)}, max={"input": (6, 3)})
    ]


def test_infer_and_pipelined_submit_match_numpy():
    engine, _ = make_engine(slots=2)
    xs = [np.arange(n * 3, dtype=np.float32).reshape(n, 3) for n in (1, 4, 6)]
    for x in xs:
        out = engine.infer({"input": x})
        np.testing.assert_allclose(out["scaled"], x * 0.5 - 2.0, rtol=1e-6)
        np.testing.assert_allclose(out["row_sum"], (x * 0.5 - 2.0).sum(axis=1), rtol=1e-5)
    pending = [engine.submit({"input": x}) for x in xs[:2]]
    for p, x in zip(pending, xs[:2], strict=True):
        np.testing.assert_allclose(engine.result(p)["scaled"], x * 0.5 - 2.0, rtol=1e-6)
    assert engine.stats["completed"] == 5


def test_result_timeout_and_close():
    engine, _ = make_engine(delay_us=300_000)
    pending = engine.submit({"input": np.ones((2, 3), np.float32)})
    with pytest.raises(EngineError, match="did not finish"):
        engine.result(pending, timeout=0.01)
    np.testing.assert_allclose(engine.result(pending, timeout=5)["scaled"], -1.5)
    other, _ = make_engine()
    with pytest.raises(TypeError):
        engine.result(other.submit({"input": np.ones((1, 3), np.float32)}))
    engine.close()
    with pytest.raises(EngineError, match="closed"):
        engine.infer({"input": np.ones((1, 3), np.float32)})


def test_inputs_as_a_list_and_outputs_as_views():
    engine, _ = make_engine(slots=1)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(engine.infer([x])["scaled"], x * 0.5 - 2.0, rtol=1e-6)
    views = engine.result(engine.submit((x,)), copy=False)
    np.testing.assert_allclose(views["scaled"], x * 0.5 - 2.0, rtol=1e-6)
    assert not views["scaled"].flags.owndata
    kept = np.array(views["scaled"])
    engine.infer([x + 10])  # one slot: reused, so the views now hold that frame
    np.testing.assert_allclose(views["scaled"], (x + 10) * 0.5 - 2.0, rtol=1e-6)
    np.testing.assert_allclose(kept, x * 0.5 - 2.0, rtol=1e-6)
