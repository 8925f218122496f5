"""PerformanceMonitor against independently computed answers (NumPy, hand counts, a scrape)."""

from __future__ import annotations

import json
import logging
import re
import urllib.request

import numpy as np
import pytest

from trtpipe.monitor import PerformanceMonitor
from trtpipe.monitor.prometheus import LATENCY_BUCKETS_MS


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class ScriptedEvent:
    """A CUDA-event stand-in whose completion the test controls."""

    def __init__(self, at_ms: float, done: bool = True) -> None:
        self.at_ms = at_ms
        self.done = done

    def query(self) -> bool:
        return self.done

    def elapsed_time(self, end: ScriptedEvent) -> float:
        return end.at_ms - self.at_ms


def make_monitor(**kwargs) -> PerformanceMonitor:
    kwargs.setdefault("nvml_device", None)
    return PerformanceMonitor(**kwargs)


def test_percentiles_cover_only_the_window():
    rng = np.random.default_rng(0)
    values = rng.gamma(2.0, 2.0, size=700)
    with make_monitor(window=500) as monitor:
        for value in values:
            monitor.record_frame(inference=float(value), end_to_end=float(value) + 1.0)
        stats = monitor.snapshot().host["inference"]
    recent = values[-500:]
    assert stats.count == 500
    assert stats.mean_ms == pytest.approx(recent.mean())
    assert stats.p50_ms == pytest.approx(np.percentile(recent, 50))
    assert stats.p90_ms == pytest.approx(np.percentile(recent, 90))
    assert stats.p99_ms == pytest.approx(np.percentile(recent, 99))
    assert stats.max_ms == pytest.approx(recent.max())


@pytest.mark.parametrize(
    ("times", "named", "stage"),
    [
        ((), {"inference": float("nan")}, "inference"),
        ((1.0, float("inf")), {}, "inference"),
        ((), {"end_to_end": -2.0}, "end_to_end"),
        (("3.5",), {}, "preprocess"),
    ],
)
def test_a_time_that_is_not_a_finite_number_of_ms_is_refused_and_leaves_no_trace(
    times, named, stage
):
    from trtpipe.errors import InputError

    with make_monitor() as monitor:
        monitor.record_frame(inference=2.0, end_to_end=3.0)
        with pytest.raises(InputError, match=f"^{stage}: expected"):
            monitor.record_frame(*times, **named)
        snap = monitor.snapshot()
    assert snap.frames == 1
    assert snap.host["inference"].p50_ms == 2.0 and snap.host["end_to_end"].max_ms == 3.0


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("window", 1),
        ("window", 10.5),
        ("deadline_ms", float("nan")),
        ("deadline_ms", 0),
        ("log_period_s", float("nan")),
        ("log_period_s", "5"),
        ("nvml_device", -1),
        ("nvml_device", "0"),
    ],
)
def test_settings_that_are_not_sane_are_refused_by_name(option, value):
    from trtpipe.errors import InputError

    with pytest.raises(InputError, match=f"^{option}: expected"):
        make_monitor(**{option: value})


def test_fps_and_deadline_misses():
    clock = FakeClock()
    end_to_end = [10.0, 40.0, 20.0, 33.0, 33.5, 100.0]
    with make_monitor(clock=clock, deadline_ms=33.0) as monitor:
        for value in end_to_end:
            monitor.record_frame(end_to_end=value)
            clock.now += 0.025  # 40 FPS
        snap = monitor.snapshot()
    assert snap.fps == pytest.approx(40.0)
    assert snap.deadline_misses == sum(value > 33.0 for value in end_to_end)
    assert snap.frames == len(end_to_end)
    assert snap.host["preprocess"] is None


def test_deferred_frames_count_as_recorded_ones_once_read():
    """defer_frame + settle (or any reader) give what record_frame gives frame by frame: the
    stamps are the deferral's, so FPS does not depend on when the frames are folded in."""
    end_to_end = [10.0, 40.0, 20.0, 33.5]
    clocks = FakeClock(), FakeClock()
    with (
        make_monitor(clock=clocks[0], deadline_ms=33.0) as recorded,
        make_monitor(clock=clocks[1], deadline_ms=33.0) as deferred,
    ):
        for value in end_to_end:
            recorded.record_frame(inference=value / 2, end_to_end=value)
            deferred.defer_frame(inference=value / 2, end_to_end=value)
            for clock in clocks:
                clock.now += 0.05  # 20 FPS
        assert deferred._frames == 0  # nothing folded in yet
        clocks[1].now += 10.0  # read long after: the rate is still the frames' own
        assert deferred.fps() == pytest.approx(20.0)
        want, got = recorded.snapshot(), deferred.snapshot()
    assert got.frames == want.frames == len(end_to_end)
    assert got.deadline_misses == want.deadline_misses == 2
    assert got.host == want.host
    assert got.fps == pytest.approx(want.fps)


def test_settle_folds_deferred_frames_and_completed_gpu_times_and_logs(caplog):
    clock = FakeClock()
    with make_monitor(clock=clock, log_period_s=1.0) as monitor:
        caplog.set_level(logging.INFO, logger="trtpipe.monitor")
        monitor.record_gpu("preprocess", ScriptedEvent(1.0), ScriptedEvent(1.5))
        monitor.defer_frame(inference=2.0)
        clock.now += 1.5
        assert not [r for r in caplog.records if r.name == "trtpipe.monitor"]
        monitor.settle()
        lines = [r.getMessage() for r in caplog.records if r.name == "trtpipe.monitor"]
        assert lines == ["Inference Performance - Time: 2.00ms, GPU: n/a, FPS: 0"]
        snap = monitor.snapshot()
    assert snap.frames == 1
    assert snap.gpu["preprocess"].mean_ms == pytest.approx(0.5)


def test_gpu_times_are_read_only_once_complete_and_in_order():
    with make_monitor() as monitor:
        first_end = ScriptedEvent(5.0, done=False)
        monitor.record_gpu("inference", ScriptedEvent(1.0), first_end)
        monitor.record_gpu("inference", ScriptedEvent(10.0), ScriptedEvent(12.5))
        monitor.record_frame(end_to_end=1.0)
        snap = monitor.snapshot()
        assert snap.gpu["inference"] is None  # the first pair is still running
        assert snap.gpu_pending == 2
        first_end.done = True
        snap = monitor.snapshot()
    assert snap.gpu_pending == 0
    assert snap.gpu["inference"].count == 2
    assert snap.gpu["inference"].mean_ms == pytest.approx((4.0 + 2.5) / 2)


def test_a_frames_stages_are_read_together_and_in_order_with_pairs():
    with make_monitor() as monitor:
        frame_done = [False]
        monitor.record_gpu("preprocess", ScriptedEvent(0.0), ScriptedEvent(0.25))
        monitor.record_gpu_stages(
            ("preprocess", "inference"), lambda: (0.5, 3.0) if frame_done[0] else None
        )
        monitor.record_gpu("inference", ScriptedEvent(1.0), ScriptedEvent(2.0))
        snap = monitor.snapshot()
        # the pair before the frame is read; the one after waits behind it
        assert snap.gpu["preprocess"].count == 1 and snap.gpu["inference"] is None
        assert snap.gpu_pending == 3  # intervals, the frame's two among them
        frame_done[0] = True
        snap = monitor.snapshot()
    assert snap.gpu_pending == 0
    assert snap.gpu["preprocess"].mean_ms == pytest.approx((0.25 + 0.5) / 2)
    assert snap.gpu["inference"].mean_ms == pytest.approx((3.0 + 1.0) / 2)


def test_unknown_gpu_stage_is_rejected():
    with make_monitor() as monitor:
        with pytest.raises(ValueError, match="stage"):
            monitor.record_gpu("decode", ScriptedEvent(0), ScriptedEvent(1))
        with pytest.raises(ValueError, match="stage"):
            monitor.record_gpu_stages(("preprocess", "decode"), lambda: None)
        assert monitor.snapshot().gpu_pending == 0


def test_drops_are_counted_by_reason():
    with make_monitor() as monitor:
        monitor.count_drop("bad_encoding")
        monitor.count_drop("queue_full", 3)
        monitor.count_drop("bad_encoding")
        assert monitor.snapshot().dropped_frames == {"bad_encoding": 2, "queue_full": 3}


def test_log_line_has_the_reference_form():
    with make_monitor() as monitor:
        for value in (4.0, 4.42):
            monitor.record_frame(inference=value)
        line = monitor.log_line()
    assert re.fullmatch(r"Inference Performance - Time: 4\.21ms, GPU: n/a, FPS: \d+", line)


def test_periodic_log_and_json_lines(tmp_path, caplog):
    clock = FakeClock()
    path = tmp_path / "perf.jsonl"
    with make_monitor(clock=clock, log_period_s=1.0, jsonl_path=path) as monitor:
        caplog.set_level(logging.INFO, logger="trtpipe.monitor")
        for _ in range(25):
            clock.now += 0.1  # 2.5 s of frames: two emissions
            monitor.record_frame(inference=2.0, end_to_end=3.0)
    lines = [r.getMessage() for r in caplog.records if r.name == "trtpipe.monitor"]
    assert len(lines) == 2
    assert all(line.startswith("Inference Performance - Time: 2.00ms") for line in lines)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 2
    assert records[-1]["host"]["end_to_end"]["mean_ms"] == pytest.approx(3.0)
    assert records[-1]["device"]["reason"]


def test_pool_statistics_are_reported():
    class Pool:
        def stats(self):
            return {"capacity": 1024, "in_use": 256}

    with make_monitor() as monitor:
        monitor.add_pool("device", Pool())
        assert monitor.snapshot().pools == {"device": {"capacity": 1024, "in_use": 256}}


def test_nvml_absence_is_reported_not_raised():
    with PerformanceMonitor() as monitor:
        sample = monitor.snapshot().device
    if sample.reason is None:
        pytest.skip("NVML works here")
    assert sample.utilization_pct is None
    assert "NVML" in sample.reason or "nvidia-ml-py" in sample.reason


def _scrape(port: int) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_prometheus_endpoint_over_loopback():
    pytest.importorskip("prometheus_client")
    rng = np.random.default_rng(1)
    values = rng.uniform(0.05, 60.0, size=300)
    with make_monitor(prometheus_port=0, deadline_ms=33.0) as monitor:
        for value in values:
            monitor.record_frame(inference=float(value))
        monitor.count_drop("stale", 2)
        samples = _scrape(monitor.prometheus_port)
        port = monitor.prometheus_port
    for bound in LATENCY_BUCKETS_MS:
        key = (
            "trtpipe_stage_latency_seconds_bucket",
            (("le", repr(bound / 1000.0)), ("stage", "inference")),
        )
        assert samples[key] == np.count_nonzero(values <= bound)
    inf_key = ("trtpipe_stage_latency_seconds_bucket", (("le", "+Inf"), ("stage", "inference")))
    assert samples[inf_key] == len(values)
    sum_key = ("trtpipe_stage_latency_seconds_sum", (("stage", "inference"),))
    assert samples[sum_key] == pytest.approx(values.sum() / 1000.0)
    assert samples[("trtpipe_frames_total", ())] == len(values)
    assert samples[("trtpipe_dropped_frames_total", (("reason", "stale"),))] == 2
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


@pytest.mark.gpu
def test_gpu_time_from_real_cuda_events():
    torch = pytest.importorskip("torch")
    pairs = []
    with make_monitor() as monitor:
        for _ in range(5):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            torch.cuda._sleep(20_000_000)  # spin the GPU for several milliseconds
            end.record()
            pairs.append((start, end))
            monitor.record_gpu("inference", start, end)
            monitor.record_frame(inference=0.01)
        torch.cuda.synchronize()
        stats = monitor.snapshot().gpu["inference"]
    expected = [start.elapsed_time(end) for start, end in pairs]
    assert stats.count == 5
    assert stats.mean_ms == pytest.approx(np.mean(expected))
    assert stats.p50_ms > 1.0


@pytest.mark.gpu
def test_nvml_reads_the_gpu():
    from trtpipe import _core

    with PerformanceMonitor(nvml_device=0) as monitor:
        sample = monitor.snapshot().device
    if sample.reason and "not installed" in sample.reason:
        pytest.skip(sample.reason)
    assert sample.reason is None
    assert 0.0 <= sample.utilization_pct <= 100.0
    total = _core.query_devices()["gpus"][0]["total_memory"]
    assert sample.memory_total_bytes == pytest.approx(total, rel=0.05)
    assert sample.temperature_c > 0


def test_closing_while_another_thread_records_and_logs_raises_nothing(tmp_path):
    import threading

    errors: list[BaseException] = []
    for trial in range(60):
        path = tmp_path / f"{trial}.jsonl"
        monitor = make_monitor(log_period_s=1e-9, jsonl_path=path)
        stop = threading.Event()

        def record(m: PerformanceMonitor = monitor, done: threading.Event = stop) -> None:
            try:
                while not done.is_set():
                    m.record_frame(inference=1.0, end_to_end=2.0)
            except BaseException as exc:  # reported below
                errors.append(exc)

        thread = threading.Thread(target=record)
        thread.start()
        while not path.exists() or path.stat().st_size == 0:
            pass  # the thread writes its first line
        monitor.close()
        stop.set()
        thread.join(10)
        for line in path.read_text().splitlines():
            json.loads(line)  # every line written whole
    assert not errors, errors[:3]


def test_a_metrics_port_in_use_is_an_input_error_naming_it():
    import socket

    from trtpipe.errors import InputError

    pytest.importorskip("prometheus_client")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            InputError, match=f"prometheus_port: cannot serve /metrics on 127.0.0.1:{port}"
        ):
            make_monitor(prometheus_port=port)
