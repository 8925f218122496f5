"""The detector node between processes (the full run: python -m bench.ros_wire): a no-op case
and a short 30 Hz 1080p camera go through a node in a process of its own, every frame timed.

python -m pytest bench/test_bench_ros_wire.py
"""

from __future__ import annotations

import pytest

from bench import ros_wire
from bench.compare import SuiteUnavailable

pytestmark = pytest.mark.ros


def test_quick_noop_cases_through_a_node_in_its_own_process(tmp_path):
    try:
        ros_wire._require_ros()
    except SuiteUnavailable as exc:
        pytest.skip(str(exc))
    cases = [
        ros_wire.Case(640, 480, "sensor_data", True, 10.0, 10),
        ros_wire.Case(1920, 1080, None, True, 30.0, 30, sustained=True),
    ]
    results, info = ros_wire.measure(cases, out_dir=tmp_path, budget_s=120.0)
    assert info["exit_code"] == 0, info.get("stderr_tail")
    for r in results:
        assert not r.error, f"{r.case.label}: {r.error}\n{r.stderr_tail}"
        assert r.served >= r.sent - 2, ros_wire._loss_note(r)  # a loaded machine may lose one
        stages = r.stages()
        assert all(stages[k].size > 0 for k in ros_wire.STAGES), r.case.label
        assert (r.model() < 1e3).all()  # the no-op detector: what is left is node + transport
        assert (r.added() > 0).all()
    series = ros_wire.to_series(results)
    assert {s.impl for s in series} >= {"publish→detections", "model (detector call)"}
    assert "served" in ros_wire.summary(results)
    assert results[0].case.label in ros_wire.table(results)
