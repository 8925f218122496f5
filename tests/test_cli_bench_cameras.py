"""``trtpipe bench --cameras N`` on the CPU: one BatchDetector against one Detector per camera,
every frame of every camera accounted for."""

from __future__ import annotations

import json

import pytest

from trtpipe.cli import main

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.usefixtures("sample_model_path")

ARGS = ["bench", "--backend", "onnxruntime", "--input", "320x240:bgr8"]


def test_cameras_flat_out_batched_against_one_detector_each(capsys):
    assert main([*ARGS, "--cameras", "3", "--frames", "4", "--json"]) == 0
    cases = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in cases] == ["one BatchDetector", "one Detector per camera"]
    for case in cases:
        # flat out, each camera waits for its frame: none is dropped, all are detected
        assert case["cameras"] == 3 and case["detected"] == 12 and case["dropped"] == 0, case
        assert case["throughput"] > 0 and 0 < case["p50_ms"] <= case["p99_ms"], case
    assert 1.0 <= cases[0]["mean_batch"] <= 3.0


def test_paced_cameras_and_the_table(capsys):
    assert main([*ARGS, "--cameras", "2", "--frames", "3", "--fps", "50"]) == 0
    out = capsys.readouterr().out
    assert "| one BatchDetector | 2 | 50 |" in out
    assert "| one Detector per camera | 2 | 50 |" in out
    assert "batched / independent throughput:" in out


def test_a_frame_the_cameras_bench_cannot_send_is_refused_with_the_reason(caplog):
    assert main([*ARGS, "--cameras", "2", "--input", "320x240:nv12"]) == 2
    assert "expected a packed encoding with --cameras" in caplog.text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--fps", "-1"], "--fps: expected a finite number >= 0, given -1"),
        (["--frames", "0"], "--frames: expected an integer >= 1, given 0"),
    ],
)
def test_bad_numbers_are_refused_as_usage_errors(capsys, extra, message):
    with pytest.raises(SystemExit) as exit_:
        main([*ARGS, "--cameras", "2", *extra])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
