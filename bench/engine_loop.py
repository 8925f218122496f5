"""Host overhead of an engine's own frames in the native frame pipeline (target: <= 5 µs per
frame from Python with graph replay): ``python -m bench.engine_loop [--quick] [--out DIR]``.

The engine is _core's test model (a trivial one-kernel network on a 1×4 float32 frame) behind
the same interface as a TensorRT engine, in a resizable ContextStep, so what is timed is the
frame path itself (TensorFrames over _core.FramePipeline): the input copy, the enqueue or the
frame's graph launch, the output copies to pinned memory, event completion, result conversion.
Step by step against one graph per frame, one frame at a time and pipelined; CuPy and PyTorch
doing the same frame the usual way (copy in, compute, copy out, synchronise) are the peers.

"host overhead" is the host time of submit() plus result() of a frame that has already finished
(the wait is not counted); it also runs with inputs as a list in the engine's input order, with
outputs as views instead of copies, and through the TensorRTEngine backend. Its floor on this
machine is "CUDA calls alone": the same frame (copy in, kernel, copy out) captured by CuPy as
one graph, submitted with cudaGraphLaunch + cudaEventRecord and found finished with one
cudaEventQuery, through CuPy's thin runtime bindings: no frame path can cost less.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench import report
from bench.report import Series

try:
    from bench.compare import SuiteUnavailable
except ImportError:  # bench.compare is the shared runner; without it this suite still runs alone

    class SuiteUnavailable(Exception):  # type: ignore[no-redef]
        """This machine lacks what the suite measures."""


log = logging.getLogger("bench.engine_loop")
SHAPE = (1, 4)
TIMEOUT_MS = 10_000.0


def _require_gpu() -> None:
    from trtpipe import _core

    if not _core.build_info()["with_cuda"]:
        raise SuiteUnavailable("trtpipe._core was built without CUDA")
    devices = _core.query_devices()
    if not devices["gpus"]:
        raise SuiteUnavailable(f"no usable GPU: {devices['reason']}")


def _runner(cuda_graphs: bool, slots: int = 2):
    """The frames of a TensorRT-shaped engine, as TensorRTEngine makes them."""
    from trtpipe import _core, _core_testing
    from trtpipe.backends.base import ModelStep
    from trtpipe.frame_pipeline import TensorFrames

    model = _core_testing.ScaleModel(channels=SHAPE[1], static_batch=SHAPE[0])
    step = _core.engine.ContextStep(model, resizable=True)
    return TensorFrames(ModelStep(step, owner=model), slots, graphs=cuda_graphs)


def _python_loop(runner, frame: np.ndarray, frames: int, warmup: int, depth: int) -> np.ndarray:
    inputs = {"input": frame}
    samples = np.empty(frames)
    pending: list[int] = []
    clock = time.perf_counter
    last = clock()
    done = 0
    while done < warmup + frames:
        start = clock()
        while len(pending) < depth:
            pending.append(runner.submit(inputs))
        runner.result(pending.pop(0), TIMEOUT_MS)
        end = clock()
        if done >= warmup:
            samples[done - warmup] = (end - (start if depth == 1 else last)) * 1e6
        last = end
        done += 1
    return samples


def _python_host_cost(
    runner, inputs: object, frames: int, warmup: int, copy: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Host time of submit() plus result() of an already finished frame: the frame path's own
    cost, without the GPU's execution time; and each of the two alone."""
    submits, results = np.empty(frames), np.empty(frames)
    clock = time.perf_counter
    for i in range(warmup + frames):
        t0 = clock()
        ticket = runner.submit(inputs)
        t1 = clock()
        runner.wait(ticket, TIMEOUT_MS)
        t2 = clock()
        runner.result(ticket, TIMEOUT_MS, copy)
        t3 = clock()
        if i >= warmup:
            submits[i - warmup] = (t1 - t0) * 1e6
            results[i - warmup] = (t3 - t2) * 1e6
    return submits + results, submits, results


def _native_host_cost(runner, inputs: object, frames: int, warmup: int) -> np.ndarray:
    """The same through _core.FramePipeline's own submit_tensors() and result(), without
    TensorFrames' tickets: what the Python layer adds is the difference."""
    native = runner._native
    samples = np.empty(frames)
    clock = time.perf_counter
    for i in range(warmup + frames):
        t0 = clock()
        native.submit_tensors(inputs, 0)
        t1 = clock()
        native.wait(0, TIMEOUT_MS)
        t2 = clock()
        native.result(0, TIMEOUT_MS, True)
        t3 = clock()
        if i >= warmup:
            samples[i - warmup] = ((t1 - t0) + (t3 - t2)) * 1e6
    return samples


def _backend_host_cost(frame: np.ndarray, frames: int, warmup: int) -> np.ndarray:
    """The same through the Python backend, TensorRTEngine.submit() + result()."""
    from trtpipe import _core_testing
    from trtpipe.backends.tensorrt import TensorRTEngine

    model = _core_testing.ScaleModel(channels=SHAPE[1], static_batch=SHAPE[0])
    engine = TensorRTEngine.from_model(model, timeout=TIMEOUT_MS / 1000)
    runner = engine._live_frames()  # to wait outside the timed part, as the other cases do
    inputs = {"input": frame}
    samples = np.empty(frames)
    clock = time.perf_counter
    for i in range(warmup + frames):
        t0 = clock()
        pending = engine.submit(inputs)
        t1 = clock()
        runner.wait(pending.ticket, TIMEOUT_MS)
        t2 = clock()
        engine.result(pending)
        t3 = clock()
        if i >= warmup:
            samples[i - warmup] = ((t1 - t0) + (t3 - t2)) * 1e6
    return samples


def _peer_loop(step: Callable[[], object], frames: int, warmup: int) -> np.ndarray:
    for _ in range(warmup):
        step()
    samples = np.empty(frames)
    clock = time.perf_counter
    for i in range(frames):
        start = clock()
        step()
        samples[i] = (clock() - start) * 1e6
    return samples


def _cuda_floor(frame: np.ndarray, frames: int, warmup: int) -> Series | None:
    """The CUDA calls a graph-replayed frame cannot do without, timed as host overhead is:
    launch + completion event (submit), then the query of the finished frame (result)."""
    try:
        import cupy
        from cupy.cuda import runtime
    except ImportError:
        log.info("CuPy not installed: no CUDA floor")
        return None
    stream = cupy.cuda.Stream(non_blocking=True)
    done = cupy.cuda.Event(disable_timing=True)
    host_in = cupy.cuda.alloc_pinned_memory(frame.nbytes)
    host_out = cupy.cuda.alloc_pinned_memory(frame.nbytes)
    device_in = cupy.empty(frame.shape, frame.dtype)
    device_out = cupy.empty_like(device_in)
    h2d, d2h = runtime.memcpyHostToDevice, runtime.memcpyDeviceToHost
    with stream:
        cupy.multiply(device_in, 2.0, out=device_out)  # compiled before the capture
        stream.begin_capture()
        runtime.memcpyAsync(device_in.data.ptr, host_in.ptr, frame.nbytes, h2d, stream.ptr)
        cupy.multiply(device_in, 2.0, out=device_out)
        runtime.memcpyAsync(host_out.ptr, device_out.data.ptr, frame.nbytes, d2h, stream.ptr)
        graph = stream.end_capture()
    samples = np.empty(frames)
    clock = time.perf_counter
    for i in range(warmup + frames):
        t0 = clock()
        graph.launch(stream)
        runtime.eventRecord(done.ptr, stream.ptr)
        t1 = clock()
        runtime.eventSynchronize(done.ptr)  # the wait, not counted
        t2 = clock()
        finished = runtime.eventQuery(done.ptr) == 0
        t3 = clock()
        if not finished:
            raise RuntimeError("CUDA floor: a synchronised event reads as not finished")
        if i >= warmup:
            samples[i - warmup] = ((t1 - t0) + (t3 - t2)) * 1e6
    return Series(
        "host overhead: submit + result of a finished frame, Python",
        "CUDA calls alone (CuPy)",
        samples,
        note="cudaGraphLaunch + cudaEventRecord, then cudaEventQuery: the floor",
    )


def _peers(frame: np.ndarray, frames: int, warmup: int) -> list[Series]:
    series = []
    try:
        import cupy

        def cupy_step() -> object:
            x = cupy.asarray(frame)
            y = x * 2.0 + 1.0
            s = y.sum(axis=1)
            return cupy.asnumpy(y), cupy.asnumpy(s)  # asnumpy synchronises

        series.append(
            Series(
                "submit→result, one frame at a time, Python",
                "CuPy",
                _peer_loop(cupy_step, frames, warmup),
                note="asarray, 2 kernels, 2× asnumpy",
            )
        )
    except ImportError:
        log.info("CuPy not installed: no CuPy peer")
    try:
        import torch

        if torch.cuda.is_available():
            host = torch.from_numpy(frame)

            def torch_step() -> object:
                x = host.to("cuda", non_blocking=False)
                y = x * 2.0 + 1.0
                s = y.sum(dim=1)
                return y.cpu(), s.cpu()  # .cpu() synchronises

            series.append(
                Series(
                    "submit→result, one frame at a time, Python",
                    "PyTorch",
                    _peer_loop(torch_step, frames, warmup),
                    note="to(cuda), 2 kernels, 2× cpu()",
                )
            )
    except ImportError:
        log.info("PyTorch not installed: no PyTorch peer")
    return series


def collect(quick: bool = False) -> list[Series]:
    _require_gpu()
    frames, warmup = (300, 30) if quick else (5000, 200)
    frame = np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE)
    series: list[Series] = []
    for depth, label in ((1, "one frame at a time"), (2, "pipelined, 2 in flight")):
        for cuda_graphs, impl in ((True, "trtpipe"), (False, "trtpipe plain enqueue")):
            runner = _runner(cuda_graphs)
            py = _python_loop(runner, frame, frames, warmup, depth)
            stats = runner.stats()
            mode = "graph replay" if cuda_graphs else "plain enqueue"
            if cuda_graphs and stats["graph_frames"] == 0:
                mode = f"plain enqueue (graphs stopped: {stats['stopped']})"
            what = "per frame" if depth == 1 else "interval between finished frames"
            series.append(
                Series(
                    f"submit→result, {label}, Python",
                    impl,
                    py,
                    note=f"{mode}; {what}",
                    extra={"target_us": 10.0} if cuda_graphs and depth == 1 else {},
                )
            )
    host_case = "host overhead: submit + result of a finished frame"
    for cuda_graphs, impl in ((True, "trtpipe"), (False, "trtpipe plain enqueue")):
        mode = "graph replay" if cuda_graphs else "plain enqueue"
        total, submits, results = _python_host_cost(
            _runner(cuda_graphs), {"input": frame}, frames, warmup
        )
        series.append(
            Series(
                f"{host_case}, Python",
                impl,
                total,
                note=f"{mode}; inputs as a dict",
                extra={"target_us": 5.0} if cuda_graphs else {},
            )
        )
        if cuda_graphs:
            for part, samples in (("submit", submits), ("result", results)):
                series.append(
                    Series(f"{host_case}, Python", f"trtpipe, {part} alone", samples, note=mode)
                )
    series.append(
        Series(
            f"{host_case}, Python",
            "trtpipe, _core.FramePipeline alone",
            _native_host_cost(_runner(True), {"input": frame}, frames, warmup),
            note="graph replay; without TensorFrames' tickets",
        )
    )
    for label, inputs, copy in (
        ("inputs as a list", [frame], True),
        ("inputs as a list, outputs as views", [frame], False),
    ):
        series.append(
            Series(
                f"{host_case}, Python",
                f"trtpipe, {label}",
                _python_host_cost(_runner(True), inputs, frames, warmup, copy=copy)[0],
                note="graph replay",
            )
        )
    series.append(
        Series(
            f"{host_case}, Python",
            "trtpipe TensorRTEngine",
            _backend_host_cost(frame, frames, warmup),
            note="graph replay; the Python backend around the same frames",
        )
    )
    try:
        floor = _cuda_floor(frame, frames, warmup)
    except Exception as exc:  # a peer's failure must not cost the frame path's figures
        log.warning("no CUDA floor: %s: %s", type(exc).__name__, exc)
        floor = None
    if floor is not None:
        series.append(floor)
    series.extend(_peers(frame, frames, warmup))
    return series


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine_loop", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer frames (smoke run)")
    parser.add_argument(
        "--out", type=Path, default=Path(os.environ.get("TRTPIPE_BENCH_OUT", "bench/results"))
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        series = collect(quick=args.quick)
    except SuiteUnavailable as exc:
        print(f"engine_loop: skipped: {exc}")
        return 0
    try:
        path = report.write(series, args.out, "engine_loop", header="## engine_loop")
    except ImportError as exc:  # no matplotlib: the table and JSON are written, the plot is not
        log.warning("no plot: %s", exc)
        path = args.out / "engine_loop.md"
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
