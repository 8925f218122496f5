"""Detector's GPU path against its CPU path (ONNX Runtime on the host, the oracle).

1. The preprocessor writes into a device buffer that goes to the engine as is: the engine is the
   sample model on ONNX Runtime behind a stand-in that takes GPU arrays (copying them to the
   host itself), so the boxes can be compared with the CPU path.
2. The sample model on PyTorch (converted by onnx2torch, CUDA graphs): preprocessing straight
   into the graph's input tensor, or into pool buffers copied in; one or two frames in flight;
   CUDA-event timings of preprocessing and inference in the monitor.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from onnx_models import coco_model
from trtpipe.backends.base import Engine
from trtpipe.decode import box_iou

pytestmark = pytest.mark.gpu


class GpuInputEngine(Engine):
    """Reports a CUDA device and requires GPU arrays as inputs."""

    def __init__(self, inner: Engine):
        self.inner = inner
        self.backend = inner.backend
        self.inputs_seen: list[object] = []

    @property
    def inputs(self):
        return self.inner.inputs

    @property
    def outputs(self):
        return self.inner.outputs

    @property
    def device(self) -> str:
        return "cuda:0"

    def infer(self, inputs):
        import torch

        host = {}
        for name, value in inputs.items():
            assert hasattr(value, "__cuda_array_interface__") or hasattr(value, "__dlpack__")
            self.inputs_seen.append(value)
            host[name] = torch.as_tensor(value, device="cuda").cpu().numpy()
        return self.inner.infer(host)


def _skip_without_samples() -> None:
    pytest.importorskip("onnxruntime")
    coco_model()  # the sample model, or a skip with the reason
    if importlib.util.find_spec("skimage") is None:  # its data files, not an import
        pytest.skip("scikit-image is not installed")


def _same_detections(got, want, name: str, score_atol: float = 0.02) -> None:
    assert got.labels == want.labels, name
    np.testing.assert_array_equal(got.class_ids, want.class_ids, err_msg=name)
    if len(want):
        assert np.diag(box_iou(got.boxes, want.boxes)).min() > 0.98, name
        np.testing.assert_allclose(got.scores, want.scores, atol=score_atol, err_msg=name)


def _torch_detector(monkeypatch, **kwargs):
    """The sample model on the PyTorch backend on the GPU, in float32 arithmetic (no TF32
    convolutions), so that it computes what ONNX Runtime on the CPU does."""
    _skip_without_samples()
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx2torch")
    if not torch.cuda.is_available():
        pytest.skip("torch.cuda.is_available() is False")
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    from trtpipe.detector import Detector
    from trtpipe.samples import sample_model

    return Detector(sample_model(), backend="torch", **kwargs)


def test_gpu_preprocessing_feeds_device_buffers_and_matches_cpu():
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    coco_model()  # the sample model, or a skip with the reason
    if importlib.util.find_spec("skimage") is None:  # its data files, not an import
        pytest.skip("scikit-image is not installed")
    from trtpipe.detector import Detector
    from trtpipe.samples import sample_images, sample_model

    cpu = Detector(sample_model(), device="cpu")
    engine = GpuInputEngine(cpu.engine)
    gpu = Detector(engine, input_size=cpu.input_size, labels=cpu.labels, device="cuda")
    assert gpu.device.startswith("cuda")
    for name, image in sample_images():
        want, got = cpu(image), gpu(image)
        assert got.labels == want.labels, name
        if len(want):
            assert np.diag(box_iou(got.boxes, want.boxes)).min() > 0.98, name
            np.testing.assert_allclose(got.scores, want.scores, atol=0.02)
    assert len(engine.inputs_seen) == 4
    assert set(gpu.last_timings) == {"preprocess", "inference", "postprocess", "end_to_end"}
    # an engine with streams of its own: GPU time of preprocessing only
    import torch

    assert not gpu.zero_copy
    torch.cuda.synchronize()
    snap = gpu.monitor.snapshot()
    assert snap.gpu["preprocess"] is not None and snap.gpu["preprocess"].count == 4
    assert snap.gpu["inference"] is None


def test_gpu_event_timings_reach_the_monitor(monkeypatch):
    det = _torch_detector(monkeypatch)
    import torch

    from trtpipe.samples import sample_images

    images = [image for _, image in sample_images()]
    frames = 3 * len(images)
    host_end_to_end = []
    for i in range(frames):
        det(images[i % len(images)])
        host_end_to_end.append(det.last_timings["end_to_end"])
    torch.cuda.synchronize()
    snap = det.monitor.snapshot()
    assert snap.gpu_pending == 0
    assert det.gpu_event_ring.replaced == 0  # the monitor read every triple before its reuse
    for stage in ("preprocess", "inference"):
        stats = snap.gpu[stage]
        assert stats is not None, stage
        assert stats.count == frames, stage
        # GPU work of a frame runs between its submit and its result
        assert stats.p50_ms > 0.0, stage
        assert stats.max_ms <= max(host_end_to_end), stage


def test_zero_copy_input_matches_pool_buffers_and_cpu(monkeypatch):
    zero_copy = _torch_detector(monkeypatch)
    pooled = _torch_detector(monkeypatch, zero_copy=False)
    assert zero_copy.zero_copy and not pooled.zero_copy
    from trtpipe.detector import Detector
    from trtpipe.samples import sample_images, sample_model

    cpu = Detector(sample_model(), device="cpu")
    assert cpu.input_size == zero_copy.input_size
    found = 0
    for name, image in sample_images():
        want = cpu(image)
        _same_detections(zero_copy(image), want, name)
        _same_detections(pooled(image), want, name)
        found += len(want)
    assert found > 0  # the comparison saw boxes


@pytest.mark.parametrize("zero_copy", [True, False])
def test_two_frames_in_flight_equal_one_at_a_time(monkeypatch, zero_copy):
    det = _torch_detector(monkeypatch, zero_copy=zero_copy)
    assert det.zero_copy is zero_copy
    from trtpipe.samples import sample_images

    images = [image for _, image in sample_images()] * 2
    one_at_a_time = [det(image) for image in images]
    # frame i+1 is preprocessed (into the same engine input) before frame i is read back
    got = []
    ticket = det.submit(images[0])
    for image in images[1:]:
        following = det.submit(image)
        got.append(det.result(ticket))
        ticket = following
    got.append(det.result(ticket))
    for i, (a, b) in enumerate(zip(got, one_at_a_time, strict=True)):
        _same_detections(a, b, f"frame {i}", score_atol=1e-3)
        np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-2, err_msg=f"frame {i}")
