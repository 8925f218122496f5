"""What a serialized engine holds (IO table, optimisation profiles, precision) and how it was built.

Every engine trtpipe builds gets a JSON sidecar, ``<engine>.json``, written at build time from the
network definition and the profiles given to the builder. Reading an engine back tries the
flavour's runtime first (deserialize, then the engine's own IO table and profiles); where that
cannot work — TensorRT-RTX deserializes only on a GPU it supports, so never on a CPU-only machine —
the sidecar answers, and the engine file's hash is checked against the one it records.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trtpipe.backends.base import Profile, TensorInfo
from trtpipe.errors import EngineError

log = logging.getLogger(__name__)

METADATA_FORMAT = 1


def sidecar_path(engine: str | os.PathLike[str]) -> Path:
    return Path(os.fspath(engine) + ".json")


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class EngineMetadata:
    """How an engine was built and what it takes and gives (the sidecar's content)."""

    flavour: str
    flavour_version: str
    target: str
    onnx_path: str
    onnx_sha256: str
    options: dict[str, Any]
    precision: str
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    profiles: list[Profile]
    engine_sha256: str
    engine_bytes: int
    build_seconds: float
    format: int = METADATA_FORMAT

    def to_json(self) -> str:
        def tensor(t: TensorInfo) -> dict[str, Any]:
            return {"name": t.name, "shape": list(t.shape), "dtype": str(t.dtype)}

        def profile(p: Profile) -> dict[str, Any]:
            return {
                k: {name: list(shape) for name, shape in getattr(p, k).items()}
                for k in ("min", "opt", "max")
            }

        data = {
            "format": self.format,
            "flavour": self.flavour,
            "flavour_version": self.flavour_version,
            "target": self.target,
            "onnx_path": self.onnx_path,
            "onnx_sha256": self.onnx_sha256,
            "options": self.options,
            "precision": self.precision,
            "inputs": [tensor(t) for t in self.inputs],
            "outputs": [tensor(t) for t in self.outputs],
            "profiles": [profile(p) for p in self.profiles],
            "engine_sha256": self.engine_sha256,
            "engine_bytes": self.engine_bytes,
            "build_seconds": round(self.build_seconds, 4),
        }
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EngineMetadata:
        data = json.loads(text)
        if data.get("format") != METADATA_FORMAT:
            raise EngineError(
                f"engine sidecar: expected format {METADATA_FORMAT}, given {data.get('format')}"
            )

        def tensors(items: list[dict[str, Any]], is_input: bool) -> list[TensorInfo]:
            return [
                TensorInfo(t["name"], tuple(t["shape"]), np.dtype(t["dtype"]), is_input)
                for t in items
            ]

        profiles = [
            Profile(
                **{
                    k: {name: tuple(shape) for name, shape in p[k].items()}
                    for k in ("min", "opt", "max")
                }
            )
            for p in data["profiles"]
        ]
        return cls(
            flavour=data["flavour"],
            flavour_version=data["flavour_version"],
            target=data["target"],
            onnx_path=data["onnx_path"],
            onnx_sha256=data["onnx_sha256"],
            options=data["options"],
            precision=data["precision"],
            inputs=tensors(data["inputs"], True),
            outputs=tensors(data["outputs"], False),
            profiles=profiles,
            engine_sha256=data["engine_sha256"],
            engine_bytes=data["engine_bytes"],
            build_seconds=data["build_seconds"],
        )


def write_sidecar(engine: str | os.PathLike[str], metadata: EngineMetadata) -> Path:
    path = sidecar_path(engine)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(metadata.to_json())
    os.replace(tmp, path)
    return path


def read_sidecar(engine: str | os.PathLike[str]) -> EngineMetadata | None:
    """The engine's sidecar, or None when there is none or it does not describe this file."""
    path = sidecar_path(engine)
    if not path.is_file():
        return None
    try:
        metadata = EngineMetadata.from_json(path.read_text())
    except (ValueError, KeyError, TypeError, EngineError) as exc:
        log.warning("ignoring unreadable engine sidecar %s: %s", path, exc)
        return None
    if metadata.engine_sha256 != sha256_file(engine):
        log.warning("ignoring engine sidecar %s: it describes a different engine file", path)
        return None
    return metadata


@dataclass(frozen=True)
class EngineDescription:
    """An engine's IO table and profiles, and where they were read from."""

    path: Path
    size: int
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    profiles: list[Profile]
    source: str  # "engine" (deserialized) or "sidecar"
    metadata: EngineMetadata | None = None
    notes: list[str] = field(default_factory=list)


def io_from_engine(
    trt: Any, engine: Any
) -> tuple[list[TensorInfo], list[TensorInfo], list[Profile]]:
    """The IO table and profiles of a deserialized ICudaEngine."""
    inputs, outputs = [], []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
        shape = tuple(int(d) for d in engine.get_tensor_shape(name))
        dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
        (inputs if is_input else outputs).append(TensorInfo(name, shape, dtype, is_input))
    profiles = []
    dynamic = [t for t in inputs if t.is_dynamic]
    if dynamic:
        for p in range(engine.num_optimization_profiles):
            shapes = {t.name: engine.get_tensor_profile_shape(t.name, p) for t in dynamic}
            profiles.append(
                Profile(
                    min={n: tuple(s[0]) for n, s in shapes.items()},
                    opt={n: tuple(s[1]) for n, s in shapes.items()},
                    max={n: tuple(s[2]) for n, s in shapes.items()},
                )
            )
    return inputs, outputs, profiles


def _try_deserialize(path: Path, data: bytes, flavour_names: list[str]) -> tuple[Any, Any, str]:
    from trtpipe.tensorrt_flavour import find_flavour, make_logger

    reasons = []
    quiet = logging.getLogger("trtpipe.engine_info.deserialize")
    quiet.propagate = False  # failed attempts are expected on a CPU-only machine
    if not quiet.handlers:
        quiet.addHandler(logging.NullHandler())
    for name in flavour_names:
        try:
            flavour = find_flavour(name)
        except Exception as exc:
            reasons.append(f"{name}: {exc}")
            continue
        trt = flavour.module
        runtime = trt.Runtime(make_logger(flavour, quiet))
        engine = runtime.deserialize_cuda_engine(data)
        if engine is not None:
            return trt, engine, ""
        reasons.append(f"{flavour.tag} could not deserialize it (no supported GPU here?)")
    return None, None, "; ".join(reasons)


def describe_engine(path: str | os.PathLike[str]) -> EngineDescription:
    """Reads the IO table and profiles of a serialized engine (deserialized, else the sidecar)."""
    path = Path(path)
    if not path.is_file():
        raise EngineError(f"engine: expected an existing engine file, given {str(path)!r}")
    data = path.read_bytes()
    metadata = read_sidecar(path)
    names = [metadata.flavour] if metadata else ["tensorrt", "tensorrt-rtx"]
    trt, engine, why = _try_deserialize(path, data, names)
    notes = [f"engine header: {data[:4]!r}, {len(data)} bytes"]
    if engine is not None:
        inputs, outputs, profiles = io_from_engine(trt, engine)
        return EngineDescription(
            path, len(data), inputs, outputs, profiles, "engine", metadata, notes
        )
    if metadata is None:
        raise EngineError(
            f"engine {str(path)!r}: cannot read its IO table: {why}, and it has no valid "
            f"sidecar {sidecar_path(path).name} (engines built by trtpipe have one)"
        )
    notes.append(f"not deserialized: {why}")
    # What the plan itself shows without a runtime: the tensor names are stored as text in it.
    names = [t.name for t in metadata.inputs + metadata.outputs]
    found = sum(name.encode() in data for name in names)
    notes.append(f"tensor names of the sidecar found in the plan: {found} of {len(names)}")
    return EngineDescription(
        path,
        len(data),
        metadata.inputs,
        metadata.outputs,
        metadata.profiles,
        "sidecar",
        metadata,
        notes,
    )
