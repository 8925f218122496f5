"""Where trtpipe keeps what it builds: ``$TRTPIPE_CACHE_DIR``, else ``~/.cache/trtpipe``."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_DIR_ENV = "TRTPIPE_CACHE_DIR"


def default_cache_dir() -> Path:
    explicit = os.environ.get(CACHE_DIR_ENV)
    return Path(explicit) if explicit else Path.home() / ".cache" / "trtpipe"
