"""Detector's GPU path: the preprocessor writes into a device buffer that goes to the engine
as is. The engine here is the sample model on ONNX Runtime behind a stand-in that takes GPU
arrays (copying them to the host itself), so the boxes can be compared with the CPU path."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

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


def test_gpu_preprocessing_feeds_device_buffers_and_matches_cpu():
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("nudenet")
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
