"""Without a usable GPU an engine's first frame refuses with a typed error instead of crashing."""

from __future__ import annotations

import numpy as np
import pytest

from core_testing import core_testing
from trtpipe import _core
from trtpipe.errors import NoGpuError


@pytest.mark.skipif(not hasattr(_core, "engine"), reason="_core was built without CUDA")
def test_an_engine_without_a_gpu_raises_no_gpu_error():
    from trtpipe.backends.tensorrt import TensorRTEngine

    if _core.query_devices()["gpus"]:
        pytest.skip("a GPU is usable here")
    engine = TensorRTEngine.from_model(core_testing().ScaleModel(), slots=2)
    with pytest.raises(NoGpuError, match=r"GPU 0|current device"):
        engine.infer({"input": np.zeros((1, 3), np.float32)})
