"""The Detector's frame path over a captured CUDA graph: one native call per frame.

``_core.FrameGraph`` enqueues, on the caller's stream, the preprocessing kernel writing the
graph's static input, the graph's launch and the copies of its static outputs into a slot of
pinned host memory; :meth:`GraphFrames.wait` blocks until a slot's copies landed and gives its
outputs as NumPy views of that memory, valid until the slot's next frame. A frame in flight owns
one slot, so the views stay intact while the frame is decoded.

Used where the model runs as a PyTorch CUDA graph whose ``cudaGraphExec_t`` PyTorch gives out
(``CUDAGraph.raw_cuda_graph_exec``); elsewhere the Detector calls the engine per frame.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from trtpipe import _core
from trtpipe.backends.torch import CapturedGraph
from trtpipe.decode.detections import Detections
from trtpipe.memory import PinnedPool
from trtpipe.preprocess import Letterbox, PreparedOutput, Preprocessor, locate_frame

log = logging.getLogger(__name__)


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
    ) -> None:
        self._pre = preprocessor
        self._graph = graph  # owns the executable graph FrameGraph launches
        core = preprocessor.gpu_core()
        nbytes = [t.numel() * t.element_size() for t in graph.outputs]
        # 256-byte aligned blocks: room for the alignment of each
        self.pool = PinnedPool(sum(n + 256 for n in nbytes) * slots, device=core.device)
        self._blocks = [
            [self.pool.empty(tuple(t.shape), _host_dtype(t)) for t in graph.outputs]
            for _ in range(slots)
        ]
        self._outputs = [
            dict(zip(output_names, (np.asarray(b) for b in blocks), strict=True))
            for blocks in self._blocks
        ]
        self._native = _core.FrameGraph(
            core,
            target.address,
            target.shape,
            target.strides,
            target.dtype,
            exec_handle,
            [(t.data_ptr(), n) for t, n in zip(graph.outputs, nbytes, strict=True)],
            [[a.ctypes.data for a in outputs.values()] for outputs in self._outputs],
        )

    @classmethod
    def build(
        cls,
        preprocessor: Preprocessor,
        target: PreparedOutput,
        graph: CapturedGraph,
        output_names: Sequence[str],
        slots: int,
    ) -> GraphFrames | None:
        """The frame path over ``graph``, or None (and why, at debug level) where it cannot
        run: no raw graph handle from PyTorch, or outputs NumPy cannot view as they are."""
        if not hasattr(_core, "FrameGraph"):
            log.debug("engine per frame: trtpipe._core was built without CUDA")
            return None
        handle = graph.exec_handle()
        if handle is None:
            log.debug("engine per frame: this PyTorch gives out no cudaGraphExec_t")
            return None
        for name, tensor in zip(output_names, graph.outputs, strict=True):
            if not tensor.is_contiguous() or _host_dtype(tensor) is None:
                log.debug("engine per frame: output %s is %s, non-contiguous", name, tensor.dtype)
                return None
        return cls(preprocessor, target, graph, handle, output_names, slots)

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
        _, launch_us = self._native.submit(
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

    def detach(self, dets: Detections, slot: int) -> Detections:
        """``dets`` with any array that views ``slot``'s memory copied out of it (decoders that
        slice their outputs), so a later frame in the slot cannot change it."""
        outputs = self._outputs[slot].values()
        arrays = (dets.boxes, dets.scores, dets.class_ids)
        if not any(np.may_share_memory(a, out) for a in arrays for out in outputs):
            return dets
        return Detections(dets.boxes.copy(), dets.scores.copy(), dets.class_ids.copy(), dets.labels)
