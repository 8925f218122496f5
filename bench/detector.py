"""A camera frame to detections: trtpipe.Detector against the scripts users write today.

The peers are the "ultralytics + runtime" scripts: OpenCV letterbox (``cv2.resize`` +
``copyMakeBorder``), ``cv2.dnn.blobFromImage``, the runtime, a NumPy decode and
``cv2.dnn.NMSBoxesBatched``. Each pair runs the same model on the same 1920×1080 ``bgr8`` frame
in this process, so the ratio is what the pipeline around the network costs:

- CPU: trtpipe.Detector on ONNX Runtime (CPU) against the script on the same ONNX Runtime
  session type.
- GPU (CUDA, PyTorch and onnx2torch present): trtpipe.Detector on the PyTorch backend (fused
  preprocessing kernel into a pool buffer, CUDA-graph replay) against the script running the
  same converted module eagerly on the GPU after OpenCV preprocessing on the CPU.

The Detector's own time per frame (everything but the engine) is bench.decode's case.

    python -m bench.detector [--quick]     # results in $TRTPIPE_BENCH_OUT (bench/results)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.report import Series, markdown_table, write

FRAME_SIZE = (1920, 1080)
CONF, IOU = 0.25, 0.45


class ScriptPipeline:
    """What a typical YOLOv8 script does per frame; ``run`` maps a blob to the raw output."""

    def __init__(self, size: int, run: Callable[[np.ndarray], np.ndarray]):
        import cv2

        self.cv2, self.size, self.run = cv2, size, run

    def __call__(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cv2 = self.cv2
        h, w = frame_bgr.shape[:2]
        r = min(self.size / h, self.size / w)
        nw, nh = round(w * r), round(h * r)
        resized = cv2.resize(frame_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
        dw, dh = (self.size - nw) / 2, (self.size - nh) / 2
        top, bottom = round(dh - 0.1), round(dh + 0.1)
        left, right = round(dw - 0.1), round(dw + 0.1)
        padded = cv2.copyMakeBorder(
            resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114)
        )
        blob = cv2.dnn.blobFromImage(padded, 1 / 255.0, swapRB=True)
        pred = self.run(blob)[0].T  # [N, 4 + C]
        cls = pred[:, 4:].argmax(axis=1)
        scores = pred[np.arange(len(cls)), 4 + cls]
        keep = scores > CONF
        xywh, scores, cls = pred[keep, :4].copy(), scores[keep], cls[keep]
        xywh[:, :2] -= xywh[:, 2:] / 2
        idx = cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.tolist(), cls.tolist(), CONF, IOU)
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        boxes = xywh[idx]
        boxes[:, 2:] += boxes[:, :2]
        boxes[:, [0, 2]] = (boxes[:, [0, 2]] - left) / r
        boxes[:, [1, 3]] = (boxes[:, [1, 3]] - top) / r
        return boxes, scores[idx], cls[idx]


def _samples_us(fn: Callable[[], object], iterations: int, warmup: int = 10) -> np.ndarray:
    for _ in range(warmup):
        fn()
    samples = np.empty(iterations)
    for i in range(iterations):
        start = time.perf_counter_ns()
        fn()
        samples[i] = (time.perf_counter_ns() - start) / 1e3
    return samples


def _frame() -> np.ndarray:
    from trtpipe.frames import resize_nearest
    from trtpipe.samples import sample_images

    rgb = dict(sample_images())["astronaut"]
    return np.ascontiguousarray(resize_nearest(rgb, *FRAME_SIZE)[..., ::-1])


def _same_answer(ours, theirs) -> str:
    """A check that both pipelines found the same objects (by IoU of the best match)."""
    from trtpipe.decode import box_iou

    boxes, _, _ = theirs
    if len(ours) != len(boxes):
        return f"detections differ: trtpipe {len(ours)}, script {len(boxes)}"
    if len(boxes) == 0:
        return "no detections in either"
    best = box_iou(ours.boxes, boxes.astype(np.float32)).max(axis=1).min()
    return f"{len(boxes)} detections in both, min IoU {best:.3f}"


def cpu_series(model: str, frame: np.ndarray, iterations: int) -> list[Series]:
    import onnxruntime as ort

    from trtpipe.detector import Detector

    det = Detector(model, backend="onnxruntime", device="cpu")
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    script = ScriptPipeline(det.input_size[0], lambda blob: session.run(None, {name: blob})[0])
    note = _same_answer(det(frame, encoding="bgr8"), script(frame))
    case = f"{FRAME_SIZE[0]}×{FRAME_SIZE[1]} bgr8 → detections, CPU (ONNX Runtime)"
    ours = _samples_us(lambda: det(frame, encoding="bgr8"), iterations)
    theirs = _samples_us(lambda: script(frame), iterations)
    return [
        Series(case, "trtpipe", ours, note=note),
        Series(case, "OpenCV + ONNX Runtime script", theirs),
    ]


def gpu_series(model: str, frame: np.ndarray, iterations: int) -> list[Series]:
    try:
        import onnx2torch
        import torch
    except ImportError as exc:
        print(f"skipping the GPU case: {exc}", file=sys.stderr)
        return []
    if not torch.cuda.is_available():
        print("skipping the GPU case: no CUDA device for PyTorch", file=sys.stderr)
        return []
    from trtpipe.detector import Detector

    det = Detector(model, backend="torch")
    module = onnx2torch.convert(model).eval().cuda()

    def run_eager(blob: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = module(torch.from_numpy(blob).cuda())
        out = out[0] if isinstance(out, (list, tuple)) else out
        return out.cpu().numpy()

    script = ScriptPipeline(det.input_size[0], run_eager)
    note = _same_answer(det(frame, encoding="bgr8"), script(frame))
    case = f"{FRAME_SIZE[0]}×{FRAME_SIZE[1]} bgr8 → detections, GPU (PyTorch)"
    ours = _samples_us(lambda: det(frame, encoding="bgr8"), iterations)
    theirs = _samples_us(lambda: script(frame), iterations)
    return [
        Series(case, "trtpipe", ours, note=f"{note}; backend {det.backend} on {det.device}"),
        Series(case, "OpenCV + PyTorch script", theirs, note="eager module, CPU preprocessing"),
    ]


def collect(quick: bool = False) -> list[Series]:
    from trtpipe.samples import sample_model

    iterations = 20 if quick else 200
    model, frame = str(sample_model()), _frame()
    return cpu_series(model, frame, iterations) + gpu_series(model, frame, iterations)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.detector", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args(argv)
    series = collect(args.quick)
    out_dir = Path(os.environ.get("TRTPIPE_BENCH_OUT", Path(__file__).parent / "results"))
    write(series, out_dir, "detector", "# Detector against the scripts")
    print(markdown_table(series))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
