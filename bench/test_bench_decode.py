"""Decode + NMS of a [1, 84, 8400] YOLOv8 output at conf 0.25, against the classic NumPy
post-processing and torchvision's NMS path; the Detector's per-frame cost over its backend.

python -m pytest bench/test_bench_decode.py --benchmark-only      (or: python -m bench.decode)
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from bench.decode import (
    CONF,
    IOU,
    MAX_DET,
    candidates,
    classic_nms,
    numpy_reference,
    torchvision_path,
    yolov8_output,
)
from trtpipe.decode import decode_yolov8, nms


@pytest.fixture(scope="module")
def output():
    return yolov8_output()


def test_decode_trtpipe(benchmark, output):
    dets = benchmark(decode_yolov8, output, conf=CONF, iou=IOU, max_detections=MAX_DET)[0]
    boxes, _, classes = numpy_reference(output)
    assert dets.class_ids.tolist() == classes.tolist()
    np.testing.assert_allclose(dets.boxes, boxes, atol=1e-3)


def test_decode_numpy_reference(benchmark, output):
    benchmark(numpy_reference, output)


def test_decode_torchvision(benchmark, output):
    run = torchvision_path(output)
    if run is None:
        pytest.skip("torch/torchvision not installed")
    import torch

    torch.set_num_threads(1)
    benchmark(run)


def test_nms_trtpipe(benchmark, output):
    boxes, scores, classes = candidates(output)
    benchmark(nms, boxes, scores, IOU, classes)


def test_nms_numpy_reference(benchmark, output):
    boxes, scores, classes = candidates(output)
    benchmark(classic_nms, boxes + classes[:, None] * 4096.0, scores, IOU)


def test_detector_frame(benchmark):
    pytest.importorskip("onnxruntime")
    if importlib.util.find_spec("skimage") is None:  # its data files, not an import
        pytest.skip("scikit-image is not installed")
    from trtpipe.detector import Detector
    from trtpipe.errors import BackendUnavailableError
    from trtpipe.samples import sample_images, sample_model

    try:
        det = Detector(sample_model())
    except BackendUnavailableError as exc:
        pytest.skip(f"the sample model is not available: {exc}")
    image = dict(sample_images())["astronaut"]
    benchmark(det, image)
    benchmark.extra_info["last_timings_ms"] = det.last_timings
