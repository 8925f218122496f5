"""The CUDA-event ring that times preprocessing and inference, against scripted GPU timelines:
each interval the monitor reports is the one its frame recorded, never a later frame's."""

from __future__ import annotations

import pytest

from trtpipe.monitor import PerformanceMonitor
from trtpipe.stage_events import RING_SIZE, StageEventRing


class FakeStream:
    """A GPU timeline: events recorded now get ``now`` and complete when ``running`` is False."""

    def __init__(self) -> None:
        self.now = 0.0
        self.running = False


class FakeEvent:
    def __init__(self) -> None:
        self.at_ms: float | None = None
        self.stream: FakeStream | None = None
        self.done = False

    def record(self, stream: FakeStream) -> None:
        self.at_ms, self.stream, self.done = stream.now, stream, not stream.running

    def query(self) -> bool:
        return self.done

    def elapsed_time(self, end: FakeEvent) -> float:
        assert self.done and end.done, "read before completion"
        return end.at_ms - self.at_ms

    def stage_times(self, between: FakeEvent, after: FakeEvent | None = None):
        # as _core.TimingEvent: the last event tells; an earlier one may not be read before
        if not (after or between).done:
            return None
        first = self.elapsed_time(between)
        return (first,) if after is None else (first, between.elapsed_time(after))


def run_frame(ring: StageEventRing, stream: FakeStream, pre_ms: float, inf_ms: float):
    marks = ring.take()
    marks.before.record(stream)
    stream.now += pre_ms
    marks.between.record(stream)
    stream.now += inf_ms
    if ring.inference:
        marks.after.record(stream)
    ring.hand_over(marks)
    stream.now += 1.0
    return marks


def monitor() -> PerformanceMonitor:
    return PerformanceMonitor(nvml_device=None, window=1000)


def test_intervals_reach_the_monitor_and_triples_are_reused():
    stream, made = FakeStream(), []

    def make():
        made.append(FakeEvent())
        return made[-1]

    with monitor() as mon:
        ring = StageEventRing(make, mon)
        pre = [0.5 + 0.01 * i for i in range(50)]
        inf = [3.0 + 0.1 * i for i in range(50)]
        for p, i in zip(pre, inf, strict=True):
            run_frame(ring, stream, p, i)
            mon.record_frame(end_to_end=1.0)  # drains what completed
            assert mon.snapshot().gpu_pending == 0
        snap = mon.snapshot()
    assert len(made) == 3 * RING_SIZE and ring.replaced == 0
    assert snap.gpu["preprocess"].count == 50
    assert snap.gpu["preprocess"].mean_ms == pytest.approx(sum(pre) / 50)
    assert snap.gpu["inference"].max_ms == pytest.approx(max(inf))
    assert snap.gpu["inference"].mean_ms == pytest.approx(sum(inf) / 50)


def test_unread_triples_are_not_recorded_over():
    stream = FakeStream()
    with monitor() as mon:
        ring = StageEventRing(FakeEvent, mon)
        stream.running = True  # the GPU is behind: nothing completes for a while
        frames = [run_frame(ring, stream, 1.0 + i, 10.0 + i) for i in range(3 * RING_SIZE)]
        assert mon.snapshot().gpu_pending == 2 * len(frames)
        assert ring.replaced == 2 * RING_SIZE
        for marks in frames:  # the GPU catches up
            for event in (marks.before, marks.between, marks.after):
                event.done = True
        snap = mon.snapshot()
    n = len(frames)
    assert snap.gpu_pending == 0
    assert snap.gpu["preprocess"].count == n
    assert snap.gpu["preprocess"].mean_ms == pytest.approx(sum(1.0 + i for i in range(n)) / n)
    assert snap.gpu["inference"].mean_ms == pytest.approx(sum(10.0 + i for i in range(n)) / n)


def test_preprocess_only_for_engines_with_their_own_streams():
    stream = FakeStream()
    with monitor() as mon:
        ring = StageEventRing(FakeEvent, mon, inference=False)
        marks = run_frame(ring, stream, 2.0, 7.0)
        snap = mon.snapshot()
    assert marks.after.at_ms is None  # never recorded
    assert snap.gpu["preprocess"].mean_ms == pytest.approx(2.0)
    assert snap.gpu["inference"] is None


@pytest.mark.gpu
def test_core_timing_events_time_work_on_a_raw_stream():
    torch = pytest.importorskip("torch")
    from trtpipe.stage_events import cuda_event_source

    stream = torch.cuda.Stream()
    make, handle = cuda_event_source(0, stream.cuda_stream)
    start, end = make(), make()
    start.record(handle)
    with torch.cuda.stream(stream):
        torch.cuda._sleep(50_000_000)  # clock cycles: tens of milliseconds on any GPU
    end.record(handle)
    assert not end.query()  # the sleep is still running
    stream.synchronize()
    assert start.query() and end.query()
    assert start.elapsed_time(end) > 5.0


@pytest.mark.gpu
def test_core_stage_times_read_a_frame_once_its_last_event_completed():
    torch = pytest.importorskip("torch")
    from trtpipe.stage_events import cuda_event_source

    stream = torch.cuda.Stream()
    make, handle = cuda_event_source(0, stream.cuda_stream)
    before, between, after = make(), make(), make()
    before.record(handle)
    with torch.cuda.stream(stream):
        torch.cuda._sleep(20_000_000)
    between.record(handle)
    with torch.cuda.stream(stream):
        torch.cuda._sleep(50_000_000)
    after.record(handle)
    assert before.stage_times(between, after) is None  # still running: None, not an error
    stream.synchronize()
    pre, inference = before.stage_times(between, after)
    # the oracle: the same intervals read pair by pair
    assert pre == pytest.approx(before.elapsed_time(between))
    assert inference == pytest.approx(between.elapsed_time(after))
    assert inference > pre > 1.0
    assert before.stage_times(between) == (pytest.approx(pre),)
