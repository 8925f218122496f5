"""``trtpipe._core_testing``: the test doubles and C++ benchmarks, built only with
``TRTPIPE_TESTING=ON`` (scripts/test.sh builds them; a shipped wheel has none)."""

from __future__ import annotations

import os
from types import ModuleType

import pytest


def core_testing() -> ModuleType:
    """The module, or a skip with the reason (a failure where the build must have it)."""
    try:
        from trtpipe import _core_testing
    except ImportError as exc:
        if os.environ.get("TRTPIPE_EXPECT_TESTING") == "1":
            raise
        pytest.skip(f"trtpipe was built without TRTPIPE_TESTING=ON: {exc}")
    return _core_testing
