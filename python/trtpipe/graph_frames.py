"""The Detector's frame path over a captured CUDA graph: one native call per frame.

``_core.FrameGraph`` enqueues, on the caller's stream, the preprocessing kernel writing the
graph's static input, the graph's launch and the copies of its static outputs into a slot of
pinned host memory; :meth:`GraphFrames.wait` blocks until a slot's copies landed and gives its
outputs as NumPy views of that memory, valid until the slot's next frame. A frame in flight owns
one slot, so the views stay intact while the frame is decoded.

For a YOLOv8-style head ([1, 4 + C, N] float32, no class filter) the head is scanned on the GPU
instead (csrc/pipeline/head_scan.cu): the anchors passing the confidence threshold are written
into the slot's mapped pinned records, and only they are read on the host, where the wait and
the decoding (``decode_compact_candidates``, exactly as ``decode_yolov8`` would) are one call.

Used where the model runs as a PyTorch CUDA graph whose ``cudaGraphExec_t`` PyTorch gives out
(``CUDAGraph.raw_cuda_graph_exec``); elsewhere the Detector calls the engine per frame. The graph
is launched as captured: a model drawing random numbers in ``forward()`` would draw the same
ones every frame (PyTorch's own replay advances its generators); ``Detector(zero_copy=False)``
calls the engine instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from trtpipe import _core
from trtpipe.backends.torch import CapturedGraph
from trtpipe.decode.common import DecodeOptions
from trtpipe.decode.detections import Detections
from trtpipe.memory import DevicePool, PinnedPool
from trtpipe.preprocess import Letterbox, PreparedOutput, Preprocessor, locate_frame

log = logging.getLogger(__name__)


_RECORD_FLOATS = 8  # a decode::CompactCandidate: cx, cy, w, h, score, anchor, class, unused


def _scannable_head(
    fmt: str | None, graph: CapturedGraph, options: DecodeOptions
) -> tuple[int, int] | None:
    """(classes, anchors) of the graph's output where the GPU head scan decodes it as the
    decoder ``fmt`` would, else None: one YOLOv8 [1, 4 + C, N] float32 output, all classes
    (outputs already known contiguous, as :meth:`GraphFrames.build` checks)."""
    if fmt != "yolov8" or len(graph.outputs) != 1 or options.classes is not None:
        return None
    (out,) = graph.outputs
    shape = tuple(out.shape)
    if len(shape) != 3 or shape[0] != 1 or shape[1] < 5 or _host_dtype(out) != np.float32:
        return None
    return (shape[1] - 4, shape[2]) if 0 < shape[2] < 2**31 else None


def _host_dtype(tensor: Any) -> np.dtype | None:
    try:
        return np.dtype(str(tensor.dtype).removeprefix("torch."))
    except TypeError:  # e.g. bfloat16: nothing NumPy decodes
        return None


class GraphFrames:
    """Frames through ``graph``, ``slots`` of them in flight; build with :meth:`build`."""

    def __init__(
        self,
        preprocessor: Preprocessor,
        target: PreparedOutput,
        graph: CapturedGraph,
        exec_handle: int,
        output_names: Sequence[str],
        slots: int,
        scan: tuple[int, int] | None = None,
        options: DecodeOptions | None = None,
    ) -> None:
        self._pre = preprocessor
        self._graph = graph  # owns the executable graph FrameGraph launches
        self.options = options or DecodeOptions()
        core = preprocessor.gpu_core()
        # the whole outputs to the host, or with a head scan only its candidates
        copied = [] if scan is not None else list(zip(output_names, graph.outputs, strict=True))
        nbytes = [t.numel() * t.element_size() for _, t in copied]
        records = 0 if scan is None else scan[1] * _RECORD_FLOATS * 4 + 4  # + the count
        # 256-byte aligned blocks: room for the alignment of each
        self.pool = PinnedPool(
            (sum(n + 256 for n in nbytes) + records + 512) * slots, device=core.device
        )
        # NumPy views of pool buffers: each view keeps its buffer alive
        self._outputs = [
            {n: np.asarray(self.pool.empty(tuple(t.shape), _host_dtype(t))) for n, t in copied}
            for _ in range(slots)
        ]
        self._native = _core.FrameGraph(
            core,
            target.address,
            target.shape,
            target.strides,
            target.dtype,
            exec_handle,
            [(t.data_ptr(), n) for (_, t), n in zip(copied, nbytes, strict=True)],
            [[a.ctypes.data for a in outputs.values()] for outputs in self._outputs],
        )
        self.scanning = scan is not None
        if scan is not None:
            self._scan_targets(graph.outputs[0], *scan, slots, core.device)

    def _scan_targets(self, head: Any, classes: int, anchors: int, slots: int, device: int) -> None:
        record_buffers = [
            self.pool.empty((anchors, _RECORD_FLOATS), np.float32) for _ in range(slots)
        ]
        count_buffers = [self.pool.empty((1,), np.uint32) for _ in range(slots)]
        # NumPy views keep the buffers alive
        self._records = [np.asarray(b) for b in record_buffers]
        self._counts = [np.asarray(b) for b in count_buffers]
        self._count_pool = DevicePool(4096, device=device)
        self._device_count = self._count_pool.empty((1,), np.uint32)
        self._native.scan_head(
            head.data_ptr(),
            classes,
            anchors,
            float(self.options.conf),
            int(self._device_count.ptr),
            [int(b.device_ptr) for b in record_buffers],
            [r.ctypes.data for r in self._records],
            [c.ctypes.data for c in self._counts],
        )

    @classmethod
    def build(
        cls,
        preprocessor: Preprocessor,
        target: PreparedOutput,
        graph: CapturedGraph,
        output_names: Sequence[str],
        slots: int,
        decoder: str | None = None,
        options: DecodeOptions | None = None,
    ) -> GraphFrames | None:
        """The frame path over ``graph``, or None (and why, at debug level) where it cannot
        run: no raw graph handle from PyTorch, or outputs NumPy cannot view as they are.
        ``decoder`` (the output format) and ``options``: scan the head on the GPU where
        :func:`_scannable_head` allows."""
        if not hasattr(_core, "FrameGraph"):
            log.debug("engine per frame: trtpipe._core was built without CUDA")
            return None
        handle = graph.exec_handle()
        if handle is None:
            log.debug("engine per frame: this PyTorch gives out no cudaGraphExec_t")
            return None
        for name, tensor in zip(output_names, graph.outputs, strict=True):
            if not tensor.is_contiguous() or _host_dtype(tensor) is None:
                log.debug(
                    "engine per frame: output %s (%s, contiguous: %s) cannot be read in place",
                    name,
                    tensor.dtype,
                    tensor.is_contiguous(),
                )
                return None
        options = options or DecodeOptions()
        scan = _scannable_head(decoder, graph, options)
        return cls(preprocessor, target, graph, handle, output_names, slots, scan, options)

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
        the host time (µs) of launching the graph and its copies."""
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
