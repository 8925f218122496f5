"""Without a usable GPU the engine loop refuses with a typed error instead of crashing."""

from __future__ import annotations

import pytest

from core_testing import core_testing
from trtpipe import _core
from trtpipe.errors import NoGpuError


@pytest.mark.skipif(not hasattr(_core, "engine"), reason="_core was built without CUDA")
def test_runner_without_a_gpu_raises_no_gpu_error():
    if _core.query_devices()["gpus"]:
        pytest.skip("a GPU is usable here")
    with pytest.raises(NoGpuError, match="selecting GPU 0 for the engine"):
        _core.engine.EngineRunner(core_testing().ScaleModel(), slots=2)
