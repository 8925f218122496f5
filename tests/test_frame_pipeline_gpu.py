"""The Detector's one native frame pipeline (trtpipe.frame_pipeline) over a PyTorch CUDA graph and
over a TensorRT-shaped engine (the test GraphModel around the same graph) against the
engine-per-frame path on the same model (pool buffers, engine.submit), the oracle, for frames on
the GPU, in pinned and in pageable memory; its slots, errors and counters; the GPU head scan of
batch-1 and batched heads (BatchDetector's buckets) against the CPU decoders; models with several
inputs and a batch axis through the same pipeline."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from core_testing import core_testing
from onnx_models import coco_model, detector_model
from trtpipe.decode.detections import Detections
from trtpipe.errors import EngineError, InputError

pytestmark = pytest.mark.gpu


def _torch_with_graph_handles():
    """PyTorch, where it runs on a GPU and gives out its graphs' cudaGraphExec_t (else skip)."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch.cuda.is_available() is False")
    if not hasattr(torch.cuda.CUDAGraph, "raw_cuda_graph_exec"):
        pytest.skip(f"PyTorch {torch.__version__} gives out no cudaGraphExec_t")
    return torch


def _model(which: str):
    """The sample model (YOLOv4-tiny, a YOLOv5-layout head) or NudeNet's YOLOv8n."""
    if which == "yolov5":
        return coco_model()  # or a skip with the reason
    path = detector_model()
    if path is None:
        pytest.skip("nudenet (which ships the YOLOv8n detector model) is not installed")
    return path


def _detectors(monkeypatch, head: str = "yolov5", **kwargs):
    pytest.importorskip("onnxruntime")
    model = _model(head)
    if importlib.util.find_spec("skimage") is None:  # its data files, not an import
        pytest.skip("scikit-image is not installed")
    pytest.importorskip("onnx2torch")
    torch = _torch_with_graph_handles()
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    from trtpipe.detector import Detector

    graph = Detector(model, backend="torch", **kwargs)
    engine = Detector(model, backend="torch", zero_copy=False, **kwargs)
    assert graph.frame_path == "pipeline" and engine.frame_path == "engine"
    return graph, engine


def _frames():
    """The sample photos as NumPy frames, in pinned memory and on the GPU, plus a padded one."""
    import torch

    from trtpipe.memory import PinnedPool
    from trtpipe.samples import sample_images

    images = [image for _, image in sample_images()]
    pool = PinnedPool(sum(i.nbytes + 256 for i in images))
    frames = []
    for image in images:
        pinned = np.asarray(pool.empty(image.shape, np.uint8))
        pinned[...] = image
        frames += [("pageable", image), ("pinned", pinned), ("gpu", torch.from_numpy(image).cuda())]
    h, w, _ = images[0].shape
    padded = np.zeros((h, w + 8, 3), np.uint8)
    padded[:, :w] = images[0]
    frames.append(("padded rows", padded[:, :w]))
    frames.append(("padded rows on the GPU", torch.from_numpy(padded).cuda()[:, :w]))
    return frames, pool


def _same(got: Detections, want: Detections, what: str) -> None:
    assert got.labels == want.labels, what
    np.testing.assert_array_equal(got.class_ids, want.class_ids, err_msg=what)
    np.testing.assert_allclose(got.boxes, want.boxes, atol=1e-3, err_msg=what)
    np.testing.assert_allclose(got.scores, want.scores, atol=1e-5, err_msg=what)


@pytest.mark.parametrize("head", ["yolov5", "yolov8"])
def test_pipeline_equals_engine_path_for_every_frame_source(monkeypatch, head):
    graph, engine = _detectors(monkeypatch, head)
    assert graph._pipeline.scanning  # the head is scanned on the GPU
    frames, _pool = _frames()
    found = 0
    for what, frame in frames:
        want = engine(frame)
        _same(graph(frame), want, what)
        found += len(want)
    assert found > 0  # the comparison saw boxes
    assert engine.decoder == head  # the model's head is of the format asked for
    assert set(graph.last_timings) == {"preprocess", "inference", "postprocess", "end_to_end"}
    assert graph.monitor.snapshot().pools["detector_outputs"]["in_use"] > 0


def test_frames_in_flight_keep_their_own_output_slots(monkeypatch):
    graph, engine = _detectors(monkeypatch)
    frames, _pool = _frames()
    want = [engine(frame) for _, frame in frames]
    got = []
    ticket = graph.submit(frames[0][1])
    for _, frame in frames[1:]:
        following = graph.submit(frame)  # the other slot, while this one is still unread
        got.append(graph.result(ticket))
        ticket = following
    got.append(graph.result(ticket))
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        _same(a, b, f"frame {i} ({frames[i][0]})")


def test_detections_that_view_a_slot_are_copied_out_of_it(monkeypatch):
    # a class filter: the whole output reaches the host, and the decoder reads it in place
    graph, _ = _detectors(monkeypatch, classes=list(range(18)))
    assert not graph._pipeline.scanning
    with pytest.raises(InputError, match="scan"):  # no candidates to decode natively
        graph._pipeline._native.wait_scanned(0, 0.45, 10, False)
    frames, _pool = _frames()
    graph(frames[0][1])  # the decoder is chosen on the first frame

    def viewing_decoder(outputs, transform):
        (out,) = outputs.values()  # [1, 4 + C, N]: the first five anchors, viewed in place
        return Detections(out[0, :4, :5].T, out[0, 4, :5], np.zeros(5, np.int64))

    monkeypatch.setattr(graph, "_decode_frame", viewing_decoder)
    first = graph(frames[0][1])
    kept = (first.boxes.copy(), first.scores.copy())
    for _, frame in frames[3:9]:  # other photos through both slots
        graph(frame)
    np.testing.assert_array_equal(first.boxes, kept[0])
    np.testing.assert_array_equal(first.scores, kept[1])


def test_bad_frames_raise_and_leave_the_slots_usable(monkeypatch):
    graph, engine = _detectors(monkeypatch)
    frames, _pool = _frames()
    image = frames[0][1]
    with pytest.raises(InputError, match="uint8"):
        graph(image.astype(np.float32))
    with pytest.raises(InputError, match="uint8"):
        graph(frames[2][1].float())  # a float tensor on the GPU
    with pytest.raises(InputError):
        graph.detect_bytes(image.tobytes()[:-1], image.shape[1], image.shape[0], "bgr8")
    with pytest.raises(InputError, match="encoding"):
        graph.detect_bytes(image.tobytes(), image.shape[1], image.shape[0], "bgr9")
    with pytest.raises(InputError, match="slot"):
        graph._pipeline.wait(7)
    with pytest.raises(InputError, match="slot"):
        graph._pipeline.wait_scanned(7, graph._pre.geometry(image.shape[1], image.shape[0]))
    _same(graph(image), engine(image), "after the bad frames")
    assert graph.monitor.snapshot().dropped_frames.get("engine_error", 0) == 0


def test_close_releases_the_model_step(monkeypatch):
    graph, _ = _detectors(monkeypatch)
    frames, _pool = _frames()
    graph(frames[0][1])
    graph.close()
    assert graph.frame_path == "engine"
    with pytest.raises(EngineError, match="close"):
        graph(frames[0][1])


def _fixed_head_engine(heads, batch_sizes=None):
    """A PyTorch engine (CUDA graphs) on 64×64 inputs whose model outputs, for a batch of B
    images, the first B rows of ``heads`` ([rows, ...], a buffer the test rewrites between
    frames) whatever the images; its batch axis fixed at ``len(heads)``, or dynamic and run at
    the buckets ``batch_sizes``."""
    torch = _torch_with_graph_handles()
    from trtpipe.backends.torch import TorchEngine

    class FixedHead(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("head", torch.from_numpy(heads).clone())
            if batch_sizes:
                self.batch_sizes = batch_sizes  # as a model converted at buckets

        def forward(self, x):
            rows = x.shape[0]
            return self.head[:rows] + x[:, :1, :1, :1].reshape(rows, 1, 1) * 0

    module = FixedHead()
    batch = -1 if batch_sizes else len(heads)
    engine = TorchEngine(module, device="cuda", input_shapes={"images": (batch, 3, 64, 64)})
    return engine, module


def _fixed_head_detector(head, **kwargs):
    """A Detector over a PyTorch CUDA graph whose model outputs ``head`` (a buffer the test
    rewrites between frames) whatever the image, on a 64×64 input (letterbox: identity)."""
    from trtpipe.detector import Detector

    engine, module = _fixed_head_engine(head[None])
    return Detector(engine, **kwargs), module


def _random_head(rng, classes: int, anchors: int) -> np.ndarray:
    head = np.empty((4 + classes, anchors), np.float32)
    head[:2] = rng.random((2, anchors)) * 64
    head[2:4] = rng.random((2, anchors)) * 20 + 1
    head[4:] = np.round(rng.random((classes, anchors)) * 8) / 8  # ties between classes, anchors
    head[4:][rng.random((classes, anchors)) < 0.03] = np.nan
    head[4, :7] = 0.25  # equal to the threshold: never kept
    return head


@pytest.mark.parametrize("classes, anchors", [(1, 300), (7, 2100), (80, 8400)])
def test_gpu_head_scan_decodes_as_the_cpu_decoder(classes, anchors):
    from trtpipe.decode import decode_yolov8

    rng = np.random.default_rng(classes)
    det, module = _fixed_head_detector(_random_head(rng, classes, anchors), max_detections=500)
    assert det.frame_path == "pipeline" and det._pipeline.scanning
    frame = rng.integers(0, 256, (64, 64, 3), np.uint8)
    lb = det._pre.letterbox(64, 64)
    for _ in range(4):
        head = _random_head(rng, classes, anchors)
        module.head.copy_(module.head.new_tensor(head[None]))
        got = det(frame)
        (want,) = decode_yolov8(head[None], conf=0.25, iou=0.45, max_detections=500, transforms=lb)
        assert len(want) > 0
        np.testing.assert_array_equal(got.boxes, want.boxes)
        np.testing.assert_array_equal(got.scores, want.scores)
        np.testing.assert_array_equal(got.class_ids, want.class_ids)


def _random_yolov5_head(rng, classes: int, anchors: int) -> np.ndarray:
    head = np.empty((anchors, 5 + classes), np.float32)
    head[:, :2] = rng.random((anchors, 2)) * 64
    head[:, 2:4] = rng.random((anchors, 2)) * 20 + 1
    head[:, 4:] = np.round(rng.random((anchors, 1 + classes)) * 8) / 8  # ties
    head[:, 4:][rng.random((anchors, 1 + classes)) < 0.03] = np.nan
    head[:9, 4] = 0.25  # objectness equal to the threshold: never kept
    return head


@pytest.mark.parametrize("classes, anchors", [(1, 300), (80, 2535), (80, 25200)])
def test_gpu_yolov5_head_scan_decodes_as_the_cpu_decoder(classes, anchors):
    from trtpipe.decode import decode_yolov5

    rng = np.random.default_rng(100 + classes)
    det, module = _fixed_head_detector(
        _random_yolov5_head(rng, classes, anchors), max_detections=500, decoder="yolov5"
    )
    assert det.frame_path == "pipeline" and det._pipeline.scanning
    frame = rng.integers(0, 256, (64, 64, 3), np.uint8)
    lb = det._pre.letterbox(64, 64)
    for _ in range(4):
        head = _random_yolov5_head(rng, classes, anchors)
        module.head.copy_(module.head.new_tensor(head[None]))
        got = det(frame)
        (want,) = decode_yolov5(head[None], conf=0.25, iou=0.45, max_detections=500, transforms=lb)
        assert len(want) > 0
        np.testing.assert_array_equal(got.boxes, want.boxes)
        np.testing.assert_array_equal(got.scores, want.scores)
        np.testing.assert_array_equal(got.class_ids, want.class_ids)


# frame sizes (h, w) of a batch: each row with a letterbox of its own
_BATCH_SIZES_HW = [(80, 100), (64, 64), (30, 90), (120, 50)]


def _random_heads(rng, fmt: str, rows: int, filled: int) -> np.ndarray:
    """``rows`` random heads of ``fmt`` (80 classes) stacked as a batch; the rows past
    ``filled`` (a batch's padding) full of passing anchors, which no filled row may show."""
    if fmt == "yolov8":
        heads = np.stack([_random_head(rng, 80, 2100) for _ in range(rows)])
        heads[filled:, 4:] = 0.9
    else:
        heads = np.stack([_random_yolov5_head(rng, 80, 2535) for _ in range(rows)])
        heads[filled:, :, 4:] = 0.9
    return heads


def _cpu_decoded(fmt: str, heads: np.ndarray, transforms, **options) -> list[Detections]:
    """The CPU decoder of ``fmt`` on the whole batch, row k with ``transforms[k]``."""
    from trtpipe.decode import decode_yolov5, decode_yolov8

    decoder = decode_yolov8 if fmt == "yolov8" else decode_yolov5
    return decoder(heads, conf=0.25, iou=0.45, max_detections=500, transforms=transforms, **options)


def _same_exactly(got: Detections, want: Detections, what: str) -> None:
    np.testing.assert_array_equal(got.boxes, want.boxes, err_msg=what)
    np.testing.assert_array_equal(got.scores, want.scores, err_msg=what)
    np.testing.assert_array_equal(got.class_ids, want.class_ids, err_msg=what)


@pytest.mark.parametrize("fmt", ["yolov8", "yolov5"])
def test_gpu_head_scan_decodes_each_batch_row_as_the_cpu_decoder(fmt):
    """A head of four batch rows scanned on the GPU in one launch, each row into its own
    candidates: the rows a batch fills, each decoded with its own frame's letterbox, equal the
    CPU decoder's on the same head; the padded rows past them (full of candidates) are not
    decoded and change nothing."""
    from trtpipe.decode.common import DecodeOptions
    from trtpipe.frame_pipeline import FramePipeline
    from trtpipe.preprocess import Preprocessor, locate_frame

    rng = np.random.default_rng(11)
    engine, module = _fixed_head_engine(_random_heads(rng, fmt, 4, 4))
    step = engine.model_step({"images": (4, 3, 64, 64)})
    options = DecodeOptions(conf=0.25, iou=0.45, max_detections=500)
    pipe = FramePipeline.build(Preprocessor(size=(64, 64), device="cuda"), step, 2, fmt, options)
    assert pipe.scanning and pipe._native.scan_rows == 4
    images = [rng.integers(0, 256, (h, w, 3), np.uint8) for h, w in _BATCH_SIZES_HW]
    stream = step.current_stream()
    for k, filled in enumerate((4, 3, 1, 2, 4)):
        heads = _random_heads(rng, fmt, 4, filled)
        module.head.copy_(module.head.new_tensor(heads))
        located = [locate_frame(image, "bgr8", None, None, None) for image in images[:filled]]
        rows = [(frame, 0, row) for row, (frame, _) in enumerate(located)]
        slot = k % pipe._native.slots
        transforms = pipe.submit_frames(rows, None, slot, stream)
        assert len({t.source_terms for t in transforms}) == filled  # a letterbox per frame
        got, _ = pipe.wait_scanned_rows(slot, transforms)
        want = _cpu_decoded(fmt, heads, transforms + [None] * (4 - filled))[:filled]
        assert len(got) == filled and all(len(w) > 0 for w in want)
        for row, (a, b) in enumerate(zip(got, want, strict=True)):
            _same_exactly(a, b, f"batch {k}, row {row} of {filled}")
        first, _ = pipe.wait_scanned(slot, transforms[0])  # one frame's call: row 0
        _same_exactly(first, want[0], f"batch {k}, row 0 alone")
    native = pipe._native
    with pytest.raises(InputError, match=r"1\.\.4, given 5"):
        native.wait_scanned_rows(0, 0.45, 10, False, [None] * 5)
    with pytest.raises(InputError, match=r"1\.\.4, given 0"):
        native.wait_scanned_rows(0, 0.45, 10, False, [])


def test_the_scan_takes_a_head_of_the_image_inputs_batch_rows():
    """A head is scanned per batch row only where its rows are the image input's (one row per
    frame) and no class filter asks for the whole output."""
    from trtpipe.decode.common import DecodeOptions
    from trtpipe.frame_pipeline import FramePipeline, _scan_output
    from trtpipe.preprocess import Preprocessor

    rng = np.random.default_rng(12)
    engine, _ = _fixed_head_engine(_random_heads(rng, "yolov8", 4, 4))
    step = engine.model_step({"images": (4, 3, 64, 64)})
    outputs = step.native.outputs
    assert _scan_output("yolov8", outputs, DecodeOptions(), 4) == (0, False)
    assert _scan_output("yolov8", outputs, DecodeOptions(), 2) == (-1, False)
    assert _scan_output("yolov8", outputs, DecodeOptions(classes=(1,)), 4) == (-1, False)
    pipe = FramePipeline.build(Preprocessor(size=(64, 64), device="cuda"), step, 1, "yolov8")
    assert pipe.scanning and pipe._native.scan_rows == 4


@pytest.mark.parametrize("fmt", ["yolov8", "yolov5"])
def test_a_batch_detector_scans_every_bucket_on_the_gpu_as_the_cpu_decoder(fmt):
    """BatchDetector on CUDA over an engine run at buckets 1, 2, 4: every bucket's head is
    scanned on the GPU (one submit and one wait crossing per batch), and each frame's
    detections equal the CPU decoder's on its row with its own letterbox, a batch of three
    padded to four included."""
    from trtpipe.batch_detector import BatchDetector

    rng = np.random.default_rng(13)
    engine, module = _fixed_head_engine(_random_heads(rng, fmt, 4, 4), batch_sizes=(1, 2, 4))
    images = [rng.integers(0, 256, (h, w, 3), np.uint8) for h, w in _BATCH_SIZES_HW]
    with BatchDetector(engine, max_batch=4, max_detections=500, decoder=fmt) as batched:
        pre = batched.detector.preprocessor
        for k, filled in enumerate((3, 4, 1, 2, 3)):
            bucket = next(size for size in (1, 2, 4) if size >= filled)
            heads = _random_heads(rng, fmt, 4, filled)
            module.head.copy_(module.head.new_tensor(heads))
            if k == 4:  # bucket 4 again, its path made: count the native calls of a batch
                counting = _CountingNative(batched._paths[4]._native)
                batched._paths[4]._native = counting
            got = batched.detect_batch(images[:filled])
            transforms = [pre.letterbox(image.shape[1], image.shape[0]) for image in images]
            pad = [None] * (bucket - filled)
            want = _cpu_decoded(fmt, heads[:bucket], transforms[:filled] + pad)[:filled]
            assert len(got) == filled and all(len(w) > 0 for w in want)
            for row, (a, b) in enumerate(zip(got, want, strict=True)):
                _same_exactly(a, b, f"batch {k}, row {row} of {filled} (bucket {bucket})")
        assert sorted(batched._paths) == [1, 2, 4]
        assert all(path.scanning for path in batched._paths.values())
        assert counting.calls == {"submit_inputs": 1, "wait_scanned_rows": 1}


def test_a_class_filter_decodes_the_whole_output_on_the_host():
    from trtpipe.decode import decode_yolov8

    rng = np.random.default_rng(5)
    head = _random_head(rng, 6, 900)
    det, _ = _fixed_head_detector(head, classes=[1, 4])
    assert det.frame_path == "pipeline" and not det._pipeline.scanning
    got = det(rng.integers(0, 256, (64, 64, 3), np.uint8))
    lb = det._pre.letterbox(64, 64)
    (want,) = decode_yolov8(head[None], conf=0.25, iou=0.45, classes=[1, 4], transforms=lb)
    assert len(want) > 0 and set(got.class_ids.tolist()) <= {1, 4}
    np.testing.assert_array_equal(got.boxes, want.boxes)
    np.testing.assert_array_equal(got.class_ids, want.class_ids)


# -- a TensorRT-shaped engine takes the same route ---------------------------------------------


def _tensorrt_shaped(torch_detector):
    """A TensorRTEngine over the test GraphModel around the torch Detector's own captured graph:
    an engine shaped like TensorRT (io table, a context with bound addresses, enqueue), with the
    real network's outputs; and the GraphModel, for its counters."""
    from trtpipe.backends.tensorrt import TensorRTEngine

    engine = torch_detector.engine
    step = engine.model_step({engine.inputs[0].name: torch_detector._input_shape()})
    model = core_testing().GraphModel(step.native)
    return TensorRTEngine.from_model(model, device="cuda:0"), model


class _CountingNative:
    """Stands in for a FramePipeline's native object, counting the calls made into it."""

    def __init__(self, native):
        self._native = native
        self.calls = {}

    def __getattr__(self, name):
        attr = getattr(self._native, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            return attr(*args, **kwargs)

        return call


def test_a_tensorrt_shaped_engine_takes_the_same_native_route(monkeypatch):
    from trtpipe.detector import Detector

    graph, engine = _detectors(monkeypatch)
    trt_engine, model = _tensorrt_shaped(graph)
    trt = Detector(trt_engine, labels=graph.labels)
    assert trt.backend == "tensorrt" and trt.frame_path == "pipeline" and trt._pipeline.scanning
    frames, _pool = _frames()
    found = 0
    for what, frame in frames:
        want = engine(frame)
        _same(trt(frame), want, f"TensorRT-shaped, {what}")
        found += len(want)
    assert found > 0
    # the context is enqueued by the first frame, then once into each slot's frame graph;
    # every later frame is that graph's launch. The engine's own loop is never made.
    stats = trt.frame_graph_stats
    assert 0 < stats.pop("argument_updates") <= stats["graph_frames"]  # frames of many sources
    assert stats == {
        "frames": len(frames),
        "graph_frames": len(frames) - 1,
        "step_frames": 1,
        "captures": 2,
        "reshapes": 0,
        "timeouts": 0,
        "uncaptured_frames": 0,
        "stopped": "",
    }
    assert model.counters() == {"contexts": 1, "enqueues": 1 + stats["captures"]}
    assert type(trt_engine._frames).__name__ == "_LazyFrames"


@pytest.mark.parametrize("head", ["yolov5", "yolov8"])
@pytest.mark.parametrize("which", ["torch graph", "TensorRT-shaped"])
def test_one_submit_and_one_wait_crossing_per_frame(monkeypatch, which, head):
    from trtpipe.detector import Detector

    graph, _ = _detectors(monkeypatch, head)
    det = graph
    if which == "TensorRT-shaped":
        det = Detector(_tensorrt_shaped(graph)[0], labels=graph.labels)

    def no_engine_call(*args, **kwargs):
        raise AssertionError("the engine was called per frame")

    monkeypatch.setattr(det.engine, "submit", no_engine_call)
    monkeypatch.setattr(det.engine, "result", no_engine_call)
    counting = _CountingNative(det._pipeline._native)
    monkeypatch.setattr(det._pipeline, "_native", counting)
    frames, _pool = _frames()
    gpu_frames = [f for what, f in frames if what == "gpu"]
    for frame in gpu_frames:
        det(frame)
    assert counting.calls == {"submit": len(gpu_frames), "wait_scanned": len(gpu_frames)}


# -- a frame as one CUDA graph ---------------------------------------------------------------


def _pipelines(det, step_native):
    """Two native pipelines over ``step_native`` with the Detector's preprocessing: frames as
    one CUDA graph, and step by step (the oracle)."""
    from trtpipe import _core

    pre = det._pre.gpu_core()
    return (
        _core.FramePipeline(step_native, pre, slots=2, graphs=True),
        _core.FramePipeline(step_native, pre, slots=2, graphs=False),
    )


def _outputs_of(pipe, frames, stream, marks=lambda k: (None, None, None)):
    from trtpipe.preprocess import locate_frame

    got = []
    for k, (_, image) in enumerate(frames):
        frame, keep = locate_frame(image, None, None, None, None)
        slot = k % pipe.slots
        pipe.submit(frame, slot, stream, *marks(k))
        pipe.wait(slot)
        got.append({name: np.array(out) for name, out in pipe.host_outputs(slot).items()})
        del keep
    return got


def test_a_frame_graph_gives_every_frame_its_own_input(monkeypatch):
    """Frames from every source, of two sizes, through one frame graph per slot (only the
    preprocessing kernel's arguments change) equal the same frames enqueued step by step; the
    stage marks are recorded from the graph, with other events each frame."""
    from trtpipe import _core

    det, _ = _detectors(monkeypatch)
    engine = det.engine
    step = engine.model_step({engine.inputs[0].name: det._input_shape()})
    graphs, steps = _pipelines(det, step.native)
    frames, _pool = _frames()
    stream = step.current_stream()
    events = [_core.TimingEvent() for _ in range(3 * len(frames))]

    def marks(k):
        return tuple(events[3 * k : 3 * k + 3])

    got = _outputs_of(graphs, frames, stream, marks)
    want = _outputs_of(steps, frames, stream)
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        for name in b:
            np.testing.assert_allclose(a[name], b[name], rtol=1e-6, atol=1e-6, err_msg=f"{k}")
    assert len({float(np.abs(w[n]).sum()) for w in want for n in w}) > 3  # frames differ
    stats = graphs.stats
    assert 0 < stats.pop("argument_updates") <= stats["graph_frames"]
    assert stats == {
        "frames": len(frames),
        "graph_frames": len(frames) - 1,
        "step_frames": 1,
        "captures": 2,
        "reshapes": 0,
        "timeouts": 0,
        "uncaptured_frames": 0,
        "stopped": "",
    }
    assert steps.stats["graph_frames"] == 0
    for k in range(len(frames)):
        before, between, after = marks(k)
        assert before.elapsed_time(between) > 0 and between.elapsed_time(after) > 0


def test_a_frame_graph_keeps_its_arguments_while_frames_come_from_one_buffer(monkeypatch):
    """A camera writing every frame into one GPU buffer costs its slots' graphs no argument
    update; a frame from another buffer updates the graph of the slot it runs in, and each
    frame's outputs equal the same frames enqueued step by step."""
    import torch

    det, _ = _detectors(monkeypatch)
    engine = det.engine
    step = engine.model_step({engine.inputs[0].name: det._input_shape()})
    graphs, steps = _pipelines(det, step.native)
    image = next(image for _, image in _frames()[0] if isinstance(image, torch.Tensor))
    other = image.flip(0).contiguous()  # another address, other pixels
    frames = [("gpu", image)] * 4 + [("gpu", other)] * 2 + [("gpu", image)] * 2
    stream = step.current_stream()
    got = _outputs_of(graphs, frames, stream)
    want = _outputs_of(steps, frames, stream)
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        for name in b:
            np.testing.assert_allclose(a[name], b[name], rtol=1e-6, atol=1e-6, err_msg=f"{k}")
    name = next(iter(want[0]))
    assert not np.array_equal(want[4][name], want[0][name])  # the other buffer's pixels count
    stats = graphs.stats
    # frame 0 runs step by step, frames 1 and 2 are captured into slots 1 and 0, frame 3 is
    # slot 1's graph as it was; frames 4-7 each bring their slot's graph another address
    assert (stats["graph_frames"], stats["captures"]) == (7, 2)
    assert stats["argument_updates"] == 4


def test_a_graph_step_without_its_graph_runs_step_by_step(monkeypatch):
    """A PyTorch graph given as its executable only cannot join a capture: the pipeline says
    why and runs every frame step by step, with the same outputs."""
    from trtpipe import _core
    from trtpipe.backends.torch import _step_tensor

    det, _ = _detectors(monkeypatch)
    engine = det.engine
    name = engine.inputs[0].name
    captured = engine.captured_graph(name, det._input_shape())
    inputs = [_step_tensor(name, captured.inputs[0])]
    outputs = [
        _step_tensor(n, t) for n, t in zip(engine._output_names, captured.outputs, strict=True)
    ]
    exec_only = _core.GraphStep(captured.exec_handle(), inputs, outputs, 0)
    graphs, steps = _pipelines(det, exec_only)
    frames, _pool = _frames()
    stream = engine.model_step({name: det._input_shape()}).current_stream()
    got = _outputs_of(graphs, frames[:4], stream)
    want = _outputs_of(steps, frames[:4], stream)
    for a, b in zip(got, want, strict=True):
        for key in b:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-6)
    stats = graphs.stats
    assert stats["graph_frames"] == 0 and stats["step_frames"] == 4
    assert "keep_graph" in stats["stopped"]


# -- several inputs and a batch axis through the same pipeline ---------------------------------


def test_tensor_inputs_through_a_context_step():
    torch = _torch_with_graph_handles()
    from trtpipe import _core

    model = core_testing().ScaleModel(channels=4, profiles=[(1, 2, 8)], scale=2.0, bias=1.0)
    step = _core.engine.ContextStep(model, {"input": [3, 4]})
    assert step.inputs[0]["shape"] == [3, 4] and step.outputs[1]["shape"] == [3]
    pipe = _core.FramePipeline(step, None, slots=2)
    host = np.arange(12, dtype=np.float32).reshape(3, 4)
    device = torch.from_numpy(host[::-1].copy()).cuda()
    stream = pipe.stream
    pipe.submit_inputs([], {"input": host}, 0, stream)
    pipe.submit_inputs([], {"input": device}, 1, stream)
    for slot, x in [(0, host), (1, host[::-1])]:
        pipe.wait(slot)
        out = pipe.host_outputs(slot)
        np.testing.assert_array_equal(out["scaled"], x * 2 + 1)
        np.testing.assert_allclose(out["row_sum"], (x * 2 + 1).sum(axis=1))
    with pytest.raises(InputError, match="expected at most 48 bytes"):
        pipe.submit_inputs([], {"input": np.zeros((4, 4), np.float32)}, 0, stream)
    with pytest.raises(InputError, match="given an input named 'tokens'"):
        pipe.submit_inputs([], {"tokens": host}, 0, stream)
    with pytest.raises(InputError, match="preprocessor"):
        pipe.submit_inputs([((host, 48, 4, 4, 12, "mono8", False, 0), 0, 0)], {}, 0, 0)
    # host memory as a bare address: nothing to check it against, so never read
    with pytest.raises(InputError, match="frame: expected a NumPy array for host memory"):
        pipe.submit_inputs([((host.ctypes.data, 48, 4, 4, 12, "mono8", False, 0), 0, 0)], {}, 0, 0)
    with pytest.raises(InputError, match="slot"):
        pipe.submit_inputs([], {}, 2, stream)
    with pytest.raises(InputError, match="profile"):
        _core.engine.ContextStep(model, {"input": [9, 4]})
    with pytest.raises(InputError, match="input names"):
        _core.engine.ContextStep(model, {"tokens": [1, 4]})


def test_an_image_and_token_model_with_a_batch_axis():
    """Four frames of different sizes and encodings into the batch slots of the image input,
    token ids into the second input, one step: each batch row equals the model run on the CPU
    on that frame's CPU preprocessing (the oracle)."""
    torch = _torch_with_graph_handles()
    from trtpipe.backends.torch import TorchEngine

    class ImageAndTokens(torch.nn.Module):
        def forward(self, images, tokens):
            pooled = torch.nn.functional.avg_pool2d(images, 8).flatten(1)  # [B, 3 * 8 * 8]
            return pooled * (tokens.float().sum(1, keepdim=True) + 1)

    batch, size = 4, 64
    engine = TorchEngine(
        ImageAndTokens(),
        device="cuda",
        input_shapes={"images": (batch, 3, size, size), "tokens": (batch, 6)},
        input_dtypes={"tokens": np.int64},
    )
    step = engine.model_step({})
    assert [t["name"] for t in step.native.inputs] == ["images", "tokens"]
    pipe, cpu = _batch_pipeline(step, size)
    rng = np.random.default_rng(3)
    frames, images, _keep = _mixed_batch(rng, torch, [(80, 100), (64, 64), (30, 90), (120, 50)])
    tokens = rng.integers(0, 5, (batch, 6)).astype(np.int64)
    pipe.submit_inputs(images, {"tokens": tokens}, 1, step.current_stream())
    pipe.wait(1)
    (got,) = pipe.host_outputs(1).values()
    oracle = np.stack([_cpu_preprocessed(cpu, image, encoding) for image, encoding in frames])
    want = ImageAndTokens()(torch.from_numpy(oracle), torch.from_numpy(tokens)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def _batch_pipeline(step, size: int):
    """A frame pipeline preprocessing size x size images into ``step``'s first input, and the
    CPU preprocessing of the same size (the oracle's)."""
    from trtpipe import _core
    from trtpipe.preprocess import Preprocessor

    gpu = Preprocessor(size=(size, size), device="cuda")
    cpu = Preprocessor(size=(size, size), device="cpu")
    return _core.FramePipeline(step.native, gpu.gpu_core(), slots=2), cpu


def _mixed_batch(rng, torch, sizes):
    """Frames of the given (h, w) sizes in bgr8, rgb8, mono8 and (on the GPU) bgr8, and the
    pipeline's images for them: (LocatedFrame, input 0, batch index); and what keeps them."""
    from trtpipe.preprocess import locate_frame

    (h0, w0), (h1, w1), (h2, w2), (h3, w3) = sizes
    frames = [
        (rng.integers(0, 256, (h0, w0, 3), np.uint8), "bgr8"),
        (rng.integers(0, 256, (h1, w1, 3), np.uint8), "rgb8"),
        (rng.integers(0, 256, (h2, w2), np.uint8), "mono8"),
        (torch.from_numpy(rng.integers(0, 256, (h3, w3, 3), np.uint8)).cuda(), "bgr8"),
    ]
    images, keep = [], []
    for k, (image, encoding) in enumerate(frames):
        frame, kept = locate_frame(image, encoding, None, None, None)
        keep.append(kept)
        images.append((frame, 0, k))
    return frames, images, keep


def _cpu_preprocessed(cpu, image, encoding):
    host = np.asarray(image.cpu()) if hasattr(image, "cpu") else image
    out = cpu.empty()
    cpu(host, out, encoding)
    return out[0]


def _image_and_token_onnx(path, batch: int, size: int) -> None:
    """A real ONNX file of two inputs with a batch axis: images [B, 3, size, size] float32 and
    token ids [B, 6] int64 -> action [B, 3], each image's mean colour * (its tokens' sum + 1)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("GlobalAveragePool", ["images"], ["pooled4"]),
        helper.make_node("Flatten", ["pooled4"], ["pooled"], axis=1),
        helper.make_node("Cast", ["tokens"], ["tokens_f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["tokens_f", "axes"], ["weight0"], keepdims=1),
        helper.make_node("Add", ["weight0", "one"], ["weight"]),
        helper.make_node("Mul", ["pooled", "weight"], ["action"]),
    ]
    graph = helper.make_graph(
        nodes,
        "image_and_tokens",
        [
            helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, size, size]),
            helper.make_tensor_value_info("tokens", TensorProto.INT64, [batch, 6]),
        ],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, [batch, 3])],
        initializer=[
            numpy_helper.from_array(np.array([1], np.int64), "axes"),
            numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def test_an_exported_two_input_model_with_a_batch_axis_on_both_routes(tmp_path):
    """The ONNX file above, on PyTorch (onnx2torch, a CUDA graph): four frames of different
    sizes and encodings preprocessed into its batch slots and token ids copied beside them, one
    step; and the same graph as a TensorRT-shaped engine taking both tensors through its own
    frames. ONNX Runtime on the CPU, fed the CPU preprocessing, is the oracle of both."""
    torch = _torch_with_graph_handles()
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx2torch")
    from trtpipe.backends.loader import load
    from trtpipe.backends.tensorrt import TensorRTEngine

    batch, size = 4, 32
    path = tmp_path / "image_and_tokens.onnx"
    _image_and_token_onnx(path, batch, size)
    engine = load(path, backend="torch", device="cuda")
    assert [(t.name, t.dtype) for t in engine.inputs] == [
        ("images", np.dtype(np.float32)),
        ("tokens", np.dtype(np.int64)),
    ]
    step = engine.model_step({})
    pipe, cpu = _batch_pipeline(step, size)
    rng = np.random.default_rng(5)
    frames, images, _keep = _mixed_batch(rng, torch, [(48, 40), (20, 64), (33, 33), (60, 30)])
    tokens = rng.integers(0, 9, (batch, 6)).astype(np.int64)
    oracle_images = np.stack([_cpu_preprocessed(cpu, img, enc) for img, enc in frames])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (want,) = session.run(None, {"images": oracle_images, "tokens": tokens})
    assert len({float(v) for v in want.sum(axis=1)}) == batch  # the rows differ

    pipe.submit_inputs(images, {"tokens": tokens}, 0, step.current_stream())
    pipe.wait(0)
    np.testing.assert_allclose(pipe.host_outputs(0)["action"], want, rtol=1e-5, atol=1e-5)

    trt = TensorRTEngine.from_model(core_testing().GraphModel(step.native), slots=2)
    for _ in range(3):  # step by step, capture, graph
        got = trt.infer({"images": oracle_images, "tokens": tokens})["action"]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert trt.stats["graph_frames"] == 2
    other = rng.integers(0, 9, (batch, 6)).astype(np.int64)
    (want_other,) = session.run(None, {"images": oracle_images, "tokens": other})
    got = trt.infer([oracle_images, other])["action"]
    np.testing.assert_allclose(got, want_other, rtol=1e-5, atol=1e-5)
