"""TensorRT's messages in Python logging: a timing cache TensorRT-RTX cannot read for want of a
GPU is one DEBUG line instead of two CUDA errors and two warnings; any other error still shows."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from trtpipe import build
from trtpipe.tensorrt_flavour import Flavour, make_logger

CUDA_ERROR = (
    "[checkMacros.cpp::catchCudaError::250] Error Code 1: Cuda Runtime (In catchCudaError at "
    "checkMacros.cpp:250 (cudaError 35: CUDA driver version is insufficient for CUDA runtime "
    "version))"
)


class _Severity:
    INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = range(5)


class _ILogger:
    Severity = _Severity

    def __init__(self) -> None:
        pass


FLAVOUR = Flavour("tensorrt-rtx", "1.7", SimpleNamespace(ILogger=_ILogger))


class FakeConfig:
    """A builder config whose create_timing_cache logs what TensorRT-RTX logs, and is read."""

    def __init__(self, trt_logger, messages):
        self.trt_logger, self.messages = trt_logger, messages
        self.timing_cache = None

    def create_timing_cache(self, data):
        for severity, text in self.messages:
            self.trt_logger.log(severity, text)
        return object()

    def set_timing_cache(self, cache, ignore_mismatch):
        self.timing_cache = cache


NO_GPU = [
    (_Severity.ERROR, CUDA_ERROR.replace("catchCudaError", "ScopedCudaStream")),
    (_Severity.ERROR, CUDA_ERROR),
    (_Severity.WARNING, "The timing cache will not be used!"),
    (_Severity.WARNING, "Failed to deserialize timing cache. Returning an empty timing cache."),
    (_Severity.INFO, "Loaded 0 timing cache entries"),
]


def _load(tmp_path, messages, caplog) -> bool:
    path = tmp_path / "timing.cache"
    path.write_bytes(b"a timing cache from an earlier build")
    trt_logger = make_logger(FLAVOUR, logging.getLogger("trtpipe.build"))
    config = FakeConfig(trt_logger, messages)
    with caplog.at_level(logging.DEBUG, logger="trtpipe"):
        read = build._load_timing_cache(config, FLAVOUR, path, trt_logger)
    assert config.timing_cache is not None
    return read


def test_a_timing_cache_unread_for_want_of_a_gpu_is_one_debug_line(tmp_path, caplog):
    assert _load(tmp_path, NO_GPU, caplog) is False  # the file is then kept, not overwritten
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("timing cache")]
    assert "not read: tensorrt-rtx-1.7 reads it only with a usable GPU" in line
    assert "CUDA driver version is insufficient" in line


def test_other_errors_of_a_timing_cache_read_still_show(tmp_path, caplog):
    messages = [*NO_GPU, (_Severity.ERROR, "Error Code 2: Internal Error (out of host memory)")]
    assert _load(tmp_path, messages, caplog) is True
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 3 and "out of host memory" in errors[-1]


@pytest.mark.tensorrt
def test_a_gpu_less_build_with_a_timing_cache_logs_no_errors(tmp_path, caplog):
    from onnx_models import write_conv_net
    from trtpipe import _core
    from trtpipe.errors import BackendUnavailableError
    from trtpipe.tensorrt_flavour import find_flavour

    try:
        flavour = find_flavour()
    except BackendUnavailableError as exc:
        pytest.skip(str(exc))
    if not flavour.builds_without_gpu or _core.query_devices()["gpus"]:
        pytest.skip("needs TensorRT-RTX on a machine without a usable GPU")
    model = write_conv_net(tmp_path / "m.onnx")
    cache = tmp_path / "timing.cache"
    build.build_engine(model, timing_cache=cache)  # writes the timing cache
    written = cache.read_bytes()
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="trtpipe"):
        build.build_engine(model, timing_cache=cache)  # given it to read
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len([r for r in caplog.records if r.getMessage().startswith("timing cache")]) == 1
    assert cache.read_bytes() == written
