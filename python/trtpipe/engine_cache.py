"""A cache of built engines that rebuilds what no longer fits.

An engine's key is the SHA-256 of the ONNX file's bytes, the TensorRT flavour and version, the build
target (GPU name and compute capability, or "cpu-build" and the TensorRT-RTX target list) and every
build option. A new TensorRT, another GPU or an edited model gives a new key, so the stale engine is
simply never looked up again; an entry whose sidecar is missing, unreadable or describes other
bytes (a build that died, a file copied in from elsewhere) is rebuilt. Builds of one key take a
file lock, and each file lands by an atomic rename, so concurrent processes never see half an
engine and build it only once. A lock's file (``<key>.lock``, ``timing.cache.lock``) is there only
while the lock is held, whether the build succeeds or fails.

Layout: ``<cache dir>/<key>.engine``, ``<key>.engine.json`` (sidecar) and a shared
``timing.cache``. The cache dir is ``$TRTPIPE_CACHE_DIR``, else ``~/.cache/trtpipe``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from trtpipe.backends.base import Profile
from trtpipe.build import BuildArguments, BuildOptions
from trtpipe.cache_dir import CACHE_DIR_ENV, default_cache_dir
from trtpipe.engine_info import EngineMetadata, check_sidecar, read_sidecar, sidecar_path
from trtpipe.errors import InputError

log = logging.getLogger(__name__)

__all__ = ["CACHE_DIR_ENV", "CacheKey", "CachedEngine", "EngineCache", "default_cache_dir"]


@dataclass(frozen=True)
class CacheKey:
    onnx_sha256: str
    options: BuildOptions

    @property
    def digest(self) -> str:
        text = json.dumps(
            {"onnx_sha256": self.onnx_sha256, **self.options.key_dict()}, sort_keys=True
        )
        return hashlib.sha256(text.encode()).hexdigest()[:32]


@contextmanager
def _file_lock(path: Path, timeout: float) -> Iterator[None]:
    """An exclusive lock on ``path`` whose file is there only while the lock is held, so no
    empty lock files stay behind, after a failed build neither.

    The holder removes the file before it unlocks it; a process that has meanwhile locked the
    removed file sees that it is no longer the one at ``path`` and locks that one instead. Where
    there is no ``fcntl`` (Windows), filelock's lock, whose file stays.
    """
    if fcntl is None:
        with FileLock(str(path), timeout=timeout):
            yield
        return
    deadline = time.monotonic() + timeout
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise TimeoutError(
                            f"engine cache: {path} is still locked after {timeout:g} s"
                        ) from None
                    time.sleep(0.05)
            try:
                locked_the_file_there = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                locked_the_file_there = False
            if not locked_the_file_there:
                continue  # its holder removed it: lock the one there now
            try:
                yield
            finally:
                with suppress(OSError):
                    path.unlink()
            return
        finally:
            os.close(fd)  # unlocks it


@dataclass(frozen=True)
class CachedEngine:
    path: Path
    metadata: EngineMetadata
    built: bool  # False: an existing entry was reused


class EngineCache:
    """Engines by key under ``root`` (default: :func:`default_cache_dir`)."""

    def __init__(self, root: str | os.PathLike[str] | None = None, lock_timeout: float = 3600.0):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.lock_timeout = lock_timeout
        # what chose the folder, for an error that says what to change
        if root is not None:
            self._root_setting = "chosen by the cache_dir argument or --cache-dir"
        elif os.environ.get(CACHE_DIR_ENV):
            self._root_setting = f"chosen by ${CACHE_DIR_ENV}"
        else:
            self._root_setting = f"the default; ${CACHE_DIR_ENV} chooses another"

    def _make_root(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            # mkdir's own error ("File exists: 'cache'") does not say which setting to fix
            file = next((p for p in (self.root, *self.root.parents) if p.is_file()), self.root)
            given = "a file" if file == self.root else f"a path under the file {str(file)!r}"
            raise InputError(
                f"engine cache directory {str(self.root)!r} ({self._root_setting}): "
                f"expected a folder, given {given}"
            ) from None

    def engine_path(self, key: CacheKey) -> Path:
        return self.root / f"{key.digest}.engine"

    @property
    def timing_cache_path(self) -> Path:
        return self.root / "timing.cache"

    def lookup(self, key: CacheKey) -> EngineMetadata | None:
        """The entry's metadata when a complete engine built for exactly this key is stored
        (a warning says why a stored one is not used)."""
        metadata, why = self._lookup(key)
        if why:
            log.warning("engine cache: %s is not used: %s", self.engine_path(key).name, why)
        return metadata

    def _lookup(self, key: CacheKey) -> tuple[EngineMetadata | None, str]:
        """The entry's metadata and ""; or None and why a stored entry is not used ("" when
        there is none). Logs nothing."""
        path = self.engine_path(key)
        if not path.is_file():
            return None, ""
        metadata, why = check_sidecar(path)
        if metadata is None:
            return None, why or f"it has no sidecar {sidecar_path(path).name}"
        if metadata.onnx_sha256 != key.onnx_sha256 or metadata.options != key.options.key_dict():
            return None, "it was built for another key"
        return metadata, ""

    def get_or_build(
        self,
        onnx: str | os.PathLike[str],
        precision: str | None = None,
        profiles: str | Sequence[int] | Profile | Sequence[Profile] | None = None,
        optimization: str = "balanced",
        workspace: int | None = None,
        calibration: str | os.PathLike[str] | None = None,
        *,
        shapes: Mapping[str, Sequence[int]] | None = None,
        compute_capabilities: Sequence[str] | None = None,
        flavour: str | None = None,
        progress: bool | None = None,
    ) -> CachedEngine:
        """The cached engine for this model and these options, built first when missing."""
        arguments = BuildArguments(
            precision, profiles, optimization, workspace, calibration, shapes, compute_capabilities
        )
        request = arguments.prepare(onnx, flavour)
        onnx_name = request.onnx_path.name
        key = CacheKey(request.onnx_sha256, request.options)
        path = self.engine_path(key)
        metadata, _ = self._lookup(key)  # why an entry is not used is said once, under the lock
        if metadata is not None:
            log.info("engine cache: using %s for %s", path, onnx_name)
            return CachedEngine(path, metadata, built=False)
        self._make_root()
        with _file_lock(self.root / f"{key.digest}.lock", self.lock_timeout):
            # Another process may have built it while this one waited for the lock.
            metadata, why = self._lookup(key)
            if metadata is not None:
                log.info("engine cache: %s was built by another process", path.name)
                return CachedEngine(path, metadata, built=False)
            if why:
                log.warning("engine cache: rebuilding %s: %s", path.name, why)
            else:
                log.info("engine cache: no engine for %s with these options; building", onnx_name)
            timing_lock = self.timing_cache_path.with_name(self.timing_cache_path.name + ".lock")
            with _file_lock(timing_lock, self.lock_timeout):
                built = request.build(self.timing_cache_path, path, progress)
        return CachedEngine(path, built.metadata, built=True)

    def refresh(self, engine: str | os.PathLike[str], progress: bool | None = None) -> CachedEngine:
        """Rebuilds ``engine`` in place when it no longer matches its ONNX model or this machine.

        Needs the sidecar trtpipe wrote at build time (it names the ONNX file and the options).
        Stale means: another flavour or version, another target, or the ONNX file has changed.
        """
        path = Path(engine)
        metadata = read_sidecar(path) if path.is_file() else None
        if metadata is None:
            raise InputError(
                f"engine: expected a trtpipe-built engine with its sidecar "
                f"{sidecar_path(path).name}, given {str(path)!r}"
            )
        onnx_path = Path(metadata.onnx_path)
        if not onnx_path.is_file():
            log.warning("engine %s: its ONNX model %s is gone; keeping it", path, onnx_path)
            return CachedEngine(path, metadata, built=False)
        request = _recorded_arguments(metadata.options).prepare(onnx_path)
        options = request.options
        reasons = []
        if request.onnx_sha256 != metadata.onnx_sha256:
            reasons.append(f"{onnx_path.name} has changed")
        if (options.flavour, options.flavour_version) != (
            metadata.flavour,
            metadata.flavour_version,
        ):
            reasons.append(
                f"built by {metadata.flavour} {metadata.flavour_version}, "
                f"this machine has {options.flavour} {options.flavour_version}"
            )
        if options.target != metadata.target:
            reasons.append(f"built for {metadata.target}, this machine is {options.target}")
        if not reasons:
            return CachedEngine(path, metadata, built=False)
        log.warning("engine %s is stale (%s); rebuilding it", path, "; ".join(reasons))
        with _file_lock(path.with_name(path.name + ".lock"), self.lock_timeout):
            built = request.build(output=path, progress=progress)
        return CachedEngine(path, built.metadata, built=True)


def _recorded_arguments(recorded: dict[str, Any]) -> BuildArguments:
    """The arguments of a build from its sidecar's options (:meth:`BuildOptions.key_dict`)."""
    return BuildArguments(
        precision=recorded["precision"],
        profiles=_recorded_profiles(recorded),
        optimization=recorded["optimization"],
        workspace=recorded["workspace"],
        calibration=recorded["calibration"],
        shapes=recorded["shapes"],
        compute_capabilities=_recorded_targets(recorded),
    )


def _recorded_profiles(recorded: dict[str, Any]) -> Any:
    if recorded["profiles"]:
        return [
            Profile(**{k: {n: tuple(s) for n, s in p[k].items()} for k in ("min", "opt", "max")})
            for p in recorded["profiles"]
        ]
    return tuple(recorded["batch"]) if recorded["batch"] else None


def _recorded_targets(recorded: dict[str, Any]) -> list[str] | None:
    # A chosen TensorRT-RTX target list is kept; "the GPU here" and "every target" (the defaults)
    # are decided afresh on this machine.
    ccs = list(recorded.get("compute_capabilities") or [])
    if not ccs or "CURRENT" in ccs:
        return None
    from trtpipe.tensorrt_flavour import find_flavour

    try:
        members = find_flavour("tensorrt-rtx").module.ComputeCapability.__members__
    except Exception:
        return None  # no TensorRT-RTX here: the builder that is here decides
    return None if set(ccs) == {n for n in members if n.startswith("SM")} else ccs
