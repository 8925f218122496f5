"""C++ exceptions arrive in Python as the trtpipe.errors classes, with their fields."""

from __future__ import annotations

import numpy as np
import pytest

from trtpipe import _core, errors
from trtpipe.errors import CudaError, InputError, NoGpuError, TrtpipeError


def test_hierarchy_keeps_builtin_bases():
    assert issubclass(errors.InputError, ValueError)
    assert issubclass(errors.PoolExhaustedError, MemoryError)
    assert issubclass(errors.NoGpuError, errors.CudaError)
    assert issubclass(errors.CudaError, RuntimeError)
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), TrtpipeError)


def test_input_error_from_core_names_the_field():
    with pytest.raises(InputError, match=r"count: expected a positive number.*given -3"):
        _core.gpu_self_test(-3)


def test_no_gpu_error_says_why(request):
    from conftest import gpu_unusable_reason

    if gpu_unusable_reason() is None:
        pytest.skip("a GPU is usable here")
    with pytest.raises(NoGpuError) as info:
        _core.gpu_self_test(16)
    text = str(info.value)
    assert "driver" in text or "without CUDA" in text
    assert info.value.call


@pytest.mark.gpu
def test_kernel_runs_and_reads_back():
    values = _core.gpu_self_test(1_000_003)
    expected = 2.0 * np.arange(1_000_003, dtype=np.float32) + 1.0
    np.testing.assert_array_equal(values, expected)


@pytest.mark.gpu
def test_cuda_failure_names_call_and_context_and_is_recoverable():
    with pytest.raises(CudaError) as info:
        _core.gpu_self_test(1 << 42)  # 16 TiB: more than any GPU has
    assert not isinstance(info.value, NoGpuError)
    assert "cudaMalloc" in info.value.call
    assert "out of memory" in str(info.value)
    assert "self test" in str(info.value)
    # The failure was cleared: the next call works.
    np.testing.assert_array_equal(_core.gpu_self_test(4), [1.0, 3.0, 5.0, 7.0])


@pytest.mark.gpu
def test_invalid_device_is_a_cuda_error():
    with pytest.raises(CudaError, match="cudaSetDevice"):
        _core.gpu_self_test(4, device=1000)
