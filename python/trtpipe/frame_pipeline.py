"""The Detector's frame path on the GPU: one native call submits a frame, one waits for it.

``_core.FramePipeline`` enqueues, on one stream, the preprocessing kernel writing the model
step's image input, the model step itself (whatever the engine offers as
:meth:`Engine.model_step <trtpipe.backends.base.Engine.model_step>`: a TensorRT execution context,
a PyTorch CUDA graph) and the copies of its outputs into a slot of pinned host memory;
:meth:`FramePipeline.wait` blocks until a slot's copies landed and gives its outputs as NumPy
views of that memory, valid until the slot's next frame. A frame in flight owns one slot, so the
views stay intact while the frame is decoded.

For a YOLOv8-style head ([1, 4 + C, N] float32, no class filter) the head is scanned on the GPU
instead (csrc/pipeline/head_scan.cu): the anchors passing the confidence threshold are written
into the slot's mapped pinned records, and only they are read on the host, where the wait and
the decoding (``decode_compact_candidates``, exactly as ``decode_yolov8`` would) are one call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from trtpipe import _core
from trtpipe.backends.base import ModelStep
from trtpipe.decode.common import DecodeOptions
from trtpipe.decode.detections import Detections
from trtpipe.memory import OwnPool
from trtpipe.preprocess import Letterbox, Preprocessor, locate_frame

log = logging.getLogger(__name__)


def _scan_output(fmt: str | None, outputs: Sequence[dict], options: DecodeOptions) -> int:
    """The index of the output the GPU head scan decodes as the decoder ``fmt`` would, else -1:
    one YOLOv8 [1, 4 + C, N] float32 output, all classes."""
    if fmt != "yolov8" or len(outputs) != 1 or options.classes is not None:
        return -1
    shape, dtype = tuple(outputs[0]["shape"]), outputs[0]["dtype"]
    if len(shape) != 3 or shape[0] != 1 or shape[1] < 5 or dtype != "float32":
        return -1
    return 0 if 0 < shape[2] < 2**31 else -1


class FramePipeline:
    """Frames through a model step, ``slots`` of them in flight; build with :meth:`build`."""

    def __init__(
        self,
        preprocessor: Preprocessor,
        step: ModelStep,
        slots: int,
        scan_output: int = -1,
        options: DecodeOptions | None = None,
    ) -> None:
        self._pre = preprocessor
        self._step = step  # keeps the step's tensors (a CUDA graph, an engine) alive
        self.options = options or DecodeOptions()
        self._native = _core.FramePipeline(
            step.native, preprocessor.gpu_core(), slots, scan_output, float(self.options.conf)
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
        the head on the GPU where the format allows."""
        options = options or DecodeOptions()
        scan = _scan_output(decoder, step.native.outputs, options)
        return cls(preprocessor, step, slots, scan, options)

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
        before = between = after = None
        if marks is not None:
            before, between, after = marks.before, marks.between, marks.after
        launch_us = self._native.submit(
            *frame.placement,
            frame.on_device,
            slot,
            stream,
            frame.stream,
            before,
            between,
            after,
        )
        del keep
        return self._pre.geometry(frame.width, frame.height), launch_us

    @property
    def graph_stats(self) -> dict[str, Any]:
        """How frames ran: ``graph_frames`` (each as one CUDA graph: preprocessing, model step
        and post-step), ``step_frames`` (step by step), ``captures``, and ``stopped``: why
        frames no longer run as graphs ('' while they may)."""
        return self._native.graph_stats

    def wait(self, slot: int) -> dict[str, np.ndarray]:
        """The outputs of ``slot``'s last frame, once its copies completed (views of the slot)."""
        self._native.wait(slot)
        return self._outputs[slot]

    def wait_scanned(self, slot: int, transform: Any) -> tuple[Detections, float]:
        """The detections of ``slot``'s last frame from its head scan's candidates, waited for
        and decoded natively (as ``decode_yolov8`` decodes the whole head), and the host time
        in seconds the decoding took after the wait; ``transform``: the frame's Letterbox."""
        options = self.options
        boxes, scores, class_ids, decode_us = self._native.wait_scanned(
            slot, options.iou, options.max_detections, options.agnostic, transform.source_terms
        )
        dets = Detections.from_exact(boxes, scores, class_ids, options.label_names)
        return dets, decode_us * 1e-6

    def detach(self, dets: Detections, slot: int) -> Detections:
        """``dets`` with any array that views ``slot``'s memory copied out of it (decoders that
        slice their outputs), so a later frame in the slot cannot change it."""
        outputs = self._outputs[slot].values()
        arrays = (dets.boxes, dets.scores, dets.class_ids)
        if not any(np.may_share_memory(a, out) for a in arrays for out in outputs):
            return dets
        return Detections(dets.boxes.copy(), dets.scores.copy(), dets.class_ids.copy(), dets.labels)
