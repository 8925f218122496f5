"""The cost of placing boxes in 3D: 100 boxes on a 1280×720 16UC1 depth image.

    python -m bench.rgbd [--repeats N]

Cases, each the median of ``repeats`` frames:
- the statistics on the CPU (host time of ``DepthLifter("cpu")``, which includes the boxes'
  back-projection);
- a NumPy implementation of the same rule (per box: mask, sort, median, quantiles), the peer a
  Python node would write;
- on a GPU: the kernel's GPU time (CUDA events), and the host time of a whole
  ``DepthLifter("cuda")`` call with the depth image in GPU memory and in host memory (upload
  included).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from trtpipe.decode.detections import Detections
from trtpipe.rgbd import DepthLifter, DepthRule, Intrinsics

WIDTH, HEIGHT, BOXES = 1280, 720, 100


def scene(seed: int = 0) -> tuple[np.ndarray, Detections]:
    """Depth in millimetres with 10% holes, and 100 boxes of 20..250 px sides."""
    rng = np.random.default_rng(seed)
    depth = (rng.random((HEIGHT, WIDTH)) * 6000 + 500).astype(np.uint16)
    depth[rng.random(depth.shape) < 0.1] = 0
    xy = rng.uniform(0, [WIDTH - 250, HEIGHT - 250], (BOXES, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(20, 250, (BOXES, 2))], axis=1)
    return depth, Detections.from_arrays(boxes, np.full(BOXES, 0.9), np.zeros(BOXES, int))


def numpy_statistics(depth_mm: np.ndarray, boxes: np.ndarray, rule) -> list[float]:
    depth = depth_mm.astype(np.float32) * 0.001
    out = []
    for x1, y1, x2, y2 in boxes:
        cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 4, (y2 - y1) / 4
        region = depth[int(cy - hh) : int(np.ceil(cy + hh)), int(cx - hw) : int(np.ceil(cx + hw))]
        values = np.sort(region[region > 0])
        if len(values) < rule.min_pixels:
            out.append(float("nan"))
            continue
        median = values[(len(values) - 1) // 2]
        obj = values[np.abs(values - median) <= rule.tolerance]
        out.append(float(obj[(len(obj) - 1) // 2]))
    return out


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    depth, dets = scene()
    k = Intrinsics(900, 900, 640, 360)
    size = (WIDTH, HEIGHT)
    rule = DepthRule()
    cpu = DepthLifter("cpu", rule)
    rows = [("trtpipe, CPU (host ms)", median_ms(lambda: cpu(dets, size, depth, k), args.repeats))]
    rows.append(
        (
            "NumPy, same rule (host ms)",
            median_ms(lambda: numpy_statistics(depth, dets.boxes, rule), args.repeats),
        )
    )
    try:
        gpu = DepthLifter("cuda", rule)
    except Exception as exc:  # no CUDA build or no GPU: the CPU figures stand alone
        print(f"no GPU case: {exc}")
    else:
        import cupy as cp

        on_gpu = cp.asarray(depth)
        kernel = []

        def gpu_frame() -> None:
            gpu(dets, size, on_gpu, k)
            kernel.append(gpu.last_kernel_ms)

        rows.append(("trtpipe, GPU depth (host ms)", median_ms(gpu_frame, args.repeats)))
        rows.append(("trtpipe, GPU kernel (GPU ms)", statistics.median(kernel)))
        rows.append(
            (
                "trtpipe, host depth uploaded (host ms)",
                median_ms(lambda: gpu(dets, size, depth, k), args.repeats),
            )
        )
    print(f"{BOXES} boxes on a {WIDTH}x{HEIGHT} 16UC1 depth image, median of {args.repeats}")
    for name, ms in rows:
        print(f"| {name} | {ms:.4f} |")


if __name__ == "__main__":
    main()
