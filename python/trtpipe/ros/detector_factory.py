"""How the node gets its ``trtpipe.Detector``: from its parameters, on configure and on reload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trtpipe.errors import BackendUnavailableError
from trtpipe.ros.params import DetectorParams

# (parameters, backend, device, monitor) -> a Detector (anything with detect_bytes, __call__,
# last_timings) recording its frames into the node's PerformanceMonitor where it can
DetectorFactory = Callable[[DetectorParams, str, str, Any], Any]

CPU_BACKEND, CPU_DEVICE = "onnxruntime", "cpu"


def detector_class() -> Any:
    """``trtpipe.Detector``; raises BackendUnavailableError where this installation lacks it."""
    import trtpipe

    detector_cls = getattr(trtpipe, "Detector", None)
    if detector_cls is None:
        try:
            from trtpipe.detector import Detector as detector_cls
        except ImportError as exc:
            raise BackendUnavailableError(
                "trtpipe.Detector: expected in this trtpipe installation, given one without it"
            ) from exc
    return detector_cls


def load_detector(params: DetectorParams, backend: str, device: str, monitor: Any = None) -> Any:
    """Build or load the engine (this is what the lifecycle ``configure`` transition waits for);
    its frames, GPU stage times and pools go to ``monitor``, the node's."""
    detector_cls = detector_class()
    from trtpipe.samples import model_or_sample

    return detector_cls(
        model_or_sample(params.model),
        backend=backend,
        input_size=params.input_size,
        conf=params.conf,
        iou=params.iou,
        labels=params.load_labels(),
        max_detections=params.max_detections,
        device=device,
        monitor=monitor,
    )
