"""trtpipe.BatchDetector: one model serving several cameras, frames batched across them.

Frames come in per named source (a camera). Each source keeps only its newest frame waiting
(an older one still waiting is dropped and counted), so a camera faster than the GPU never
builds a queue. A batch is formed when ``max_batch`` sources have a frame waiting, or when the
oldest waiting frame has waited ``max_wait_ms``, whichever comes first. Sources are served
in the order their oldest unserved frame came: a newer frame that replaces a waiting one keeps
its place, so a camera faster than the others is not always the newest and never starved.
Each frame is preprocessed into its own row of the batch with its own letterbox (frames of
different sizes and encodings mix in one batch), the model runs once on the batch, and each
row's detections go back to its source with the header it came with. One worker forms and
runs the batches, so a source's results come out in the order its frames went in, and
``on_result`` runs on it: a callback that blocks holds every camera back (hand the detections
to a queue of your own for slow work).

``max_wait_ms`` trades latency for batch size: a lone camera's frame waits at most that long
for company before it runs alone; cameras in step fill batches without waiting at all.

On a GPU, a frame submitted as a pageable NumPy array is copied into pinned memory of its
source's own on the submitting thread: the cameras' copies run side by side, while their frames
wait, instead of one after another on the batching thread when the batch runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trtpipe import _core
from trtpipe.arguments import finite_real
from trtpipe.decode.detections import Detections
from trtpipe.decode.formats import decode
from trtpipe.detector import Detector
from trtpipe.errors import EngineError, InputError, PoolExhaustedError
from trtpipe.frame_pipeline import FramePipeline
from trtpipe.memory import PinnedPool
from trtpipe.preprocess import LocatedFrame, locate_frame

log = logging.getLogger(__name__)

#: the longest wait for a fuller batch accepted (a minute: far beyond any real-time use)
MAX_WAIT_MS = 60_000.0

#: how long close() waits for the batch running (and its on_result calls) to end
CLOSE_WAIT_S = 30.0

#: what a finished frame is handed to: (source, detections, the frame's header)
ResultCallback = Callable[[str, Detections, Any], None]


class _GpuRows:
    """The first rows of a C-contiguous GPU array, as a GPU array (its memory, its owner)."""

    def __init__(self, array: Any, rows: int) -> None:
        cai = dict(array.__cuda_array_interface__)
        cai["shape"] = (rows, *cai["shape"][1:])
        cai["strides"] = None
        self.__cuda_array_interface__ = cai
        self._owner = array


def _first_rows(array: Any, rows: int) -> Any:
    if rows == array.shape[0]:
        return array
    return array[:rows] if isinstance(array, np.ndarray) else _GpuRows(array, rows)


class _PinnedFrames:
    """Pinned copies of one source's pageable frames: enough for the frame in a running batch,
    the one waiting, and the one being copied that will replace it."""

    COPIES = 3

    def __init__(self, device: int) -> None:
        self._device = device
        self._shape: tuple[int, ...] | None = None
        self._pool: Any = None
        self._lock = threading.Lock()  # a source fed from two threads

    @staticmethod
    def wanted(image: Any) -> bool:
        """Whether ``image`` is a frame worth copying: a C-contiguous uint8 NumPy frame in
        pageable memory (a view of a pinned pool's buffer is read where it is)."""
        if not (
            type(image) is np.ndarray
            and image.dtype == np.uint8
            and image.ndim in (2, 3)
            and image.flags.c_contiguous
        ):
            return False
        owner: Any = image
        while isinstance(owner, np.ndarray):
            owner = owner.base
        if isinstance(owner, memoryview):
            owner = owner.obj
        return not hasattr(owner, "device_ptr")  # pool buffers mapped to a GPU have one

    def copy(self, image: np.ndarray) -> np.ndarray | None:
        """``image`` copied into pinned memory (its view keeps the block until dropped); None
        when every copy is still held, and the frame is then read as it is."""
        with self._lock:
            if image.shape != self._shape:  # a camera that changed size: blocks of the new size
                block = -(-image.nbytes // 4096) * 4096
                self._pool = PinnedPool(self.COPIES * block, device=self._device, fallback=False)
                self._shape = image.shape
            try:
                buffer = self._pool.empty(image.shape, np.uint8)
            except PoolExhaustedError:
                return None
        view = np.asarray(buffer)
        np.copyto(view, image)
        return view


@dataclass(slots=True)
class _Waiting:
    """A source's newest frame, waiting for a batch."""

    image: Any
    encoding: str | None
    header: Any
    arrived: float  # time.monotonic(): this frame's, for its latency
    # the source's turn: when its oldest frame not yet served came, which a newer frame that
    # replaces it keeps (a fast camera keeps its place instead of always being the newest)
    queued: float


@dataclass
class SourceStats:
    """What happened to one source's frames."""

    received: int = 0
    detected: int = 0
    dropped_replaced: int = 0  # a newer frame of the source came while it waited
    dropped_bad_input: int = 0  # the frame could not be preprocessed (wrong size, encoding...)
    dropped_engine_error: int = 0  # its batch failed in the engine or the decoder
    dropped_closed: int = 0  # still waiting when the BatchDetector closed
    latency_ms: list[float] = field(default_factory=list, repr=False)  # arrival -> result

    def latency_percentile(self, q: float) -> float | None:
        return float(np.percentile(self.latency_ms, q)) if self.latency_ms else None


@dataclass
class BatchStats:
    """How batches were formed: their count, mean size, and how many waited out
    ``max_wait_ms`` rather than filling up."""

    batches: int = 0
    frames: int = 0
    timed_out: int = 0

    @property
    def mean_batch(self) -> float:
        return self.frames / self.batches if self.batches else 0.0


class BatchDetector:
    """Detections for frames of several named sources, batched: ``submit(source, image)``
    from any thread, results handed to ``on_result(source, detections, header)`` on the
    batching thread; or ``detect_batch(images)`` for one batch, synchronously.

    ``max_batch``: frames per batch at most (capped by a model with a fixed batch axis, and by
    an engine profile's largest batch).
    ``max_wait_ms``: how long the oldest waiting frame may wait for a fuller batch.
    Every other keyword (``backend``, ``device``, ``conf``, ``iou``, ``labels``,
    ``input_size``, ...) is :class:`trtpipe.Detector`'s.
    """

    def __init__(
        self,
        model: Any,
        *,
        max_batch: int = 4,
        max_wait_ms: float = 5.0,
        on_result: ResultCallback | None = None,
        **detector_options: Any,
    ) -> None:
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise InputError(f"max_batch: expected an int >= 1, given {max_batch!r}")
        if not 0 <= finite_real("max_wait_ms", max_wait_ms) <= MAX_WAIT_MS:
            raise InputError(
                f"max_wait_ms: expected a number of ms in [0, {MAX_WAIT_MS}], given {max_wait_ms!r}"
            )
        self._detector = Detector(model, max_batch=max_batch, **detector_options)
        det = self._detector
        info = det.engine.inputs[0]
        limit = det.engine.max_batch  # a fixed batch axis, a profile's maximum, ...
        self.max_batch = min(max_batch, limit) if limit else max_batch
        if self.max_batch < max_batch:
            log.warning(
                "max_batch %d: the engine runs batches of at most %d, so batches hold at most %d "
                "frames (export the model with a dynamic batch axis, or build the engine with a "
                "larger batch profile, for more)",
                max_batch,
                limit,
                limit,
            )
        fixed = info.shape[0]
        self._fixed_batch = fixed if fixed > 0 else None
        # an engine running only some batch sizes gets each batch padded to the next of them
        self._batch_sizes = sorted(det.engine.batch_sizes or ())
        self.max_wait_ms = float(max_wait_ms)
        self._input_name = info.name
        # per batch size run: its frame pipeline, where the engine offers a model step for it
        # (None: the batch goes through engine.infer from one input buffer)
        self._paths: dict[int, FramePipeline | None] = {}
        self._buffer: Any = None
        self._target: Any = None
        # each batch's GPU time, into the Detector's monitor (None: no GPU timing)
        self._events = det.gpu_event_ring
        self._on_result = on_result
        self._cond = threading.Condition()
        self._running = threading.Lock()  # one batch at a time in the one input buffer
        self._waiting: dict[str, _Waiting] = {}  # insertion order: oldest arrival first
        self._sources: dict[str, SourceStats] = {}
        self.batch_stats = BatchStats()
        self._closed = False
        self._worker: threading.Thread | None = None
        # per source, pinned copies of its pageable frames (None: frames are read as given)
        device = det.device
        self._pinned_device = None if device == "cpu" else int(device.partition(":")[2] or 0)
        self._pinned: dict[str, _PinnedFrames] = {}

    # -- properties --------------------------------------------------------------------------

    @property
    def detector(self) -> Detector:
        """The Detector whose model, preprocessing and decoding the batches use."""
        return self._detector

    @property
    def sources(self) -> dict[str, SourceStats]:
        """Per source: frames received, detected and dropped (by reason), latencies."""
        with self._cond:
            return dict(self._sources)

    @property
    def frame_paths(self) -> dict[int, dict[str, Any] | None]:
        """Per batch size run so far: its frame pipeline's counters (``frames``,
        ``graph_frames``, ``step_frames``, ...), or None where batches of that size go
        through the engine's ``infer`` (no native model step for it, or on the CPU)."""
        return {size: None if p is None else p.stats for size, p in sorted(self._paths.items())}

    # -- frames in -----------------------------------------------------------------------------

    def submit(
        self, source: str, image: Any, encoding: str | None = None, header: Any = None
    ) -> None:
        """Queues ``source``'s newest frame (an older one of the source still waiting is
        dropped and counted). Its detections go to ``on_result``. On a GPU, a C-contiguous uint8
        NumPy frame in pageable memory is copied before this returns, while one of the source's
        pinned copies is free; any other frame is read when its batch runs, so keep it
        unchanged until its detections come."""
        if self._on_result is None:
            raise InputError("submit: expected a BatchDetector made with on_result=, given none")
        if not isinstance(source, str) or not source:
            raise InputError(f"source: expected a non-empty str, given {source!r}")
        arrived = time.monotonic()
        image = self._pinned_copy(source, image)
        with self._cond:
            if self._closed:
                raise EngineError("this BatchDetector was closed")
            stats = self._sources.setdefault(source, SourceStats())
            stats.received += 1
            replaced = self._waiting.get(source)
            if replaced is not None:
                stats.dropped_replaced += 1
            # assigned in place, the source keeps its position among those waiting
            queued = arrived if replaced is None else replaced.queued
            self._waiting[source] = _Waiting(image, encoding, header, arrived, queued)
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._run, name="trtpipe-batches", daemon=True
                )
                self._worker.start()
            self._cond.notify()

    def _pinned_copy(self, source: str, image: Any) -> Any:
        """``image`` in pinned memory of ``source``'s own where it is a pageable frame on a
        GPU (copied here, on the submitting thread); else ``image``."""
        if self._pinned_device is None or not _PinnedFrames.wanted(image):
            return image
        frames = self._pinned.get(source)
        if frames is None:
            frames = self._pinned.setdefault(source, _PinnedFrames(self._pinned_device))
        copied = frames.copy(image)
        return image if copied is None else copied

    def _next_batch(self) -> tuple[list[tuple[str, _Waiting]], bool] | None:
        """The next batch once it is due (full, or its oldest frame waited out), and whether it
        waited out; None once closed."""
        wait_s = self.max_wait_ms / 1e3
        with self._cond:
            while True:
                if self._closed:
                    return None
                if self._waiting:
                    oldest = next(iter(self._waiting.values())).queued
                    left = oldest + wait_s - time.monotonic()
                    full = len(self._waiting) >= self.max_batch
                    if full or left <= 0:
                        taken = list(self._waiting.items())[: self.max_batch]
                        for source, _ in taken:
                            del self._waiting[source]
                        return taken, not full
                    self._cond.wait(left)
                else:
                    self._cond.wait()

    def _run(self) -> None:
        while (due := self._next_batch()) is not None:
            taken, timed_out = due
            sources = [source for source, _ in taken]
            try:
                results = self._detect([(w.image, w.encoding) for _, w in taken], sources)
            except Exception:  # the thread serves every camera: it must outlive any batch
                log.exception("a batch of %d frames failed", len(taken))
                self._count(sources, list(range(len(taken))), "dropped_engine_error")
                continue
            done = time.monotonic()
            with self._cond:
                self.batch_stats.timed_out += timed_out
                for (source, waiting), dets in zip(taken, results, strict=True):
                    if dets is not None:
                        stats = self._sources[source]
                        stats.detected += 1
                        stats.latency_ms.append((done - waiting.arrived) * 1e3)
                        del stats.latency_ms[:-1000]  # a window of the latest
            for (source, waiting), dets in zip(taken, results, strict=True):
                if dets is None:
                    continue
                try:
                    self._on_result(source, dets, waiting.header)
                except Exception:  # one consumer's failure must not stop the other cameras
                    log.exception("on_result failed for source %r", source)

    # -- one batch -----------------------------------------------------------------------------

    def detect_batch(
        self, images: Sequence[Any] | Mapping[str, Any], encoding: str | None = None
    ) -> list[Detections] | dict[str, Detections]:
        """Detections of up to ``max_batch`` images in one inference, in the order given (or
        by key, for a mapping); each image may have its own size (and, as ``(image,
        encoding)`` pairs, its own encoding). A bad image raises :class:`InputError`."""
        keys = list(images) if isinstance(images, Mapping) else None
        values = list(images.values()) if isinstance(images, Mapping) else list(images)
        frames = [v if isinstance(v, tuple) else (v, encoding) for v in values]
        results = self._detect(frames, None)
        found = [r for r in results if r is not None]
        return dict(zip(keys, found, strict=True)) if keys is not None else found

    def _detect(
        self, frames: list[tuple[Any, str | None]], sources: list[str] | None
    ) -> list[Detections | None]:
        """One inference over ``frames``: each preprocessed into its row, the batch run, each
        row decoded with its letterbox. With ``sources`` (the worker's batches), a frame that
        cannot be preprocessed and a failed batch are counted drops (None); without, they
        raise."""
        if not 1 <= len(frames) <= self.max_batch:
            raise InputError(f"images: expected 1..{self.max_batch} images, given {len(frames)}")
        with self._running:
            return self._detect_locked(frames, sources)

    def _path(self, batch: int) -> FramePipeline | None:
        """The frame pipeline for batches of ``batch`` rows, made on first use."""
        if batch not in self._paths:
            det = self._detector
            step = det.frame_step(batch)
            path = None
            if step is not None:
                # one batch at a time: one slot; the head scanned on the GPU where its format
                # allows, each row into its own candidates
                fmt = det.step_format(step)
                path = FramePipeline.build(det.preprocessor, step, 1, fmt, det.options)
                det.monitor.add_pool(f"batch{batch}_outputs", path.pool)
            self._paths[batch] = path
        return self._paths[batch]

    def _detect_locked(
        self, frames: list[tuple[Any, str | None]], sources: list[str] | None
    ) -> list[Detections | None]:
        rows: list[int] = []
        located: list[LocatedFrame] = []
        keep: list[Any] = []  # arrays locate_frame made, alive until the batch ran
        for k, (image, encoding) in enumerate(frames):
            try:
                frame, kept = locate_frame(image, encoding, None, None, None)
                reason, message, _ = _core.frame_problem(
                    frame.encoding, frame.width, frame.height, frame.step, frame.size
                )
                if reason is not None:
                    raise InputError(f"image: {message}")
            except Exception as exc:  # e.g. a buffer that cannot be read: the frame's fault
                if sources is None:
                    raise
                log.warning("source %r: frame dropped: %s", sources[k], exc)
                with self._cond:
                    self._sources[sources[k]].dropped_bad_input += 1
                continue
            rows.append(k)
            located.append(frame)
            keep.append(kept)
        results: list[Detections | None] = [None] * len(frames)
        if not rows:
            return results
        batch = self._fixed_batch or next(
            (size for size in self._batch_sizes if size >= len(rows)), len(rows)
        )
        try:
            found = self._run_batch([frames[k] for k in rows], located, batch)
        except Exception as exc:
            if sources is None:
                raise
            refused = isinstance(exc, InputError)
            log.exception(
                "a batch of %d frames %s", len(rows), "was refused" if refused else "failed"
            )
            self._count(sources, rows, "dropped_bad_input" if refused else "dropped_engine_error")
            return results
        for row, k in enumerate(rows):
            results[k] = found[row]
        with self._cond:
            self.batch_stats.batches += 1
            self.batch_stats.frames += len(rows)
        return results

    def _count(self, sources: list[str], rows: list[int], reason: str) -> None:
        with self._cond:
            for k in rows:
                stats = self._sources[sources[k]]
                setattr(stats, reason, getattr(stats, reason) + 1)

    def _run_batch(
        self, images: list[tuple[Any, str | None]], frames: list[LocatedFrame], batch: int
    ) -> list[Detections]:
        """One inference over ``images`` (located as ``frames``) padded to ``batch`` rows; their
        detections."""
        det = self._detector
        pad = [None] * (batch - len(frames))
        path = self._path(batch)
        if path is not None:
            events = self._events
            marks = events.take() if events is not None else None
            rows = [(frame, 0, row) for row, frame in enumerate(frames)]
            transforms = path.submit_frames(rows, None, 0, path.current_stream(), marks)
            if marks is not None:
                det.settle_monitor()  # earlier batches' GPU times, folded in meanwhile
            try:
                if path.scanning:  # each frame's row decoded from its own scanned candidates
                    return path.wait_scanned_rows(0, transforms)[0]
                outputs = path.wait(0)
            finally:
                if marks is not None:
                    # handed over once waited for, so the monitor never asks about a running batch
                    events.hand_over(marks)
        else:
            pre = det.preprocessor
            if self._buffer is None:
                # one input buffer for the largest batch: a batch fills its first rows (rows
                # past them keep stale pixels, fed only to a model of fixed batch or sizes)
                sizes = (self._fixed_batch or self.max_batch, *self._batch_sizes, 1)
                self._buffer = pre.empty(batch=max(sizes))
                self._target = pre.prepare_output(self._buffer)
            transforms = [
                pre(image, self._target, encoding, batch_index=row)
                for row, (image, encoding) in enumerate(images)
            ]
            outputs = det.engine.infer({self._input_name: _first_rows(self._buffer, batch)})
        decoded = decode(det.output_format(outputs), outputs, transforms + pad, det.options)
        found = decoded[: len(frames)]
        return found if path is None else [path.detach(dets, 0) for dets in found]

    # -- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stops batching (frames still waiting are dropped, counted as ``dropped_closed``) and
        releases the model, once the batch running, and its ``on_result`` calls, are done."""
        with self._cond:
            self._closed = True
            for source in self._waiting:
                self._sources[source].dropped_closed += 1
            self._waiting.clear()
            self._cond.notify_all()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(CLOSE_WAIT_S)
            if self._worker.is_alive():  # an on_result that blocks: the model stays loaded
                log.error(
                    "close: the batching thread is still in a batch or its on_result after "
                    "%.0f s; the model is not released",
                    CLOSE_WAIT_S,
                )
                return
        self._detector.close()

    def __enter__(self) -> BatchDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
