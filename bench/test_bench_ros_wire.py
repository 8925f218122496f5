"""The detector node between processes (the full run: python -m bench.ros_wire): a no-op case
and a short 30 Hz 1080p camera go through a node in a process of its own, every frame timed.

python -m pytest bench/test_bench_ros_wire.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import ros_wire
from bench.compare import SuiteUnavailable

pytestmark = pytest.mark.ros


def check_quick_noop_cases(out_dir: Path) -> None:
    """The quick no-op cases, measured and checked (in a fresh process: see the test)."""
    cases = [
        ros_wire.Case(640, 480, "sensor_data", True, 10.0, 10),
        ros_wire.Case(1920, 1080, None, True, 30.0, 30, sustained=True),
    ]
    results, info = ros_wire.measure(cases, out_dir=out_dir, budget_s=120.0)
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


def test_quick_noop_cases_through_a_node_in_its_own_process(tmp_path):
    try:
        ros_wire._require_ros()
    except SuiteUnavailable as exc:
        pytest.skip(str(exc))
    # The camera side runs in a fresh process too: Fast DDS reads the large-frame profile
    # when a process makes its first participant, which other tests of this run may have made.
    root = Path(__file__).resolve().parent.parent
    code = (
        "from pathlib import Path; from bench.test_bench_ros_wire import check_quick_noop_cases; "
        f"check_quick_noop_cases(Path({str(tmp_path)!r}))"
    )
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-4000:]
