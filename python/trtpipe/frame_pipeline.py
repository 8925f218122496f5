"""Frames on the GPU through the native frame pipeline: one native call submits a frame, one
waits for it. :class:`FramePipeline` is the Detector's (images in, detections out);
:class:`TensorFrames` an engine's own ``submit`` / ``result`` (tensors in, tensors out).

``_core.FramePipeline`` enqueues, on one stream, the preprocessing kernel writing the model
step's image input, the model step itself (whatever the engine offers as
:meth:`Engine.model_step <trtpipe.backends.base.Engine.model_step>`: a TensorRT execution context,
a PyTorch CUDA graph) and the copies of its outputs into a slot of pinned host memory;
:meth:`FramePipeline.wait` blocks until a slot's copies landed and gives its outputs as NumPy
views of that memory, valid until the slot's next frame. A frame in flight owns one slot, so the
views stay intact while the frame is decoded.

For a YOLOv8 head ([B, 4 + C, N] float32) or a YOLOv5 one ([B, N, 5 + C] float32, objectness ×
class score), B the batch of the step's image input, with no class filter, the head is scanned on
the GPU instead (csrc/pipeline/head_scan.cu): the anchors passing the confidence threshold are
written into the slot's mapped pinned records, each batch row into its own with its own count,
and only they are read on the host, where the wait and the decoding of every row asked for
(``decode_compact_candidates``, exactly as the format's CPU decoder would, each row with its own
letterbox) are one call.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from trtpipe import _core
from trtpipe.backends.base import ModelStep
from trtpipe.decode.common import DecodeOptions
from trtpipe.decode.detections import Detections
from trtpipe.errors import InputError
from trtpipe.memory import OwnPool
from trtpipe.preprocess import Letterbox, LocatedFrame, Preprocessor, locate_frame

log = logging.getLogger(__name__)


# decoder format -> (objectness: YOLOv5 rows, the channel axis, the fewest channels)
_SCANNED_HEADS = {"yolov8": (False, 1, 5), "yolov5": (True, 2, 6)}


def _scan_output(
    fmt: str | None, outputs: Sequence[dict], options: DecodeOptions, batch: int = 1
) -> tuple[int, bool]:
    """(the index of the output the GPU head scan decodes as the decoder ``fmt`` would, else
    -1; whether it is a YOLOv5 head): one float32 YOLOv8 [batch, 4 + C, N] or YOLOv5
    [batch, N, 5 + C] output, all classes; ``batch``: the rows of the step's image input (a
    head of other rows is not one row per image)."""
    head = _SCANNED_HEADS.get(fmt or "")
    if head is None or len(outputs) != 1 or options.classes is not None:
        return -1, False
    objectness, channel_axis, fewest = head
    shape, dtype = tuple(outputs[0]["shape"]), outputs[0]["dtype"]
    if len(shape) != 3 or shape[0] != batch or shape[channel_axis] < fewest or dtype != "float32":
        return -1, False
    anchors = shape[3 - channel_axis]
    return (0, objectness) if 0 < anchors < 2**31 else (-1, False)


def _stage_marks(marks: Any) -> tuple[Any, Any, Any]:
    """The events of a FrameEvents (or None: none) recorded before, between and after."""
    return (None, None, None) if marks is None else (marks.before, marks.between, marks.after)


class FramePipeline:
    """Frames through a model step, ``slots`` of them in flight; build with :meth:`build`."""

    def __init__(
        self,
        preprocessor: Preprocessor | None,
        step: ModelStep,
        slots: int,
        scan_output: int = -1,
        options: DecodeOptions | None = None,
        scan_objectness: bool = False,
    ) -> None:
        self._pre = preprocessor
        self._step = step  # keeps the step's tensors (a CUDA graph, an engine) alive
        self.options = options or DecodeOptions()
        self._native = _core.FramePipeline(
            step.native,
            None if preprocessor is None else preprocessor.gpu_core(),
            slots,
            scan_output,
            float(self.options.conf),
            scan_objectness=scan_objectness,
        )
        self.scanning = self._native.scanning
        # NumPy views of each slot's pinned outputs, made once
        self._outputs = [self._native.host_outputs(k) for k in range(slots)]
        self.pool = OwnPool(self._native.pinned_pool)
        own = self._native.stream
        #: the cudaStream_t of the next frame: the step's (PyTorch's current), else the pipeline's
        self.current_stream: Callable[[], int] = step.current_stream or (lambda: own)

    @classmethod
    def build(
        cls,
        preprocessor: Preprocessor,
        step: ModelStep,
        slots: int,
        decoder: str | None = None,
        options: DecodeOptions | None = None,
    ) -> FramePipeline:
        """The frame path over ``step``; ``decoder`` (the output format) and ``options``: scan
        the head on the GPU where the format allows, each batch row of the step's image input
        on its own."""
        options = options or DecodeOptions()
        batch = step.native.inputs[0]["shape"][0]  # the preprocessing writes rows of input 0
        scan, objectness = _scan_output(decoder, step.native.outputs, options, batch)
        return cls(preprocessor, step, slots, scan, options, scan_objectness=objectness)

    def submit(
        self,
        image: Any,
        encoding: str | None,
        slot: int,
        stream: int,
        marks: Any = None,
        *,
        width: int | None = None,
        height: int | None = None,
        step: int | None = None,
    ) -> tuple[Letterbox, float]:
        """Enqueues ``image`` into ``slot`` on ``stream``, with ``marks`` (a FrameEvents, or
        None) recorded around preprocessing and inference; returns the frame's geometry and
        the host time (µs) of launching the model step and the copies after it."""
        frame, keep = locate_frame(image, encoding, width, height, step)
        launch_us = self._native.submit(frame, slot, stream, *_stage_marks(marks))
        del keep
        return self._pre.geometry(frame.width, frame.height), launch_us

    def submit_frames(
        self,
        frames: Sequence[tuple[LocatedFrame, int, int]],
        tensors: Mapping[str, Any] | None,
        slot: int,
        stream: int,
        marks: Any = None,
    ) -> list[Letterbox]:
        """Enqueues a frame of several inputs into ``slot``: ``frames`` as (a frame located by
        :func:`~trtpipe.preprocess.locate_frame`, the step's input index, its batch row), each
        preprocessed into its row, and ``tensors`` (input name -> NumPy or GPU array) copied
        into theirs; returns each image's geometry. Rows no frame fills keep what they held."""
        self._native.submit_inputs(
            list(frames), dict(tensors or {}), slot, stream, *_stage_marks(marks)
        )
        return [self._pre.geometry(frame.width, frame.height) for frame, _, _ in frames]

    @property
    def stats(self) -> dict[str, Any]:
        """``frames`` submitted and how they ran: ``graph_frames`` (each as one CUDA graph:
        preprocessing, model step and post-step), ``step_frames`` (step by step),
        ``captures``, ``reshapes``, ``argument_updates`` (preprocessing kernels of a graph
        given a frame's new address or geometry; frames from one buffer need none),
        ``timeouts``, ``uncaptured_frames`` (step by step: the geometry changed more often
        than a window of frames allows captures for), and ``stopped``: why frames no longer
        run as graphs ('' while they may)."""
        return self._native.stats

    def wait(self, slot: int) -> dict[str, np.ndarray]:
        """The outputs of ``slot``'s last frame, once its copies completed (views of the slot)."""
        self._native.wait(slot)
        return self._outputs[slot]

    def wait_scanned(self, slot: int, transform: Any) -> tuple[Detections, float]:
        """The detections of ``slot``'s last frame from its head scan's candidates, waited for
        and decoded natively (as ``decode_yolov8`` or ``decode_yolov5`` decodes the whole head),
        and the host time in seconds the decoding took after the wait; ``transform``: the
        frame's Letterbox."""
        options = self.options
        boxes, scores, class_ids, decode_us = self._native.wait_scanned(
            slot, options.iou, options.max_detections, options.agnostic, transform.source_terms
        )
        dets = Detections.from_exact(boxes, scores, class_ids, options.label_names)
        return dets, decode_us * 1e-6

    def wait_scanned_rows(
        self, slot: int, transforms: Sequence[Letterbox]
    ) -> tuple[list[Detections], float]:
        """The detections of the first ``len(transforms)`` batch rows of ``slot``'s last frame,
        row k's mapped with ``transforms[k]`` (its frame's Letterbox), from one wait and one
        native decoding of each row's own candidates; rows past them (a batch padded to the
        step's) are left alone. And the host time in seconds the decoding took after the
        wait."""
        options = self.options
        rows, decode_us = self._native.wait_scanned_rows(
            slot,
            options.iou,
            options.max_detections,
            options.agnostic,
            [transform.source_terms for transform in transforms],
        )
        names = options.label_names
        dets = [Detections.from_exact(b, s, c, names) for b, s, c in rows]
        return dets, decode_us * 1e-6

    def detach(self, dets: Detections, slot: int) -> Detections:
        """``dets`` with any array that views ``slot``'s memory copied out of it (decoders that
        slice their outputs), so a later frame in the slot cannot change it."""
        outputs = self._outputs[slot].values()
        arrays = (dets.boxes, dets.scores, dets.class_ids)
        if not any(np.may_share_memory(a, out) for a in arrays for out in outputs):
            return dets
        return Detections(dets.boxes.copy(), dets.scores.copy(), dets.class_ids.copy(), dets.labels)


class TensorFrames:
    """Frames of tensors through a model step, up to ``slots`` in flight, each known by a
    ticket: the ``submit`` / ``result`` of an engine whose frames run in the native pipeline.

    A frame's inputs are copied into the step's bindings on the pipeline's stream (host arrays
    by a copy enqueued there, GPU arrays on the GPU after their producer's stream); a shape
    other than the last frame's reshapes the step (a resizable ``ContextStep`` takes any shape
    of its profile). The step, then the copies of its outputs into the slot's pinned memory,
    run as one CUDA graph from the second frame of the same shapes on (``graphs``). One native
    call submits a frame; one waits for it and reads its outputs. Not thread-safe beyond this:
    one thread submits, any thread may wait.
    """

    def __init__(
        self, step: ModelStep, slots: int = 2, *, graphs: bool = True, pinned_pool: Any = None
    ) -> None:
        self._step = step  # keeps the step's tensors (an engine's context) alive
        self._native = _core.FramePipeline(
            step.native, None, slots, graphs=graphs, pinned_pool=pinned_pool
        )
        self._slots = slots
        # free slots, the one submitted to longest ago first; the slot of each ticket in flight;
        # per slot, its frame's inputs, held until taken (a GPU input is copied on the GPU
        # after submit returns)
        self._free: deque[int] = deque(range(slots))
        self._slot_of: dict[int, int] = {}
        self._held: list[Any] = [None] * slots
        self._next = 1
        self._completed = 0

    @property
    def pinned_pool(self) -> Any:
        """The ``PinnedPool`` of the slots' outputs."""
        return self._native.pinned_pool

    def submit(self, inputs: Any) -> int:
        """Starts a frame; returns its ticket. ``inputs``: a dict of input name -> NumPy or GPU
        array, or (faster) a list or tuple in the order of the step's inputs."""
        free = self._free
        if not free:
            raise InputError(
                f"submit: expected at most {self._slots} frames in flight, given another while "
                f"tickets {', '.join(map(str, self._slot_of))} are not taken; take a result "
                "first or use more slots"
            )
        slot = free[0]
        self._native.submit_tensors(inputs, slot)
        free.popleft()
        ticket = self._next
        self._next = ticket + 1
        self._slot_of[ticket] = slot
        self._held[slot] = inputs
        return ticket

    def _slot(self, ticket: int) -> int:
        slot = self._slot_of.get(ticket)
        if slot is None:
            raise InputError(
                f"ticket: expected a frame in flight here, given {ticket!r} (already taken, or "
                "never submitted here)"
            )
        return slot

    def ready(self, ticket: int) -> bool:
        """Whether the frame has finished."""
        return self._native.ready(self._slot(ticket))

    def wait(self, ticket: int, timeout_ms: float = -1.0) -> None:
        """Blocks until the frame has finished; EngineError after ``timeout_ms`` (< 0: no
        limit), the frame still in flight and waitable again."""
        self._native.wait(self._slot(ticket), timeout_ms)

    def take(self, ticket: int, copy: bool = True) -> dict[str, np.ndarray]:
        """The outputs of a finished frame, freeing its slot; as :meth:`result`."""
        slot = self._slot(ticket)
        if not self._native.ready(slot):
            raise InputError(
                f"ticket {ticket}: expected a finished frame, given one still running (wait "
                "for it first)"
            )
        return self._release(ticket, slot, self._native.result(slot, -1.0, copy))

    def result(
        self, ticket: int, timeout_ms: float = -1.0, copy: bool = True
    ) -> dict[str, np.ndarray]:
        """Waits for the frame (EngineError after ``timeout_ms``, < 0: no limit; the frame is
        then still in flight), then its outputs by name: copies, or (``copy=False``) views of
        its slot's pinned memory, valid until a later frame reuses the slot."""
        slot = self._slot(ticket)
        return self._release(ticket, slot, self._native.result(slot, timeout_ms, copy))

    def _release(
        self, ticket: int, slot: int, outputs: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        del self._slot_of[ticket]
        self._held[slot] = None
        self._free.append(slot)
        self._completed += 1
        return outputs

    def stats(self) -> dict[str, Any]:
        """The pipeline's counters (``frames``, ``graph_frames``, ``step_frames``,
        ``captures``, ``reshapes``, ``timeouts``, ``stopped``) and ``completed``: frames taken."""
        return {**self._native.stats, "completed": self._completed}
