"""1080p camera frame to a 640×640 letterboxed network input: trtpipe's fused kernel against a
PyTorch GPU op chain doing the same maths with its own ops, and OpenCV on the CPU
(cv2.resize + copyMakeBorder + cv2.dnn.blobFromImage), all in this one process. On every
machine, GPU or not, also trtpipe's CPU path against the same OpenCV chain (all threads and one).

    python -m bench.preprocess [--quick] [--out DIR] [--dram-gbps GB/s]

GPU cases are left out (with the reason logged) where there is no CUDA GPU, PyTorch or CuPy.
GPU times come from CUDA events around a run of back-to-back iterations queued behind a spin
kernel, so host-side launch cost does not leak into them; host times from time.perf_counter.
Results go to $TRTPIPE_BENCH_OUT (default bench/results) as preprocess.{md,json,png}.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench import report
from bench.report import Series

try:  # the shared runner (bench/compare.py) lists a suite raising this as skipped
    from bench.compare import SuiteUnavailable
except ImportError:

    class SuiteUnavailable(Exception):  # type: ignore[no-redef]
        """This machine lacks what the suite measures."""


log = logging.getLogger("bench.preprocess")

SRC_W, SRC_H = 1920, 1080
DST = 640
PAD = 114
DEFAULT_DRAM_GBPS = 4800.0  # H200 HBM3e; queried from the GPU when possible


@dataclass(frozen=True)
class Case:
    encoding: str
    dtype: str
    batch: int

    @property
    def name(self) -> str:
        return f"{self.encoding} 1080p→640² {self.dtype} NCHW ×{self.batch}"

    @property
    def frame_bytes(self) -> int:
        return SRC_W * SRC_H * 3 // 2 if self.encoding == "nv12" else SRC_W * SRC_H * 3

    @property
    def output_bytes(self) -> int:
        return DST * DST * 3 * np.dtype(self.dtype).itemsize


CASES = [
    Case(encoding, dtype, batch)
    for encoding in ("bgr8", "rgb8", "nv12")
    for dtype in ("float16", "float32")
    for batch in (1, 4)
]


def host_frames(encoding: str, count: int, seed: int = 0) -> list[np.ndarray]:
    """Smooth random frames (a gradient plus noise), as a camera driver delivers them."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(count):
        if encoding == "nv12":
            shape: tuple[int, ...] = (SRC_H * 3 // 2, SRC_W)
        else:
            shape = (SRC_H, SRC_W, 3)
        base = (np.arange(SRC_W) * 255 // SRC_W).astype(np.uint8)
        frame = rng.integers(0, 64, size=shape, dtype=np.uint8)
        frame += base.reshape((1, SRC_W) + (1,) * (len(shape) - 2)) // 2 + i
        frames.append(frame)
    return frames


def dram_gbps(override: float | None) -> tuple[float, str]:
    """Peak DRAM bandwidth (GB/s) of GPU 0 and where the number came from."""
    if override:
        return override, "given"
    try:
        import cupy

        get = cupy.cuda.runtime.deviceGetAttribute
        clock_khz = get(36, 0)  # cudaDevAttrMemoryClockRate
        bus_bits = get(37, 0)  # cudaDevAttrGlobalMemoryBusWidth
        if clock_khz and bus_bits:
            return 2 * clock_khz * 1e3 * bus_bits / 8 / 1e9, "queried"
    except Exception as exc:  # fall back to the H200's nominal figure
        log.info("could not query the DRAM bandwidth: %s", exc)
    return DEFAULT_DRAM_GBPS, "nominal H200"


class GpuClock:
    """Per-iteration GPU time of `enqueue`, from CUDA events around `iterations` back-to-back
    calls queued behind a spin kernel (so the GPU never waits for the host)."""

    def __init__(self, torch: Any, stream: Any) -> None:
        self.torch = torch
        self.stream = stream

    def measure(self, enqueue: Callable[[], None], iterations: int, repeats: int) -> np.ndarray:
        torch, stream = self.torch, self.stream
        with torch.cuda.stream(stream):
            enqueue()
            stream.synchronize()
            started = time.perf_counter()
            for _ in range(iterations):
                enqueue()
            host_s = time.perf_counter() - started
            stream.synchronize()
            spin_cycles = int(max(host_s, 1e-4) * 3 * 2.0e9)  # ~3x the enqueue time at 2 GHz
            start = torch.cuda.Event(enable_timing=True)
            stop = torch.cuda.Event(enable_timing=True)
            samples = []
            for _ in range(repeats):
                torch.cuda._sleep(spin_cycles)
                start.record(stream)
                for _ in range(iterations):
                    enqueue()
                stop.record(stream)
                stop.synchronize()
                samples.append(start.elapsed_time(stop) * 1e3 / iterations)
        return np.asarray(samples)


def host_time(fn: Callable[[], None], iterations: int) -> np.ndarray:
    fn()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1e6)
    return np.asarray(samples)


class TorchChain:
    """The same maths with PyTorch's own ops: colour conversion, bilinear resize (pixel-centre,
    no antialias), constant padding, x * scale then (x - mean) / std, cast, copy into out."""

    def __init__(self, torch: Any, encoding: str, dtype: str) -> None:
        from trtpipe.preprocess import letterbox_params

        self.torch = torch
        self.encoding = encoding
        self.dtype = getattr(torch, dtype)
        lb = letterbox_params(SRC_W, SRC_H, DST, DST)
        self.size = (lb.new_h, lb.new_w)
        self.pad = (lb.pad_x, DST - lb.new_w - lb.pad_x, lb.pad_y, DST - lb.new_h - lb.pad_y)
        self.mean = torch.zeros(1, 3, 1, 1, device="cuda")
        self.std = torch.ones(1, 3, 1, 1, device="cuda")

    def rgb(self, frames: Any) -> Any:
        """(B, 3, H, W) float32 RGB from (B, H, W, 3) or (B, H*3/2, W) nv12 uint8."""
        torch = self.torch
        if self.encoding == "nv12":
            y = frames[:, :SRC_H].float()
            uv = frames[:, SRC_H:].reshape(-1, SRC_H // 2, SRC_W // 2, 2).float() - 128.0
            uv = uv.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)
            u, v = uv[..., 0], uv[..., 1]
            luma = 1.164 * (y - 16.0).clamp_min(0.0)
            rgb = torch.stack(
                (luma + 1.596 * v, luma - 0.813 * v - 0.391 * u, luma + 2.018 * u), dim=1
            )
            return rgb.clamp(0.0, 255.0).round()
        x = frames.permute(0, 3, 1, 2)
        if self.encoding == "bgr8":
            x = x.flip(1)
        return x.float()

    def __call__(self, frames: Any, out: Any) -> None:
        functional = self.torch.nn.functional
        x = functional.interpolate(
            self.rgb(frames), size=self.size, mode="bilinear", align_corners=False
        )
        x = functional.pad(x, self.pad, value=float(PAD))
        x = (x * (1 / 255) - self.mean) / self.std
        out.copy_(x.to(self.dtype))


def opencv_pipeline(cv2: Any, encoding: str, dtype: str) -> Callable[[list[np.ndarray]], Any]:
    from trtpipe.preprocess import letterbox_params

    lb = letterbox_params(SRC_W, SRC_H, DST, DST)
    right, bottom = DST - lb.new_w - lb.pad_x, DST - lb.new_h - lb.pad_y

    def letterbox(frame: np.ndarray) -> np.ndarray:
        if encoding == "nv12":
            frame = cv2.cvtColor(frame, cv2.COLOR_YUV2BGR_NV12)
        resized = cv2.resize(frame, (lb.new_w, lb.new_h), interpolation=cv2.INTER_LINEAR)
        return cv2.copyMakeBorder(
            resized, lb.pad_y, bottom, lb.pad_x, right, cv2.BORDER_CONSTANT, value=(PAD,) * 3
        )

    swap = encoding != "rgb8"  # BGR in, RGB out

    def run(frames: list[np.ndarray]) -> Any:
        blob = cv2.dnn.blobFromImages(
            [letterbox(f) for f in frames], scalefactor=1 / 255, swapRB=swap, crop=False
        )
        return blob.astype(np.float16) if dtype == "float16" else blob

    return run


def _bandwidth(case: Case, us: float, peak_gbps: float) -> tuple[dict[str, float], str]:
    """Frame bytes read once plus output bytes written once, per iteration, against the time."""
    moved = case.batch * (case.frame_bytes + case.output_bytes)
    gbps = moved / (us * 1e-6) / 1e9 if us > 0 else 0.0
    floor_us = moved / (peak_gbps * 1e9) * 1e6
    extra = {
        "bytes": float(moved),
        "GB/s": gbps,
        "dram_fraction": gbps / peak_gbps,
        "dram_floor_us": floor_us,
    }
    note = (
        f"frame+output {moved / 1e6:.1f} MB: {gbps:,.0f} GB/s = {gbps / peak_gbps:.1%} of DRAM "
        f"peak, floor {floor_us:.1f} µs"
    )
    return extra, note


def _opencv() -> Any:
    try:
        import cv2
    except ImportError:
        log.warning("opencv-python-headless missing: OpenCV peer left out")
        return None
    return cv2


CPU_CASES = [
    Case(encoding, dtype, 1)
    for encoding in ("bgr8", "rgb8", "nv12")
    for dtype in ("float16", "float32")
]


def cpu_case_name(case: Case) -> str:
    return f"CPU {case.name}"


def collect_cpu(quick: bool = False) -> list[Series]:
    """trtpipe's CPU path against the OpenCV chain, both with all cores and with one; the
    per-pixel reference as the starting point. Host time per frame, result in a NumPy array."""
    cv2 = _opencv()
    iterations = 10 if quick else 100
    series: list[Series] = []
    for case in CPU_CASES:
        frame = host_frames(case.encoding, 1)[0]
        series += _trtpipe_cpu_series(case, frame, iterations)
        if cv2 is not None:
            series += _opencv_cpu_series(cv2, case, frame, iterations)
    return series


def _trtpipe_cpu_series(case: Case, frame: np.ndarray, iterations: int) -> list[Series]:
    from trtpipe import _core
    from trtpipe.preprocess import Preprocessor

    name = cpu_case_name(case)
    fp16 = "F16C" if _core.half_conversion_in_hardware() else "portable"
    series = []
    for threads, impl in ((None, "trtpipe"), (1, "trtpipe 1 thread")):
        pre = Preprocessor(
            size=(DST, DST), dtype=case.dtype, pad_value=PAD, device="cpu", threads=threads
        )
        out = pre.empty(1)

        def run(pre: Preprocessor = pre, out: np.ndarray = out) -> None:
            pre(frame, out, case.encoding)

        note = f"{pre._cpu_path().threads} thread(s)"
        note += f", float16 conversion {fp16}" if case.dtype == "float16" else ""
        series.append(Series(name, impl, host_time(run, iterations), "host", note))
        if threads == 1:

            def reference(pre: Preprocessor = pre, out: np.ndarray = out) -> None:
                pre.reference(frame, out, case.encoding)

            samples = host_time(reference, max(3, iterations // 10))
            series.append(Series(name, "trtpipe per-pixel reference", samples, "host", "1 thread"))
    return series


def _opencv_cpu_series(cv2: Any, case: Case, frame: np.ndarray, iterations: int) -> list[Series]:
    run = opencv_pipeline(cv2, case.encoding, case.dtype)
    name = cpu_case_name(case)
    threads = cv2.getNumThreads()
    samples = host_time(lambda: run([frame]), iterations)
    series = [Series(name, "OpenCV CPU", samples, "host", f"{threads} thread(s)")]
    cv2.setNumThreads(1)
    try:
        samples = host_time(lambda: run([frame]), iterations)
    finally:
        cv2.setNumThreads(threads)
    series.append(Series(name, "OpenCV CPU 1 thread", samples, "host", "1 thread"))
    return series


def collect(quick: bool = False, dram: float | None = None) -> list[Series]:
    """Every case this machine can run: the CPU cases always, the GPU cases where possible."""
    series = collect_cpu(quick)
    try:
        series += collect_gpu(quick, dram)
    except SuiteUnavailable as exc:
        log.warning("GPU cases left out: %s", exc)
    return series


def collect_gpu(quick: bool = False, dram: float | None = None) -> list[Series]:
    try:
        import cupy  # noqa: F401  (the pinned/device arrays of the host-input cases)
        import torch
    except ImportError as exc:
        raise SuiteUnavailable(f"needs PyTorch and CuPy on a CUDA machine: {exc}") from exc
    if not torch.cuda.is_available():
        raise SuiteUnavailable("no CUDA device visible to PyTorch")
    from trtpipe import _core
    from trtpipe.preprocess import Preprocessor

    if not _core.build_info()["with_cuda"]:
        raise SuiteUnavailable("trtpipe._core was built without CUDA")
    cv2 = _opencv()

    peak, peak_source = dram_gbps(dram)
    iterations, repeats = (20, 10) if quick else (200, 50)
    cpu_iterations = 5 if quick else 30
    stream = torch.cuda.Stream()
    clock = GpuClock(torch, stream)
    series: list[Series] = []
    peak_note = f"DRAM peak {peak:,.0f} GB/s ({peak_source})"

    for case in CASES:
        frames = host_frames(case.encoding, case.batch)
        device_frames = torch.from_numpy(np.stack(frames)).cuda()
        pre = Preprocessor(size=(DST, DST), dtype=case.dtype, pad_value=PAD, device="cuda")
        out = torch.empty(pre.output_shape(case.batch), dtype=getattr(torch, case.dtype),
                          device="cuda")  # fmt: skip
        slots = [device_frames[b] for b in range(case.batch)]
        handle = stream.cuda_stream

        def trtpipe_run(pre=pre, out=out, slots=slots, enc=case.encoding, handle=handle):
            for b, frame in enumerate(slots):
                pre(frame, out, enc, batch_index=b, stream=handle)

        samples = clock.measure(trtpipe_run, iterations, repeats)
        extra, note = _bandwidth(case, float(np.median(samples)), peak)
        series.append(Series(case.name, "trtpipe", samples, "gpu", note, extra))

        chain = TorchChain(torch, case.encoding, case.dtype)
        torch_out = torch.empty_like(out)
        samples = clock.measure(lambda c=chain, f=device_frames, o=torch_out: c(f, o),
                                iterations, repeats)  # fmt: skip
        extra, note = _bandwidth(case, float(np.median(samples)), peak)
        series.append(Series(case.name, "PyTorch op chain", samples, "gpu", note, extra))
        torch.cuda.synchronize()
        if case.encoding != "nv12":  # same maths: the outputs agree to rounding
            diff = (out.float() - torch_out.float()).abs().max().item()
            log.info("%s: max |trtpipe - PyTorch| = %.4f", case.name, diff)

        if cv2 is not None:
            run = opencv_pipeline(cv2, case.encoding, case.dtype)
            samples = host_time(lambda r=run, f=frames: r(f), cpu_iterations)
            note = f"CPU, {cv2.getNumThreads()} threads"
            series.append(Series(case.name, "OpenCV CPU", samples, "host", note))
        del device_frames, out, torch_out

    series += _host_input_series(torch, clock, iterations, repeats, peak)
    series += _end_to_end_series(torch, cv2, stream, cpu_iterations * 4)
    for s in series:
        s.note = f"{s.note}; {peak_note}" if s.clock == "gpu" and s.impl == "trtpipe" else s.note
    return series


def _pinned_copy(torch: Any, frame: np.ndarray) -> np.ndarray:
    """A NumPy view of pinned (page-locked) host memory holding `frame`."""
    pinned = torch.empty(frame.shape, dtype=torch.uint8).pin_memory().numpy()
    pinned[...] = frame
    return pinned


def _host_input_series(torch, clock, iterations, repeats, peak) -> list[Series]:
    """GPU time of a frame in pinned host memory: read in place (mapped) vs copy + kernel."""
    series = []
    for encoding in ("bgr8", "nv12"):
        frame = _pinned_copy(torch, host_frames(encoding, 1)[0])
        for mode in ("auto", "mapped", "copy"):
            series.append(_host_input_case(clock, frame, encoding, mode, iterations, repeats, peak))
    return series


def _host_input_case(clock, frame, encoding, mode, iterations, repeats, peak) -> Series:
    from trtpipe.preprocess import Preprocessor

    case = Case(encoding, "float16", 1)
    name = f"pinned host {encoding} 1080p→640² float16 (GPU time incl. the PCIe read)"
    pre = Preprocessor(size=(DST, DST), dtype="float16", device="cuda", host_input=mode)
    handle = clock.stream.cuda_stream
    out = pre.empty(1, stream=handle)

    def run():
        pre(frame, out, encoding, stream=handle)

    samples = clock.measure(run, iterations, repeats)
    extra, note = _bandwidth(case, float(np.median(samples)), peak)
    if mode == "auto":
        choice = pre.host_input_choice or {}
        note = (
            f"auto chose {choice.get('faster')} (mapped {choice.get('mapped_us', 0):.1f} µs vs "
            f"copy {choice.get('copy_us', 0):.1f} µs); {note}"
        )
        log.info("%s: %s", name, note)
    return Series(name, "trtpipe" if mode == "auto" else f"trtpipe {mode}", samples, "gpu",
                  note, extra)  # fmt: skip


def _end_to_end_series(torch, cv2, stream, iterations) -> list[Series]:
    """Wall time from a host NumPy frame to the tensor ready on the GPU (synchronised)."""
    series = []
    for encoding in ("bgr8", "nv12"):
        frame = host_frames(encoding, 1)[0]
        for kind in ("pageable", "pinned"):
            source = frame if kind == "pageable" else _pinned_copy(torch, frame)
            series += _end_to_end_case(torch, cv2, stream, source, encoding, kind, iterations)
    return series


def _end_to_end_case(torch, cv2, stream, source, encoding, kind, iterations) -> list[Series]:
    from trtpipe.preprocess import Preprocessor

    name = f"end to end: {kind} host {encoding} 1080p→640² float16 on GPU"
    pre = Preprocessor(size=(DST, DST), dtype="float16", device="cuda")
    out = pre.empty(1, stream=stream.cuda_stream)
    chain = TorchChain(torch, encoding, "float16")
    torch_out = torch.empty(pre.output_shape(1), dtype=torch.float16, device="cuda")
    host_tensor = torch.from_numpy(source)

    def ours():
        pre(source, out, encoding, stream=stream.cuda_stream)
        stream.synchronize()

    def theirs():
        with torch.cuda.stream(stream):
            chain(host_tensor.to("cuda", non_blocking=kind == "pinned")[None], torch_out)
        stream.synchronize()

    series = [
        Series(name, "trtpipe", host_time(ours, iterations), "host"),
        Series(name, "PyTorch op chain", host_time(theirs, iterations), "host"),
    ]
    if cv2 is not None:
        run = opencv_pipeline(cv2, encoding, "float16")
        samples = host_time(lambda: run([source]), iterations)
        series.append(Series(name, "OpenCV CPU", samples, "host", "result on the host"))
    return series


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.preprocess", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    parser.add_argument(
        "--out", type=Path, default=Path(os.environ.get("TRTPIPE_BENCH_OUT", "bench/results"))
    )
    parser.add_argument("--dram-gbps", type=float, default=None, help="peak DRAM bandwidth")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        series = collect(quick=args.quick, dram=args.dram_gbps)
    except SuiteUnavailable as exc:
        print(f"preprocess benchmark skipped: {exc}")
        return 0
    header = "## preprocess\n\n" + "\n".join(targets(series))
    print(write_report(series, args.out, header).read_text())
    return 0


def targets(series: list[Series]) -> list[str]:
    """The goals: bgr8 1080p -> 640² fp16 letterbox <= 15 µs of GPU time, >= 5x faster than the
    PyTorch op chain and >= 50x faster than OpenCV on the CPU, same run."""
    lines = cpu_targets(series)
    case = Case("bgr8", "float16", 1).name
    by_impl = {s.impl: s.median for s in series if s.case == case}
    ours = by_impl.get("trtpipe")
    if not ours:
        return lines
    lines.append(f"- {case}: trtpipe {ours:.1f} µs GPU time (goal <= 15 µs)")
    for impl, goal in (("PyTorch op chain", 5), ("OpenCV CPU", 50)):
        if impl in by_impl:
            ratio = by_impl[impl] / ours
            lines.append(
                f"- {impl}: {by_impl[impl]:.1f} µs, {ratio:.1f}× trtpipe (goal >= {goal}×)"
            )
    return lines


def cpu_targets(series: list[Series]) -> list[str]:
    """Without a GPU the CPU path must still beat the OpenCV chain, thread for thread."""
    lines = []
    for case in CPU_CASES:
        by_impl = {s.impl: s.median for s in series if s.case == cpu_case_name(case)}
        for ours, theirs in (
            ("trtpipe", "OpenCV CPU"),
            ("trtpipe 1 thread", "OpenCV CPU 1 thread"),
        ):
            if ours in by_impl and theirs in by_impl:
                lines.append(
                    f"- {cpu_case_name(case)}: {ours} {by_impl[ours] / 1e3:.2f} ms, {theirs} "
                    f"{by_impl[theirs] / 1e3:.2f} ms: {by_impl[theirs] / by_impl[ours]:.1f}× "
                    "(goal > 1×)"
                )
    return lines


def write_report(series: list[Series], out_dir: Path, header: str) -> Path:
    """The table and JSON always; the plot where matplotlib is installed."""
    try:
        return report.write(series, out_dir, "preprocess", header=header)
    except ImportError as exc:  # report.write has written the .md and .json before plotting
        log.warning("no plot: %s", exc)
        return out_dir / "preprocess.md"


if __name__ == "__main__":
    sys.exit(main())
