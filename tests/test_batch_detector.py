"""BatchDetector on the CPU (ONNX Runtime, the sample model): frames of several sources in one
inference give each source what a per-frame Detector gives it, in order, within the wait."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from trtpipe.errors import InputError

pytest.importorskip("onnxruntime")

from trtpipe.batch_detector import BatchDetector
from trtpipe.detector import Detector
from trtpipe.samples import SAMPLE_INPUT_SIZE, sample_images, sample_model

pytestmark = pytest.mark.usefixtures("sample_model_path")

OPTIONS = {"backend": "onnxruntime", "device": "cpu", "conf": 0.2}


def _frames() -> list[tuple[np.ndarray, str]]:
    """The sample images in several sizes and encodings."""
    colour = [image for _, image in sample_images() if image.ndim == 3 and image.shape[2] == 3]
    first = colour[0]
    second = colour[1] if len(colour) > 1 else first[::-1].copy()
    gray = first.mean(axis=2).astype(np.uint8)
    return [
        (first, "bgr8"),
        (np.ascontiguousarray(second[..., ::-1]), "rgb8"),
        (np.ascontiguousarray(first[::2, ::2]), "bgr8"),
        (gray, "mono8"),
    ]


def _same(a, b, what: str) -> None:
    assert len(a) == len(b), what
    np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-3, err_msg=what)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5, err_msg=what)
    np.testing.assert_array_equal(a.class_ids, b.class_ids, err_msg=what)


@pytest.fixture(scope="module")
def single() -> Detector:
    return Detector(sample_model(), **OPTIONS)


def test_a_batch_of_mixed_frames_equals_the_per_frame_detector(single):
    frames = _frames()
    with BatchDetector(sample_model(), max_batch=4, **OPTIONS) as batched:
        got = batched.detect_batch(frames)
        assert batched.batch_stats.batches == 1 and batched.batch_stats.frames == 4
        found = 0
        for k, ((image, encoding), dets) in enumerate(zip(frames, got, strict=True)):
            want = single(image, encoding)
            _same(dets, want, f"frame {k} ({encoding}, {image.shape})")
            found += len(want)
        assert found > 0
        by_name = batched.detect_batch({"a": frames[1], "b": frames[0]})
        _same(by_name["a"], single(*frames[1]), "by name")
        with pytest.raises(InputError, match=r"expected 1\.\.4 images, given 5"):
            batched.detect_batch(frames + frames[:1])
        with pytest.raises(InputError, match="encoding"):
            batched.detect_batch([(frames[0][0], "bogus8")])


def _batched(on_result, max_batch: int, max_wait_ms: float) -> BatchDetector:
    return BatchDetector(
        sample_model(), max_batch=max_batch, max_wait_ms=max_wait_ms, on_result=on_result, **OPTIONS
    )


class _Collector:
    """on_result: keeps each result; with ``hold``, holds the batching thread after each one
    until ``gate`` is set."""

    def __init__(self, hold: bool = False) -> None:
        self.results: list[tuple[str, object, float]] = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.expected = 0
        self.hold = hold
        self.gate = threading.Event()

    def __call__(self, source: str, dets, header) -> None:
        with self.lock:
            self.results.append((source, dets, header, time.monotonic()))
            if len(self.results) >= self.expected:
                self.done.set()
        if self.hold:
            self.gate.wait(10)


def test_sources_get_their_own_detections_in_order_with_their_headers(single):
    frames = _frames()
    collect = _Collector()
    collect.expected = 9
    with _batched(collect, 3, 20.0) as batched:
        for n in range(3):
            for k, source in enumerate(("cam0", "cam1", "cam2")):
                image, encoding = frames[(k + n) % len(frames)]
                batched.submit(source, image, encoding, header=(source, n))
            # the next round only after this one ran: no frame is replaced
            deadline = time.monotonic() + 30
            while len(collect.results) < 3 * (n + 1) and time.monotonic() < deadline:
                time.sleep(0.001)
        assert collect.done.wait(30)
        stats = batched.sources
    for source in ("cam0", "cam1", "cam2"):
        mine = [(h, d) for s, d, h, _ in collect.results if s == source]
        assert [h for h, _ in mine] == [(source, n) for n in range(3)]  # in order, own headers
        k = ("cam0", "cam1", "cam2").index(source)
        for n, (_, dets) in enumerate(mine):
            _same(dets, single(*frames[(k + n) % len(frames)]), f"{source} frame {n}")
        assert stats[source].detected == 3 and stats[source].dropped_replaced == 0


@pytest.mark.gpu
def test_on_a_gpu_submit_copies_a_pageable_frame_before_it_returns(single):
    """A pageable NumPy frame is copied into pinned memory by submit() itself: its camera may
    reuse the array at once, and each source still gets the per-frame Detector's detections
    (mixed sizes and encodings in one batch)."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx2torch")
    frames = _frames()
    collect = _Collector()
    collect.expected = len(frames)
    with BatchDetector(
        sample_model(),
        max_batch=len(frames),
        max_wait_ms=50.0,
        on_result=collect,
        backend="torch",
        device="cuda",
        conf=0.2,
    ) as batched:
        for k, (image, encoding) in enumerate(frames):
            mine = image.copy()
            batched.submit(f"cam{k}", mine, encoding, header=k)
            mine[...] = 0  # the camera's driver fills its buffer again
        assert collect.done.wait(60)
    found = 0
    for source, dets, k, _ in collect.results:
        want = single(*frames[k])
        assert len(dets) == len(want), source
        # PyTorch on the GPU against ONNX Runtime on the CPU: float32 apart by up to 0.1 px
        np.testing.assert_allclose(dets.boxes, want.boxes, atol=0.25, err_msg=source)
        np.testing.assert_array_equal(dets.class_ids, want.class_ids)
        found += len(want)
    assert found > 0


def test_a_lone_camera_waits_at_most_max_wait_plus_one_inference(single):
    image, encoding = _frames()[0]
    started = time.perf_counter()
    single(image, encoding)
    inference_s = time.perf_counter() - started
    collect = _Collector()
    collect.expected = 5
    wait_ms = 30.0
    with _batched(collect, 4, wait_ms) as batched:
        submitted = []
        for _ in range(5):
            submitted.append(time.monotonic())
            batched.submit("only", image, encoding)
            deadline = time.monotonic() + 30
            while len(collect.results) < len(submitted) and time.monotonic() < deadline:
                time.sleep(0.0005)
        stats = batched.batch_stats
    waits = [done - t0 for (_, _, _, done), t0 in zip(collect.results, submitted, strict=True)]
    bound = wait_ms / 1e3 + 3 * inference_s + 0.05  # scheduling slack on a shared CPU
    assert max(waits) <= bound, (waits, bound)
    assert min(waits) >= wait_ms / 1e3 * 0.9  # alone, it did wait for company
    assert stats.batches == 5 and stats.timed_out == 5 and stats.mean_batch == 1.0


def test_a_camera_that_stops_does_not_stall_the_others_and_only_the_newest_waits():
    frames = _frames()
    collect = _Collector(hold=True)  # the batching thread held on the first result
    collect.expected = 3  # quiet's frame, busy's first and busy's newest
    with _batched(collect, 2, 5.0) as batched:
        batched.submit("quiet", *frames[0], header="only frame")
        batched.submit("busy", *frames[1], header=0)
        time.sleep(0.3)  # the first batch runs and its callback holds the thread
        for n in range(1, 4):  # three frames of "busy" while the thread is held
            batched.submit("busy", *frames[1], header=n)
        collect.gate.set()
        assert collect.done.wait(30)
        time.sleep(0.1)  # nothing more comes
        stats = batched.sources
    headers = [(s, h) for s, _, h, _ in collect.results]
    assert ("quiet", "only frame") in headers
    assert [h for s, h in headers if s == "busy"] == [0, 3]  # the newest replaced 1 and 2
    assert stats["busy"].dropped_replaced == 2 and stats["quiet"].detected == 1


def test_a_fast_camera_keeps_its_turn_when_its_newer_frames_replace_the_waiting_one():
    frames = _frames()
    collect = _Collector(hold=True)  # the batching thread held on the first result
    collect.expected = 3
    with _batched(collect, 1, 5.0) as batched:
        batched.submit("warm", *frames[0], header="w")
        deadline = time.monotonic() + 30
        while not collect.results and time.monotonic() < deadline:
            time.sleep(0.001)
        batched.submit("fast", *frames[1], header=0)  # the oldest frame not yet served
        batched.submit("slow", *frames[0], header=0)
        batched.submit("fast", *frames[1], header=1)  # replaces fast's 0, keeps its turn
        batched.submit("fast", *frames[1], header=2)
        collect.gate.set()
        assert collect.done.wait(30)
        stats = batched.sources
    order = [(s, h) for s, _, h, _ in collect.results]
    assert order == [("warm", "w"), ("fast", 2), ("slow", 0)]
    assert stats["fast"].dropped_replaced == 2


def test_frames_waiting_at_close_are_counted_and_every_frame_is_accounted_for():
    frames = _frames()
    collect = _Collector(hold=True)
    collect.expected = 1
    batched = _batched(collect, 1, 5.0)
    batched.submit("a", *frames[0])
    assert collect.done.wait(30)  # the batching thread is held in its callback
    batched.submit("a", *frames[1])
    batched.submit("b", *frames[0])
    closing = threading.Thread(target=batched.close)
    closing.start()
    time.sleep(0.1)
    collect.gate.set()
    closing.join(30)
    assert not closing.is_alive()
    stats = batched.sources
    assert stats["a"].dropped_closed == 1 and stats["b"].dropped_closed == 1
    for s in stats.values():
        drops = s.dropped_replaced + s.dropped_bad_input + s.dropped_engine_error
        assert s.received == s.detected + drops + s.dropped_closed


def test_a_bad_frame_is_a_counted_drop_and_its_batch_goes_on():
    frames = _frames()
    collect = _Collector()
    collect.expected = 2
    with _batched(collect, 3, 50.0) as batched:
        batched.submit("good0", *frames[0])
        batched.submit("bad", np.zeros((4, 4, 3), np.float32), "bgr8")
        batched.submit("good1", *frames[1])
        assert collect.done.wait(30)
        stats = batched.sources
    assert sorted(s for s, *_ in collect.results) == ["good0", "good1"]
    assert stats["bad"].dropped_bad_input == 1 and stats["bad"].detected == 0


def test_frames_that_cannot_be_read_are_counted_drops_and_the_worker_goes_on():
    frames = _frames()
    collect = _Collector()
    collect.expected = 2
    with _batched(collect, 3, 50.0) as batched:
        batched.submit("strided", memoryview(bytes(64 * 48 * 3 * 2))[::2], "bgr8")
        batched.submit("huge", np.broadcast_to(np.uint8(0), (1 << 20, 1 << 20, 3)))
        batched.submit("good", *frames[0])
        deadline = time.monotonic() + 30
        while not collect.results and time.monotonic() < deadline:
            time.sleep(0.001)
        batched.submit("good", *frames[1])  # a later batch still runs
        assert collect.done.wait(30)
        stats = batched.sources
    assert [s for s, *_ in collect.results] == ["good", "good"]
    assert stats["strided"].dropped_bad_input == 1 and stats["huge"].dropped_bad_input == 1


def test_a_batch_that_fails_unexpectedly_is_counted_and_the_worker_goes_on(monkeypatch):
    frames = _frames()
    collect = _Collector()
    collect.expected = 1
    with _batched(collect, 2, 5.0) as batched:
        real = batched._detect
        calls = []

        def failing_once(*args):
            calls.append(args)
            if len(calls) == 1:
                raise RuntimeError("a fault outside any frame")
            return real(*args)

        monkeypatch.setattr(batched, "_detect", failing_once)
        batched.submit("cam", *frames[0])
        deadline = time.monotonic() + 30
        while batched.sources["cam"].dropped_engine_error == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        batched.submit("cam", *frames[1])
        assert collect.done.wait(30)
        stats = batched.sources
    assert stats["cam"].dropped_engine_error == 1 and stats["cam"].detected == 1


@pytest.mark.parametrize("wait", [-1, float("nan"), float("inf"), 1e300, "5", None])
def test_a_wait_that_is_not_a_sane_number_of_ms_is_refused(wait):
    with pytest.raises(InputError, match="max_wait_ms"):
        BatchDetector(sample_model(), max_wait_ms=wait, **OPTIONS)


def test_bad_arguments_raise_input_errors():
    with pytest.raises(InputError, match="max_batch"):
        BatchDetector(sample_model(), max_batch=0, **OPTIONS)
    with (
        BatchDetector(sample_model(), **OPTIONS) as batched,
        pytest.raises(InputError, match="on_result"),
    ):
        batched.submit("cam", np.zeros((8, 8, 3), np.uint8))
    batched = BatchDetector(sample_model(), on_result=lambda *a: None, **OPTIONS)
    with pytest.raises(InputError, match="source"):
        batched.submit("", np.zeros((8, 8, 3), np.uint8))
    batched.close()


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_pytorch_runs_batches_on_buckets_padded_to_the_next(device):
    """The ONNX model converted by onnx2torch at batch buckets 1, 2, 4: a batch of 3 runs on
    bucket 4 (one CUDA graph per bucket on the GPU, each bucket's head scanned there) and each
    frame's detections equal a per-frame ONNX Runtime Detector's and a per-frame Detector's on
    the same device."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx2torch")
    options = {"backend": "torch", "device": device, "conf": 0.2}
    frames = _frames()[:3]
    references = [Detector(sample_model(), **OPTIONS), Detector(sample_model(), **options)]
    with BatchDetector(sample_model(), max_batch=4, **options) as batched:
        engine = batched.detector.engine
        assert engine.batch_sizes == (1, 2, 4)
        buckets = engine._module.buckets  # the weights are one set, shared by the buckets
        assert {id(p) for p in buckets[0].parameters()} == {id(p) for p in buckets[2].parameters()}
        # three frames twice (the second time from the captured graphs), then one and two
        for batch in (frames, frames, frames[:1], frames[1:]):
            got = batched.detect_batch(batch)
            for k, ((image, encoding), dets) in enumerate(zip(batch, got, strict=True)):
                for reference in references:
                    want = reference(image, encoding)
                    what = f"frame {k}, against {reference.backend} on {reference.device}"
                    assert len(dets) == len(want), what
                    np.testing.assert_allclose(dets.boxes, want.boxes, atol=0.05, err_msg=what)
                    np.testing.assert_array_equal(dets.class_ids, want.class_ids, err_msg=what)
        paths = batched.frame_paths
        if device == "cuda":
            shapes = sorted(shape[0][0] for shape in engine._graphs)
            assert 4 in shapes and 3 not in shapes, shapes  # padded to the bucket, not its own
            # every batch ran in the frame pipeline: one per bucket used, each bucket's head
            # scanned on the GPU (the padded row of bucket 4 left undecoded)
            assert sorted(paths) == [1, 2, 4]
            assert paths[4]["frames"] == 2 and paths[1]["frames"] == paths[2]["frames"] == 1
            assert all(batched._paths[size].scanning for size in paths)
            # each batch's GPU stage times reached the monitor, read once the batch had finished
            snap = batched.detector.monitor.snapshot()
            assert snap.gpu_pending == 0
            batches = batched.batch_stats.batches
            assert batches >= 4
            assert snap.gpu["preprocess"].count == snap.gpu["inference"].count == batches
        else:
            assert paths == {1: None, 2: None, 4: None}  # engine.infer on the CPU


def test_an_engine_that_runs_at_most_two_caps_the_batches(caplog):
    """The engine's max_batch (a profile's maximum, a fixed axis, the largest bucket) caps
    max_batch, with a warning; batches of two then give each frame its own detections."""
    from trtpipe.backends.onnxruntime import OnnxRuntimeEngine

    class UpToTwo(OnnxRuntimeEngine):  # as a TensorRT engine built with the profile 1:2:2
        @property
        def max_batch(self) -> int:
            return 2

    frames = _frames()[:2]
    engine = UpToTwo(sample_model(), device="cpu")
    with caplog.at_level("WARNING", logger="trtpipe.batch_detector"):
        # an Engine given has no file to read the input size from: the sample's is given
        batched = BatchDetector(engine, max_batch=4, conf=0.2, input_size=SAMPLE_INPUT_SIZE)
    with batched:
        assert batched.max_batch == 2
        assert any("at most 2" in r.getMessage() for r in caplog.records)
        with pytest.raises(InputError, match=r"expected 1\.\.2 images, given 3"):
            batched.detect_batch(_frames()[:3])
        reference = Detector(sample_model(), **OPTIONS)
        for (image, encoding), dets in zip(frames, batched.detect_batch(frames), strict=True):
            _same(dets, reference(image, encoding), encoding)
