"""Decoding + NMS of a YOLOv8 output, and the Detector's per-frame overhead, side by side.

    python -m bench.decode [--repeats N]     # results in $TRTPIPE_BENCH_OUT (bench/results)

Cases:
- decode + NMS of a [1, 84, 8400] YOLOv8 output (640×640, 80 classes) at conf 0.25: trtpipe
  vs the classic NumPy post-processing (vectorised threshold, then the textbook
  ``while order.size`` NMS loop) vs the same in PyTorch with ``torchvision.ops.batched_nms``
  (when importable). The output is synthetic: 20 objects with 15 overlapping anchors each
  above the threshold, low scores elsewhere, as a trained head gives.
- NMS alone on those candidates: trtpipe vs the loop vs torchvision.
- one Detector frame on the sample model vs its backend alone at its best (interleaved, so both
  see the same machine state): on a PyTorch CUDA graph the replay on the ready static input
  plus the output copy into pinned memory allocated once, elsewhere ``engine.infer`` on a host
  input, after a second of both warming up. The difference of the medians is the Detector's
  overhead over backend time, the figure the ≤ 50 µs goal is about; the Detector's own host
  time (end-to-end minus inference) is reported beside it. Host frames also have peers that
  only move the frame: a pageable one copied to pinned memory, a pinned one uploaded whole.
  Frames on the GPU and pinned frames are measured again with the thread idle for 5 ms before
  each call, as in a node paced by its camera.
  On a GPU with PyTorch and onnx2torch, also on the PyTorch backend with the preprocessor
  writing into the CUDA graph's input (zero-copy, one native call per frame) and into pool
  buffers, with the GPU stage times.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import Series, markdown_table, write
from trtpipe.decode import decode_yolov8, nms

CONF, IOU, MAX_DET = 0.25, 0.45, 300
GOAL_DECODE_US = 300.0  # median, CPU
GOAL_OVERHEAD_US = 50.0  # per frame, GPU machine
FRAME_SIZE = (1920, 1080)
WARMUP_S = 1.0  # per Detector case, before its samples
PACED_IDLE_S, PACED_REPEATS = 0.005, 300  # frames with the thread idle before each call


def yolov8_output(
    seed: int = 0, num_classes: int = 80, anchors: int = 8400, objects: int = 20, per: int = 15
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((1, 4 + num_classes, anchors), np.float32)
    out[0, :2] = rng.random((2, anchors)) * 640
    out[0, 2:4] = rng.random((2, anchors)) * 100 + 8
    out[0, 4:] = rng.random((num_classes, anchors), np.float32) ** 4 * 0.2  # below CONF
    chosen = rng.choice(anchors, objects * per, replace=False).reshape(objects, per)
    for anchors_of_object in chosen:
        centre = rng.random(4) * [560, 560, 150, 150] + [40, 40, 20, 20]
        cls = rng.integers(num_classes)
        jitter = rng.normal(0, 4, (per, 4))
        out[0, :4, anchors_of_object] = centre + jitter
        out[0, 4 + cls, anchors_of_object] = 0.3 + 0.7 * rng.random(per)
    return out


def classic_nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """The textbook NumPy NMS loop (as in Fast R-CNN's py_cpu_nms)."""
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(i)
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        inter = np.maximum(0.0, xx2 - xx1) * np.maximum(0.0, yy2 - yy1)
        ovr = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[1:][ovr <= iou]
    return np.array(keep, dtype=np.int64)


def numpy_reference(out: np.ndarray):
    """The usual NumPy post-processing of a YOLOv8 output, class-aware by box offsets."""
    pred = out[0].T
    scores_all = pred[:, 4:]
    conf = scores_all.max(axis=1)
    mask = conf > CONF
    pred, conf = pred[mask], conf[mask]
    cls = scores_all[mask].argmax(axis=1)
    xyxy = np.concatenate([pred[:, :2] - pred[:, 2:4] / 2, pred[:, :2] + pred[:, 2:4] / 2], 1)
    keep = classic_nms(xyxy + cls[:, None] * 4096.0, conf, IOU)[:MAX_DET]
    return xyxy[keep], conf[keep], cls[keep]


def candidates(out: np.ndarray):
    pred = out[0]
    best = pred[4:].max(axis=0)
    idx = np.flatnonzero(best > CONF)
    box = pred[:4, idx]
    xyxy = np.stack(
        [box[0] - box[2] / 2, box[1] - box[3] / 2, box[0] + box[2] / 2, box[1] + box[3] / 2], axis=1
    )
    return xyxy, best[idx], pred[4:, idx].argmax(axis=0)


def torchvision_path(out: np.ndarray):
    """The same decoding in PyTorch with torchvision's batched NMS (None if not installed)."""
    try:
        import torch
        from torchvision.ops import batched_nms
    except ImportError:
        return None
    tensor = torch.from_numpy(out)

    def run():
        pred = tensor[0]
        conf, cls = pred[4:].max(dim=0)
        mask = conf > CONF
        box = pred[:4, mask]
        xyxy = torch.stack(
            [box[0] - box[2] / 2, box[1] - box[3] / 2, box[0] + box[2] / 2, box[1] + box[3] / 2],
            dim=1,
        )
        keep = batched_nms(xyxy, conf[mask], cls[mask], IOU)[:MAX_DET]
        return xyxy[keep], conf[mask][keep], cls[mask][keep]

    return run


def samples_us(fn: Callable[[], object], repeats: int, warmup: int = 20) -> np.ndarray:
    for _ in range(warmup):
        fn()
    out = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - start) * 1e6
    return out


def decode_series(repeats: int) -> list[Series]:
    out = yolov8_output()
    ours = decode_yolov8(out, conf=CONF, iou=IOU, max_detections=MAX_DET)[0]
    ref_boxes, _, ref_cls = numpy_reference(out)
    # the peers must agree before their times mean anything
    assert ours.class_ids.tolist() == ref_cls.tolist()
    np.testing.assert_allclose(ours.boxes, ref_boxes, atol=1e-3)
    case = "decode+NMS [1,84,8400] conf 0.25"
    series = [
        Series(
            case,
            "trtpipe",
            samples_us(lambda: decode_yolov8(out, conf=CONF, iou=IOU), repeats),
            note=f"{len(ours)} boxes kept",
        ),
        Series(
            case,
            "numpy-reference",
            samples_us(lambda: numpy_reference(out), repeats),
            note="vectorised threshold + classic NMS loop",
        ),
    ]
    torch_run = torchvision_path(out)
    if torch_run is not None:
        import torch

        torch.set_num_threads(1)
        series.append(
            Series(
                case,
                "torchvision",
                samples_us(torch_run, repeats),
                note="torch decode + torchvision.ops.batched_nms, 1 thread",
            )
        )
    boxes, scores, classes = candidates(out)
    nms_case = f"NMS only, {len(scores)} candidates, 20 classes"
    series += [
        Series(nms_case, "trtpipe", samples_us(lambda: nms(boxes, scores, IOU, classes), repeats)),
        Series(
            nms_case,
            "numpy-reference",
            samples_us(
                lambda: classic_nms(boxes + classes[:, None] * 4096.0, scores, IOU), repeats
            ),
        ),
    ]
    if torch_run is not None:
        import torch
        from torchvision.ops import batched_nms

        tb, ts, tc = (torch.from_numpy(np.ascontiguousarray(a)) for a in (boxes, scores, classes))
        series.append(
            Series(
                nms_case, "torchvision", samples_us(lambda: batched_nms(tb, ts, tc, IOU), repeats)
            )
        )
    return series


def _torch_gpu_reason() -> str | None:
    """Why the sample model cannot run on PyTorch on a GPU here (None: it can)."""
    try:
        import onnx2torch  # noqa: F401
        import torch
    except ImportError as exc:
        return f"PyTorch / onnx2torch missing ({exc})"
    return None if torch.cuda.is_available() else "torch.cuda.is_available() is False"


def _frames(on_gpu: bool) -> dict[str, Any]:
    """The frames the Detector's own time is measured on: a sample photo, a 1080p camera
    frame as a pageable NumPy array, and on a GPU the same frame in pinned memory (a
    PinnedPool buffer, what a camera driver or the ROS node could fill) and on the GPU."""
    from trtpipe.samples import sample_images

    frames: dict[str, Any] = {"astronaut 512x512, pageable": dict(sample_images())["astronaut"]}
    w, h = FRAME_SIZE
    frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), np.uint8)
    frames["1080p, pageable"] = frame
    if on_gpu:
        from trtpipe.memory import PinnedPool

        pool = PinnedPool(frame.nbytes + 4096)
        pinned = np.asarray(pool.empty(frame.shape, np.uint8))
        pinned[...] = frame
        frames["1080p, pinned"] = pinned
        import torch

        frames["1080p, on the GPU"] = torch.from_numpy(frame).cuda()
        torch.cuda.synchronize()
    return frames


def warm_up(fn: Callable[[], object], seconds: float = WARMUP_S, least: int = 50) -> None:
    """Runs ``fn`` for ``seconds`` and at least ``least`` times: a fresh process's first frames
    run slower for about a second (interpreter, allocator and CPU warming up)."""
    end = time.perf_counter() + seconds
    for i in itertools.count():
        fn()
        if i + 1 >= least and time.perf_counter() >= end:
            return


def _uploader(frame: np.ndarray) -> Callable[[], None]:
    import torch

    host = torch.empty(frame.shape, dtype=torch.uint8, pin_memory=True)
    host.numpy()[...] = frame
    device = torch.empty_like(host, device="cuda")

    def upload() -> None:
        device.copy_(host, non_blocking=True)
        torch.cuda.current_stream().synchronize()

    return upload


def backend_alone(det: Any) -> tuple[Callable[[], object], str]:
    """One frame of the Detector's engine on its own, at its best, and what it does: on a
    PyTorch CUDA graph its replay on the ready static input plus the copy of the outputs into
    pinned memory allocated once, then the wait; elsewhere ``engine.infer`` on a host input."""
    engine = det.engine
    info = engine.inputs[0]
    w, h = det.input_size
    shape = (1, 3, h, w) if info.shape[1] == 3 else (1, h, w, 3)
    if getattr(engine, "uses_cuda_graph", False):
        import torch

        graph = engine.captured_graph(info.name, shape)
        feeds = {info.name: graph.inputs[0]}
        host = [torch.empty_like(t, device="cpu", pin_memory=True) for t in graph.outputs]

        def replay() -> None:
            for pinned, out in zip(host, engine.infer_tensors(feeds).values(), strict=True):
                pinned.copy_(out, non_blocking=True)
            torch.cuda.current_stream().synchronize()

        return replay, "graph replay on the static input + output copy to pinned, then wait"
    buffer = np.random.default_rng(0).random(shape, dtype=np.float32).astype(info.dtype)
    return (lambda: engine.infer({info.name: buffer})), "engine.infer on a host input"


def tensorrt_shaped(det: Any) -> Any:
    """A Detector over a TensorRT-shaped engine (the test GraphModel: an io table, one execution
    context with bound addresses, enqueue per frame) around ``det``'s captured CUDA graph, so
    the TensorRT route runs the same network where no TensorRT engine can execute."""
    from trtpipe import _core_testing
    from trtpipe.backends.tensorrt import TensorRTEngine
    from trtpipe.detector import Detector

    step = det.engine.model_step({det.engine.inputs[0].name: det._input_shape()})
    trt = TensorRTEngine.from_model(_core_testing.GraphModel(step.native), device=det.engine.device)
    return Detector(trt, labels=det.labels, monitor=det.monitor)


def detector_series(
    repeats: int,
    backend: str = "auto",
    zero_copy: bool = True,
    wrap: Callable[[Any], Any] | None = None,
) -> list[Series]:
    """Per frame source: the backend alone (:func:`backend_alone`) and the whole Detector
    frame, interleaved so both see the same machine state, and the Detector's own time.
    ``wrap``: measures the Detector it makes of the first one instead (the backend alone is
    the first one's)."""
    try:
        from trtpipe.detector import Detector
        from trtpipe.monitor import PerformanceMonitor
        from trtpipe.samples import sample_model

        # a window of one frame source's frames: the GPU stage times are that source's
        monitor = PerformanceMonitor(window=repeats, nvml_device=None)
        det = Detector(sample_model(), backend=backend, zero_copy=zero_copy, monitor=monitor)
    except ImportError as exc:
        print(f"skipping the Detector case: {exc}")
        return []
    w, h = det.input_size
    alone, alone_note = backend_alone(det)
    if wrap is not None:
        first, det = det, wrap(det)
    where = f"{det.engine.backend}, {det.device}" + (", zero-copy input" if det.zero_copy else "")
    where += f", {det.frame_path} per frame"
    series: list[Series] = []
    staging = None
    for label, image in _frames(det.device != "cpu").items():
        case = f"one frame, sample model {w}x{h} ({where}), {label}"
        if det.device != "cpu" and label.endswith("pageable"):
            # the least any GPU pipeline does with a pageable frame: copy it to pinned memory
            from trtpipe.memory import PinnedPool

            staging = staging or PinnedPool(FRAME_SIZE[0] * FRAME_SIZE[1] * 3 + 4096)
            pinned = np.asarray(staging.empty(image.shape, np.uint8))
            series.append(
                Series(
                    case,
                    "frame copy to pinned",
                    samples_us(lambda: np.copyto(pinned, image), repeats),  # noqa: B023
                    note="np.copyto of the whole frame, one thread",
                )
            )
            del pinned
        if label.endswith("pinned"):
            # the least a pipeline preprocessing on the GPU does with a pinned frame: upload it
            series.append(
                Series(
                    case,
                    "frame upload to the GPU",
                    samples_us(_uploader(image), repeats),
                    note="the whole frame, pinned to device memory (PyTorch copy_, then wait)",
                )
            )
        warm_up(lambda: (alone(), det(image)))  # noqa: B023
        backend_us, full, own, pre, post = (np.empty(repeats) for _ in range(5))
        for i in range(repeats):
            start = time.perf_counter()
            alone()
            backend_us[i] = (time.perf_counter() - start) * 1e6
            start = time.perf_counter()
            det(image)
            full[i] = (time.perf_counter() - start) * 1e6
            t = det.last_timings
            own[i] = (t["end_to_end"] - t["inference"]) * 1e3  # everything but the engine
            pre[i], post[i] = t["preprocess"] * 1e3, t["postprocess"] * 1e3
        overhead = float(np.median(own))
        over_backend = float(np.median(full) - np.median(backend_us))
        extra = {
            "overhead_us": overhead,
            "over_backend_us": over_backend,
            "preprocess_us": float(np.median(pre)),
            "postprocess_us": float(np.median(post)),
        }
        gpu_note = ""
        if det.gpu_event_ring is not None:
            det(image)  # a synchronous frame: the events before it have completed
            gpu = det.monitor.snapshot().gpu
            for stage in ("preprocess", "inference"):
                if gpu[stage] is not None:
                    extra[f"gpu_{stage}_p50_us"] = gpu[stage].p50_ms * 1e3
                    gpu_note += f", GPU {stage} p50 {gpu[stage].p50_ms * 1e3:.0f}"
        series += [
            Series(case, "backend alone", backend_us, note=alone_note),
            Series(
                case,
                "trtpipe",
                full,
                note=(
                    f"own time {overhead:.0f} µs (preprocess {np.median(pre):.0f}, postprocess "
                    f"{np.median(post):.0f}{gpu_note}); median over backend {over_backend:.0f}"
                ),
                extra=extra,
            ),
            Series(f"{case}: Detector's own time", "trtpipe", own, note="end_to_end - inference"),
        ]
        if det.device != "cpu" and not label.endswith("pageable"):
            paced = min(repeats, PACED_REPEATS)
            series += paced_series(case, (alone, alone_note), det, image, paced)
    det.close()
    if wrap is not None:
        first.close()
    return series


def pipeline_call_series(repeats: int) -> list[Series]:
    """Host time of the native frame pipeline's calls from Python on a 1080p frame on the GPU
    (the submit: preprocessing kernel, graph launch, head scan, count copy; the wait and decode
    of a finished frame), beside PyTorch's own ``CUDAGraph.replay()`` of the same graph."""
    import torch

    from trtpipe.detector import Detector
    from trtpipe.samples import sample_model

    det = Detector(sample_model(), backend="torch")
    if det.frame_path != "pipeline":
        print("skipping the pipeline calls: the Detector does not run the frame pipeline")
        return []
    pipe, native = det._pipeline, det._pipeline._native
    w, h = FRAME_SIZE
    image = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (h, w, 3), np.uint8))
    image = image.cuda()
    from trtpipe.preprocess import locate_frame

    frame, _keep = locate_frame(image, None, None, None, None)
    stream = pipe.current_stream()
    graph = det.engine.captured_graph(det.engine.inputs[0].name, det._input_shape()).graph
    lb = det._pre.geometry(w, h).source_terms
    submit_us, wait_us, replay_us = (np.empty(repeats) for _ in range(3))

    def one(i: int) -> None:
        start = time.perf_counter()
        native.submit(frame, 0, stream)
        submit_us[i] = (time.perf_counter() - start) * 1e6
        native.wait(0)
        start = time.perf_counter()
        native.wait_scanned(0, IOU, MAX_DET, False, lb)
        wait_us[i] = (time.perf_counter() - start) * 1e6
        start = time.perf_counter()
        graph.replay()
        replay_us[i] = (time.perf_counter() - start) * 1e6
        torch.cuda.synchronize()

    warm_up(lambda: one(0))
    for i in range(repeats):
        one(i)
    case = "frame pipeline calls from Python, sample model, 1080p frame on the GPU (host time)"
    det.close()
    return [
        Series(case, "trtpipe submit", submit_us, note="kernel + graph launch + scan + copy"),
        Series(case, "trtpipe wait + decode", wait_us, note="frame already finished"),
        Series(case, "torch CUDAGraph.replay()", replay_us, note="graph launch alone"),
    ]


def paced_series(
    case: str, backend: tuple[Callable[[], object], str], det: Any, image: Any, repeats: int
) -> list[Series]:
    """The backend alone and the Detector frame again, each after the thread idled (as a node
    paced by its camera runs): host work right after a sleep runs slower than back to back.
    ``backend``: the backend alone and what it does."""
    alone, alone_note = backend
    backend_us, full = np.empty(repeats), np.empty(repeats)
    for i in range(repeats):
        time.sleep(PACED_IDLE_S)
        start = time.perf_counter()
        alone()
        backend_us[i] = (time.perf_counter() - start) * 1e6
        time.sleep(PACED_IDLE_S)
        start = time.perf_counter()
        det(image)
        full[i] = (time.perf_counter() - start) * 1e6
    over_backend = float(np.median(full) - np.median(backend_us))
    case = f"{case}, {PACED_IDLE_S * 1e3:.0f} ms idle before each call"
    return [
        Series(case, "backend alone", backend_us, note=alone_note),
        Series(
            case,
            "trtpipe",
            full,
            note=f"median over backend {over_backend:.0f}",
            extra={"over_backend_us": over_backend},
        ),
    ]


def detector_cases(repeats: int) -> list[Series]:
    """The default backend, and on a GPU with PyTorch the zero-copy and pool-buffer inputs."""
    series = detector_series(repeats)
    why_not = _torch_gpu_reason()
    if why_not is not None:
        print(f"skipping the Detector on PyTorch/CUDA: {why_not}")
        return series
    for zero_copy in (True, False):
        series += detector_series(repeats, backend="torch", zero_copy=zero_copy)
    series += detector_series(repeats, backend="torch", wrap=tensorrt_shaped)
    series += pipeline_call_series(repeats)
    return series


def collect(quick: bool = False) -> list[Series]:
    """The suite for ``python -m bench.compare``."""
    repeats = 100 if quick else 500
    return decode_series(repeats) + detector_cases(max(50, repeats // 10))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=500)
    parser.add_argument("--no-detector", action="store_true")
    args = parser.parse_args(argv)
    series = decode_series(args.repeats)
    if not args.no_detector:
        series += detector_cases(max(50, args.repeats // 10))
    out_dir = Path(os.environ.get("TRTPIPE_BENCH_OUT", Path(__file__).parent / "results"))
    ours = next(s for s in series if s.impl == "trtpipe")
    ref = next(s for s in series if s.impl == "numpy-reference")
    header = (
        f"# decode\n\n{platform.node()} ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs), NumPy {np.__version__}\n\n"
        f"decode+NMS median {ours.median:.0f} µs (goal ≤ {GOAL_DECODE_US:.0f}); "
        f"{ref.median / ours.median:.2f}× faster than the NumPy reference (goal ≥ 2×)"
    )
    for s in series:
        if s.impl == "trtpipe" and "over_backend_us" in s.extra:
            own = s.extra.get("overhead_us")
            header += (
                f"\n\n{s.case}: Detector median minus backend median "
                f"{s.extra['over_backend_us']:.0f} µs"
                + (f", Detector's own time {own:.0f} µs" if own is not None else "")
                + f" (goal ≤ {GOAL_OVERHEAD_US:.0f} on the GPU)"
            )
    path = write(series, out_dir, "decode", header)
    print(header)
    print(markdown_table(series))
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
