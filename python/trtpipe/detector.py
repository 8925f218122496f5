"""trtpipe.Detector: an image in, detections in source pixels out, with one object.

Per frame: the preprocessor letterboxes the image straight into the engine's input buffer, the
engine runs, the decoder (chosen from the output shapes) thresholds, suppresses and maps boxes
back. Host times of each stage go to a PerformanceMonitor on every call and are in
``last_timings``; on the GPU, CUDA events time preprocessing and inference on their stream.

The route is chosen once, by what the engine offers, never by its class: an engine that gives
a native model step (:meth:`Engine.model_step`: a TensorRT execution context, a PyTorch CUDA
graph) runs every frame through the one native frame pipeline (:mod:`trtpipe.frame_pipeline`):
one call enqueues preprocessing into the step's input, the step and the copies of its outputs
into pinned slots, one call waits for them (and decodes a GPU-scanned head). Any other engine
(ONNX Runtime, ``zero_copy=False``) is called per frame with a buffer per frame in flight: a
NumPy array on the CPU, a device-pool buffer on the GPU.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trtpipe.arrays import stream_handle
from trtpipe.backends.base import Engine, ModelStep, PendingResult, TensorInfo
from trtpipe.decode.common import DecodeOptions
from trtpipe.decode.detections import Detections
from trtpipe.decode.formats import FORMATS, detect_format, frame_decoder
from trtpipe.errors import BackendUnavailableError, EngineError, InputError
from trtpipe.frame_pipeline import FramePipeline
from trtpipe.model_metadata import class_names, image_size, onnx_metadata
from trtpipe.monitor import PerformanceMonitor
from trtpipe.preprocess import Preprocessor
from trtpipe.rgbd import DepthLifter, Detections3D
from trtpipe.stage_events import FrameEvents, StageEventRing, cuda_event_source

log = logging.getLogger(__name__)

# Frames that may be in flight between submit() and result(); each owns one input buffer.
PIPELINE_DEPTH = 2
# Ultralytics' export size, used when neither the model nor the caller gives one.
DEFAULT_INPUT_SIZE = (640, 640)


@dataclass(slots=True)
class Ticket:
    """A frame between ``submit`` and ``result``."""

    pending: PendingResult | None  # None: the frame runs through the FramePipeline
    transform: Any
    slot: int
    start: float
    preprocess_ms: float
    submit_ms: float
    marks: FrameEvents | None = None  # its GPU timing events, handed to the monitor once done
    done: bool = False
    owner: object = field(default=None, repr=False)  # the Detector whose slot it holds


def _load_engine(model: Any, backend: str, device: str, max_batch: int) -> Engine:
    if isinstance(model, Engine):
        return model
    from trtpipe.backends.loader import load

    return load(
        model, backend=backend, device=None if device == "auto" else device, max_batch=max_batch
    )


def _input_layout(info: TensorInfo) -> str:
    shape = info.shape
    if len(shape) != 4:
        raise EngineError(f"model input {info.name}: expected 4 dims (NCHW/NHWC), given {shape}")
    if shape[1] == 3:
        return "NCHW"
    if shape[3] == 3:
        return "NHWC"
    raise EngineError(f"model input {info.name}: expected 3 channels, given shape {shape}")


def _size_of(value: int | Sequence[int]) -> tuple[int, int]:
    """``input_size`` as (width, height): one positive int for both, or two."""
    try:
        w, h = (value, value) if isinstance(value, int) else (int(v) for v in value)
    except (TypeError, ValueError):
        w = h = 0
    if isinstance(w, bool) or w <= 0 or h <= 0:
        raise InputError(
            f"input_size: expected (width, height) or one size, all > 0, given {value!r}"
        )
    return w, h


def _fixed_size(shape: Sequence[int]) -> tuple[int, int] | None:
    """(width, height) of an image input of this shape (NCHW or NHWC) where both are fixed."""
    if len(shape) != 4 or 3 not in (shape[1], shape[3]):
        return None
    h, w = (shape[2], shape[3]) if shape[1] == 3 else (shape[1], shape[2])
    return (w, h) if h > 0 and w > 0 else None


def _check_fixed_size(input_size: int | Sequence[int], fixed: tuple[int, int] | None) -> None:
    if fixed is not None and _size_of(input_size) != fixed:
        raise InputError(
            f"input_size: the model's input is fixed at {fixed[0]}x{fixed[1]}, given {input_size}"
        )


def _check_onnx_input_size(model: Any, input_size: int | Sequence[int]) -> None:
    """``input_size`` against an ONNX model's fixed input size, read from the file before the
    model is loaded (a TensorRT build takes minutes); where it cannot be read, the load says why."""
    if not isinstance(model, (str, Path)) or Path(model).suffix.lower() != ".onnx":
        return
    from trtpipe.onnx_model import read_onnx

    try:
        proto = read_onnx(model)
    except (BackendUnavailableError, InputError):
        return
    initializers = {i.name for i in proto.graph.initializer}
    inputs = [i for i in proto.graph.input if i.name not in initializers]
    if len(inputs) == 1:
        dims = inputs[0].type.tensor_type.shape.dim
        shape = [d.dim_value if d.HasField("dim_value") else -1 for d in dims]
        _check_fixed_size(input_size, _fixed_size(shape))


class Detector:
    """Runs a detection model on images: ``det(image)``, ``det.detect_bytes(...)`` or
    ``det.submit(image)`` then ``det.result(ticket)``; boxes come back in source pixels.

    ``model``: a model file for :func:`trtpipe.load` or a loaded :class:`Engine`.
    ``input_size``: (width, height) for models with a dynamic input (default: the model's
    ``imgsz`` metadata, else 640×640). ``labels``: class names (default: the model's ``names``
    metadata). ``decoder``: the output format (default: told from the first outputs).
    ``zero_copy``: on the GPU, preprocess straight into the engine's own input tensor where it
    has one (False: always into a pool buffer, which the engine then reads or copies).
    ``max_batch``: load the model for batches up to this (see :func:`trtpipe.load`); the
    Detector runs one frame at a time, :class:`trtpipe.BatchDetector` runs the batches.
    ``monitor``: where the frames' times go (default: a monitor of its own, which samples the
    GPU through NVML where the Detector runs on one and nvidia-ml-py is installed; NVML
    numbers GPUs as CUDA does with ``CUDA_DEVICE_ORDER=PCI_BUS_ID``).

    Threads may share a Detector: a call runs its frame start to end while the others wait,
    and submits and results take turns, each frame in a slot of its own. For throughput across
    threads, give each its own Detector, or serve them with a BatchDetector.
    """

    _own_monitor: PerformanceMonitor | None = None  # made here, so closed here

    def __init__(
        self,
        model: str | Path | Engine,
        backend: str = "auto",
        input_size: int | Sequence[int] | None = None,
        conf: float = 0.25,
        iou: float = 0.45,
        labels: Sequence[str] | None = None,
        max_detections: int = 300,
        classes: Sequence[int] | None = None,
        decoder: str = "auto",
        device: str = "auto",
        monitor: PerformanceMonitor | None = None,
        *,
        zero_copy: bool = True,
        max_batch: int = 1,
    ):
        if decoder != "auto" and decoder not in FORMATS:
            raise InputError(f"decoder: expected 'auto' or one of {FORMATS}, given {decoder!r}")
        from trtpipe.backends.loader import check_device

        check_device(device)
        # The arguments are checked before the model is loaded, which may take long.
        if monitor is not None and not isinstance(monitor, PerformanceMonitor):
            raise InputError(
                f"monitor: expected None or a trtpipe.PerformanceMonitor, given {monitor!r:.80}"
            )
        DecodeOptions.of(
            None,
            conf=conf,
            iou=iou,
            max_detections=max_detections,
            classes=classes,
            label_names=labels,
        )
        if input_size is not None:
            _size_of(input_size)
            _check_onnx_input_size(model, input_size)
        self.engine = _load_engine(model, backend, device, max_batch)
        inputs = self.engine.inputs
        if len(inputs) != 1:
            raise EngineError(f"model: expected one image input, given {[i.name for i in inputs]}")
        self._input_info = inputs[0]
        metadata = onnx_metadata(model) if isinstance(model, (str, Path)) else {}
        self.input_size = self._resolve_input_size(input_size, metadata)
        names = list(labels) if labels is not None else class_names(metadata)
        self.options = DecodeOptions.of(
            None,
            conf=conf,
            iou=iou,
            max_detections=max_detections,
            classes=classes,
            label_names=names,
        )
        self.labels = names
        self.decoder = None if decoder == "auto" else decoder
        # prepared on the first outputs, when their shapes are known
        self._decode_frame: Callable[[Mapping[str, Any], Any], Detections] | None = None
        on_gpu = self.engine.device.startswith("cuda") and device != "cpu"
        self.device = self.engine.device if on_gpu else "cpu"
        half = np.dtype(self._input_info.dtype) == np.float16
        self._pre = Preprocessor(
            size=self.input_size,
            layout=_input_layout(self._input_info),
            dtype="float16" if half else "float32",
            device=self.device,
        )
        if monitor is None:
            # GPU utilisation, memory, temperature and power where NVML reads this GPU
            on = self.device.startswith("cuda")
            index = int(self.device.partition(":")[2] or 0) if on else None
            monitor = PerformanceMonitor(nvml_device=index)
            self._own_monitor = monitor
        self.monitor = monitor
        self._pool = None
        self._stream: Any = getattr(self.engine, "stream", None) or 0
        self._current_stream: Callable[[], Any] | None = None
        self._events: StageEventRing | None = None
        self._pipeline: FramePipeline | None = None
        self._buffers: list[Any] = []
        if on_gpu:
            step = self.frame_step() if zero_copy else None
            if step is not None:
                self._pipeline = FramePipeline.build(
                    self._pre, step, PIPELINE_DEPTH, self.step_format(step), self.options
                )
                self.monitor.add_pool("detector_outputs", self._pipeline.pool)
            else:
                self._buffers = self._device_buffers(half)
            self._gpu_timing()
        else:
            self._buffers = [self._pre.empty(batch=1) for _ in range(PIPELINE_DEPTH)]
        self.zero_copy = self._pipeline is not None
        self._targets = [self._pre.prepare_output(buffer) for buffer in self._buffers]
        name = self._input_info.name
        self._feeds = [{name: buffer} for buffer in self._buffers]
        self._free: deque[int] = deque(range(PIPELINE_DEPTH))
        self._closed = False
        self._lock = threading.Lock()
        self.last_timings: dict[str, float] = {}
        self._depth_lifter: DepthLifter | None = None

    def _input_shape(self, batch: int = 1) -> tuple[int, int, int, int]:
        w, h = self.input_size
        return (batch, 3, h, w) if _input_layout(self._input_info) == "NCHW" else (batch, h, w, 3)

    def frame_step(self, batch: int = 1) -> ModelStep | None:
        """The engine's native model step for batches of ``batch`` frames, if it offers one
        whose image input the preprocessing can write as it is (else None, and why at debug
        level): what the frame pipeline runs."""
        if not self.device.startswith("cuda"):
            return None
        half = np.dtype(self._input_info.dtype) == np.float16
        shape = self._input_shape(batch)
        try:
            step = self.engine.model_step({self._input_info.name: shape})
        except (EngineError, InputError) as exc:
            log.debug("frames through the engine per frame: no model step: %s", exc)
            return None
        if step is None:
            return None
        image = step.native.inputs[0]  # the pipeline preprocesses into the step's first input
        want = "float16" if half else "float32"
        if tuple(image["shape"]) != shape or image["dtype"] != want:
            log.debug(
                "frames through the engine per frame: the step's input is %s %s, not %s %s",
                image["shape"],
                image["dtype"],
                shape,
                want,
            )
            return None
        return step

    def step_format(self, step: ModelStep) -> str | None:
        """The output format of the step's outputs (None: not told from their shapes)."""
        if self.decoder is not None:
            return self.decoder
        shapes = {t["name"]: tuple(t["shape"]) for t in step.native.outputs}
        try:
            return detect_format(shapes, self.input_size)
        except InputError as exc:
            log.debug("no GPU head scan: %s", exc)
            return None

    def _gpu_timing(self) -> None:
        """Where GPU work is enqueued, and CUDA events on that stream for the monitor."""
        device = int(self.engine.device.partition(":")[2] or 0)
        time_inference = True
        if self._pipeline is not None:
            # the step's stream (PyTorch's current one) or the pipeline's own, read per frame
            self._current_stream = self._pipeline.current_stream
            source = cuda_event_source(device, 0)
        else:
            source = cuda_event_source(device, stream_handle(self._stream))
            if source is not None and not hasattr(self.engine, "stream"):
                # the engine enqueues on streams of its own, which events here cannot bracket
                log.debug("GPU time of preprocessing only: %s has its own streams", self.backend)
                time_inference = False
        if source is None:
            return
        if self._pipeline is None:
            self._stream = source[1]
        self._events = StageEventRing(source[0], self.monitor, inference=time_inference)

    def _device_buffers(self, half: bool) -> list[Any]:
        """The engine's input buffers, one per frame in flight, from one device pool."""
        from trtpipe.memory import DevicePool

        shape = self._input_shape()
        dtype = np.float16 if half else np.float32
        # 256-byte aligned blocks: leave room for the alignment of each
        nbytes = (int(np.prod(shape)) * np.dtype(dtype).itemsize + 256) * PIPELINE_DEPTH
        device = int(self.engine.device.partition(":")[2] or 0)
        self._pool = DevicePool(nbytes, device=device)
        self.monitor.add_pool("detector_input", self._pool)
        return [self._pool.empty(shape, dtype) for _ in range(PIPELINE_DEPTH)]

    @property
    def preprocessor(self) -> Preprocessor:
        """The preprocessing of this Detector's frames (size, layout, dtype, device)."""
        return self._pre

    @property
    def frame_path(self) -> str:
        """How a frame reaches the engine: "pipeline" (preprocessing, the engine's model step
        and its output copies in one native call per frame) or "engine" (its submit)."""
        return "pipeline" if self._pipeline is not None else "engine"

    @property
    def frame_graph_stats(self) -> dict[str, Any] | None:
        """On the "pipeline" path, how frames ran: each as one CUDA graph (``graph_frames``)
        or step by step (``step_frames``), the ``captures``, and why frames stopped running as
        graphs (``stopped``, '' while they may), with ``frames``, ``reshapes`` and
        ``timeouts``; None on the "engine" path."""
        return None if self._pipeline is None else self._pipeline.stats

    @property
    def gpu_event_ring(self) -> StageEventRing | None:
        """The CUDA events timing preprocessing and inference (None: no GPU timings)."""
        return self._events

    @property
    def backend(self) -> str:
        return self.engine.backend

    def _resolve_input_size(
        self, input_size: int | Sequence[int] | None, metadata: Mapping[str, str]
    ) -> tuple[int, int]:
        _input_layout(self._input_info)  # 4 dims, 3 channels
        fixed = _fixed_size(self._input_info.shape)
        if fixed is not None:
            if input_size is not None:
                _check_fixed_size(input_size, fixed)
            return fixed
        if input_size is not None:
            return _size_of(input_size)
        size = image_size(dict(metadata))
        if size is None:
            log.warning(
                "model input has dynamic size and no imgsz metadata; using %dx%d",
                *DEFAULT_INPUT_SIZE,
            )
            return DEFAULT_INPUT_SIZE
        return size

    # -- the frame path ---------------------------------------------------------------------

    def __call__(self, image: Any, encoding: str | None = None) -> Detections:
        return self._detect(image, encoding, {})

    def _detect(self, image: Any, encoding: str | None, raw: dict[str, Any]) -> Detections:
        """One frame, start to end: threads calling at once each hold the Detector in turn
        (submitting one by one and waiting afterwards could leave no slot free)."""
        with self._lock:
            return self._result_locked(self._submit_locked(image, encoding, raw))

    def detect_bytes(
        self, data: Any, width: int, height: int, encoding: str, step: int | None = None
    ) -> Detections:
        """Detections of a raw camera frame (e.g. a ROS ``sensor_msgs/Image``'s data)."""
        return self._detect(data, encoding, {"width": width, "height": height, "step": step})

    def detect_rgbd(
        self,
        color: Any,
        depth: Any,
        intrinsics: Any,
        encoding: str | None = None,
        depth_encoding: str | None = None,
        depth_scale: float | None = None,
        extrinsic: Any = None,
        colour_intrinsics: Any = None,
    ) -> Detections3D:
        """Detections of ``color`` placed in 3D with ``depth`` registered to it (16UC1 mm or
        32FC1 m; ``depth_scale``: metres per unit otherwise) and the depth image's
        ``intrinsics`` (:class:`trtpipe.rgbd.Intrinsics` or a ``sensor_msgs/CameraInfo``).
        Depth from another camera: ``extrinsic`` (4×4, depth -> colour) and the colour camera's
        ``colour_intrinsics`` (see :class:`trtpipe.rgbd.DepthLifter`). The statistics run where
        the Detector runs; :attr:`depth_lifter` holds the rule."""
        with self._lock:  # the frame start to end, as __call__
            ticket = self._submit_locked(color, encoding, {})
            geometry = ticket.transform  # the frame's letterbox knows its source size
            detections = self._result_locked(ticket)
        return self.depth_lifter(
            detections,
            (geometry.src_w, geometry.src_h),
            depth,
            intrinsics,
            depth_encoding,
            depth_scale,
            extrinsic,
            colour_intrinsics,
        )

    @property
    def depth_lifter(self) -> DepthLifter:
        """What :meth:`detect_rgbd` places boxes with (made on first use; assign a
        :class:`trtpipe.rgbd.DepthLifter` with another :class:`~trtpipe.rgbd.DepthRule`)."""
        if self._depth_lifter is None:
            self._depth_lifter = DepthLifter(self.device)
        return self._depth_lifter

    @depth_lifter.setter
    def depth_lifter(self, lifter: DepthLifter) -> None:
        self._depth_lifter = lifter

    def submit(self, image: Any, encoding: str | None = None) -> Ticket:
        """Starts a frame; at most PIPELINE_DEPTH frames may be in flight."""
        return self._submit(image, encoding)

    def _submit(self, image: Any, encoding: str | None, **raw: Any) -> Ticket:
        with self._lock:  # threads sharing the Detector take turns: each frame its own slot
            return self._submit_locked(image, encoding, raw)

    def _submit_locked(self, image: Any, encoding: str | None, raw: dict[str, Any]) -> Ticket:
        if not self._free:
            if self._closed:
                raise EngineError("this Detector was closed")
            raise InputError(
                f"submit: expected at most {PIPELINE_DEPTH} frames in flight; call result() "
                "on an earlier ticket first"
            )
        start = time.perf_counter()
        slot = self._free[0]
        # on the engine's stream, so inference is ordered after preprocessing
        stream = self._stream if self._current_stream is None else self._current_stream()
        events = self._events
        marks = events.take() if events is not None else None
        if self._pipeline is not None:
            try:
                transform, launch_us = self._pipeline.submit(
                    image, encoding, slot, stream, marks, **raw
                )
            except InputError:
                raise
            except Exception:
                self.monitor.count_drop("engine_error")
                raise
            pending = None
            t_sub = time.perf_counter()
            t_pre = t_sub - launch_us * 1e-6
        else:
            if marks is not None:
                marks.before.record(stream)
            transform = self._pre(image, self._targets[slot], encoding, stream=stream, **raw)
            if marks is not None:
                marks.between.record(stream)
            t_pre = time.perf_counter()
            try:
                pending = self.engine.submit(self._feeds[slot])
            except Exception:
                self.monitor.count_drop("engine_error")
                raise
            if marks is not None and events.inference:
                marks.after.record(stream)
            t_sub = time.perf_counter()
        self._free.popleft()
        ticket = Ticket(
            pending,
            transform,
            slot,
            start,
            (t_pre - start) * 1e3,
            (t_sub - t_pre) * 1e3,
            marks,
            owner=self,
        )
        self.settle_monitor()
        return ticket

    def settle_monitor(self) -> None:
        """Folds earlier frames' statistics into the monitor (while the GPU runs the next)."""
        try:
            self.monitor.settle()
        except Exception as exc:  # e.g. its JSON-lines file: the frame goes on regardless
            log.warning("monitor: folding in frame statistics failed: %s", exc)

    def _outputs(self, ticket: Ticket) -> Mapping[str, Any]:
        if ticket.pending is None:
            return self._pipeline.wait(ticket.slot)
        return self.engine.result(ticket.pending)

    def _finish(self, ticket: Ticket) -> tuple[Detections, float]:
        """The frame's detections, and the time its outputs were in host memory."""
        pipeline = self._pipeline if ticket.pending is None else None
        if pipeline is not None and pipeline.scanning:
            try:  # the wait and the decoding in one native call
                dets, decode_s = pipeline.wait_scanned(ticket.slot, ticket.transform)
            except Exception:
                self.monitor.count_drop("engine_error")
                raise
            return dets, time.perf_counter() - decode_s
        try:
            outputs = self._outputs(ticket)
        except Exception:
            self.monitor.count_drop("engine_error")
            raise
        t1 = time.perf_counter()
        dets = self._decode(outputs, ticket.transform)
        return (dets if pipeline is None else pipeline.detach(dets, ticket.slot)), t1

    def output_format(self, outputs: Mapping[str, Any]) -> str:
        """The decoder of these outputs: the one given, else told once from their shapes."""
        if self.decoder is None:
            shapes = {k: np.shape(v) for k, v in outputs.items()}
            self.decoder = detect_format(shapes, self.input_size)
            log.debug("decoder chosen from the output shapes: %s", self.decoder)
        return self.decoder

    def _decode(self, outputs: Mapping[str, Any], transform: Any) -> Detections:
        if self._decode_frame is None:
            shapes = {k: np.shape(v) for k, v in outputs.items()}
            self._decode_frame = frame_decoder(self.output_format(outputs), shapes, self.options)
        return self._decode_frame(outputs, transform)

    def result(self, ticket: Ticket) -> Detections:
        """Waits for a submitted frame and decodes it."""
        with self._lock:
            return self._result_locked(ticket)

    def _result_locked(self, ticket: Ticket) -> Detections:
        if not isinstance(ticket, Ticket) or ticket.done:
            raise InputError(f"ticket: expected a pending Ticket from submit(), given {ticket!r}")
        if ticket.owner is not self:  # another Detector's slot: its buffers are not ours
            raise InputError(
                "ticket: expected a Ticket from this Detector's submit(), given another's"
            )
        ticket.done = True
        if self._closed:  # its engine and buffers are gone
            raise EngineError("this Detector was closed before the frame's result was read")
        t0 = time.perf_counter()
        try:
            dets, t1 = self._finish(ticket)
        finally:
            # the slot's buffers are free once its outputs are decoded
            if not self._closed:
                self._free.append(ticket.slot)
        t2 = time.perf_counter()
        if ticket.marks is not None:
            # handed over once waited for, so the monitor never asks about a running frame
            self._events.hand_over(ticket.marks)
        pre, inference = ticket.preprocess_ms, ticket.submit_ms + (t1 - t0) * 1e3
        post, end_to_end = (t2 - t1) * 1e3, (t2 - ticket.start) * 1e3
        self.last_timings = {
            "preprocess": pre,
            "inference": inference,
            "postprocess": post,
            "end_to_end": end_to_end,
        }
        # folded into the statistics by the next frame's submit (or the monitor's readers)
        self.monitor.defer_frame(pre, inference, post, end_to_end)
        return dets

    def close(self) -> None:
        with self._lock:  # after a frame another thread is running
            self._close_locked()

    def _close_locked(self) -> None:
        self._closed = True
        self._free.clear()  # no slot for a frame from now on (submit says why)
        self._pipeline = None  # lets go of the engine's model step
        self.engine.close()
        if self._own_monitor is not None:
            self._own_monitor.close()

    def __enter__(self) -> Detector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
