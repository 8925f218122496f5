"""The engine cache's files and messages around a build, with the build itself faked (no
TensorRT needed): no lock files left behind, a failed build included, and why a stored entry is
rebuilt said once."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("filelock")  # a dependency of trtpipe; absent where installed with --no-deps

from trtpipe import engine_cache
from trtpipe.build import BuildArguments, BuildOptions
from trtpipe.engine_cache import CacheKey, EngineCache
from trtpipe.errors import EngineError

OPTIONS = BuildOptions(
    flavour="tensorrt-rtx",
    flavour_version="1.0",
    target="cpu-build SM86",
    compute_capabilities=("SM86",),
    precision="fp16",
    optimization="balanced",
    batch=None,
    profiles=(),
    shapes=(),
    workspace=None,
    calibration=None,
)


@dataclass
class FailingRequest:
    """What BuildArguments.prepare gives, with a build that fails as a parser or builder does."""

    onnx_path: Path
    onnx_sha256: str
    options: BuildOptions = OPTIONS
    builds: int = 0

    def build(self, timing_cache=None, output=None, progress=None):
        self.builds += 1
        raise EngineError(f"tensorrt-rtx-1.0 could not parse {str(self.onnx_path)!r}")


@pytest.fixture
def failing_build(monkeypatch, tmp_path):
    model = tmp_path / "m.onnx"
    model.write_text("a text file, not a model\n")
    request = FailingRequest(model, hashlib.sha256(model.read_bytes()).hexdigest())
    monkeypatch.setattr(BuildArguments, "prepare", lambda self, onnx, flavour=None: request)
    return request


def test_a_failed_build_leaves_no_lock_files(tmp_path, failing_build):
    root = tmp_path / "cache"
    with pytest.raises(EngineError, match="could not parse"):
        EngineCache(root).get_or_build(failing_build.onnx_path)
    assert failing_build.builds == 1
    assert sorted(p.name for p in root.iterdir()) == []  # no <key>.lock, no timing.cache.lock


@pytest.mark.parametrize("sidecar", ["unreadable", "absent"])
def test_why_a_stored_entry_is_rebuilt_is_said_once(tmp_path, failing_build, caplog, sidecar):
    root = tmp_path / "cache"
    root.mkdir()
    cache = EngineCache(root)
    entry = cache.engine_path(CacheKey(failing_build.onnx_sha256, OPTIONS))
    entry.write_bytes(b"half an engine")
    if sidecar == "unreadable":
        entry.with_name(entry.name + ".json").write_text("{}")
    with caplog.at_level(logging.INFO, logger="trtpipe"), pytest.raises(EngineError):
        cache.get_or_build(failing_build.onnx_path)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"engine cache: rebuilding {entry.name}: ")
    assert f"{entry.name}.json" in warnings[0]


def test_the_lock_excludes_and_its_file_is_gone_after(tmp_path):
    """Threads taking the lock in turn (each removing its file before unlocking) are never
    inside it together."""
    path = tmp_path / "k.lock"
    counter = threading.Lock()
    inside = [0]
    overlaps = []
    done = []

    def worker() -> None:
        for _ in range(25):
            with engine_cache._file_lock(path, timeout=30):
                with counter:
                    inside[0] += 1
                    if inside[0] > 1:
                        overlaps.append(inside[0])
                time.sleep(0.0005)
                with counter:
                    inside[0] -= 1
                    done.append(1)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(done) == 100 and not overlaps
    assert not path.exists()


def test_a_cache_directory_that_is_a_file_is_a_clear_error(tmp_path, failing_build, monkeypatch):
    from trtpipe.errors import InputError

    taken = tmp_path / "cachefile"
    taken.write_text("a file, not a folder")
    cases = [
        (EngineCache(taken), taken, "chosen by the cache_dir argument or --cache-dir", "a file"),
        (
            EngineCache(taken / "sub"),
            taken / "sub",
            "chosen by the cache_dir argument or --cache-dir",
            f"a path under the file {str(taken)!r}",
        ),
    ]
    monkeypatch.setenv("TRTPIPE_CACHE_DIR", str(taken))
    cases.append((EngineCache(), taken, "chosen by $TRTPIPE_CACHE_DIR", "a file"))
    monkeypatch.delenv("TRTPIPE_CACHE_DIR")
    monkeypatch.setenv("HOME", str(taken))
    default = taken / ".cache" / "trtpipe"
    cases.append(
        (
            EngineCache(),
            default,
            "the default; $TRTPIPE_CACHE_DIR chooses another",
            f"a path under the file {str(taken)!r}",
        )
    )
    for cache, root, setting, given in cases:
        with pytest.raises(InputError) as caught:
            cache.get_or_build(failing_build.onnx_path)
        assert str(caught.value) == (
            f"engine cache directory {str(root)!r} ({setting}): expected a folder, given {given}"
        )
    assert failing_build.builds == 0  # refused before any build
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cachefile", "m.onnx"]
