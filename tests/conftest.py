"""Skips marked tests, with the reason, where the machine lacks what they need."""

from __future__ import annotations

import functools

import pytest


@functools.cache
def gpu_unusable_reason() -> str | None:
    from trtpipe import _core

    if not _core.build_info()["with_cuda"]:
        return "trtpipe._core was built without CUDA"
    devices = _core.query_devices()
    if not devices["gpus"]:
        return f"no usable GPU: {devices['reason']}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            reason = gpu_unusable_reason()
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def sample_model_path():
    """The sample model (YOLOv4-tiny COCO), or a skip with the reason."""
    from onnx_models import coco_model

    return coco_model()
