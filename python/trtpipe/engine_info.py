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
import re
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
        """The metadata in a sidecar's text; EngineError (or ValueError for text that is not
        JSON) when it is not a sidecar this version wrote."""
        data = json.loads(text)
        # valid JSON of another shape ([], null, 5, profiles as a list of lists) must read as
        # an invalid sidecar, not fail with an AttributeError deep inside
        data = _expect(data, dict, "engine sidecar", "a JSON object")
        if data.get("format") != METADATA_FORMAT:
            raise EngineError(
                f"engine sidecar: expected format {METADATA_FORMAT}, given {data.get('format')}"
            )

        def field(key: str, kind: type | tuple[type, ...], expected: str) -> Any:
            if key not in data:
                raise EngineError(f"engine sidecar: {key}: expected {expected}, given nothing")
            return _expect(data[key], kind, f"engine sidecar: {key}", expected)

        def shape(value: Any, where: str) -> tuple[int, ...]:
            dims = _expect(value, list, where, "an array of integers")
            if not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
                raise EngineError(f"{where}: expected an array of integers, given {value!r}")
            return tuple(dims)

        def tensors(key: str, is_input: bool) -> list[TensorInfo]:
            out = []
            for i, t in enumerate(field(key, list, "an array of tensors")):
                where = f"engine sidecar: {key}[{i}]"
                t = _expect(t, dict, where, "an object with name, shape and dtype")
                name = _expect(t.get("name"), str, f"{where}.name", "a string")
                dtype = _expect(t.get("dtype"), str, f"{where}.dtype", "a dtype name")
                try:
                    np_dtype = np.dtype(dtype)
                except TypeError:
                    raise EngineError(
                        f"{where}.dtype: expected a dtype name, given {dtype!r}"
                    ) from None
                out.append(
                    TensorInfo(name, shape(t.get("shape"), f"{where}.shape"), np_dtype, is_input)
                )
            return out

        def profile(p: Any, i: int) -> Profile:
            where = f"engine sidecar: profiles[{i}]"
            p = _expect(p, dict, where, "an object with min, opt and max")
            shapes = {}
            for k in ("min", "opt", "max"):
                named = _expect(p.get(k), dict, f"{where}.{k}", "an object of input shapes")
                shapes[k] = {
                    str(name): shape(s, f"{where}.{k}[{name!r}]") for name, s in named.items()
                }
            return Profile(**shapes)

        profiles = [
            profile(p, i) for i, p in enumerate(field("profiles", list, "an array of profiles"))
        ]
        number = (int, float)
        return cls(
            flavour=field("flavour", str, "a string"),
            flavour_version=field("flavour_version", str, "a string"),
            target=field("target", str, "a string"),
            onnx_path=field("onnx_path", str, "a string"),
            onnx_sha256=field("onnx_sha256", str, "a string"),
            options=field("options", dict, "an object"),
            precision=field("precision", str, "a string"),
            inputs=tensors("inputs", True),
            outputs=tensors("outputs", False),
            profiles=profiles,
            engine_sha256=field("engine_sha256", str, "a string"),
            engine_bytes=field("engine_bytes", int, "an integer"),
            build_seconds=field("build_seconds", number, "a number"),
        )


def _expect(value: Any, kind: type | tuple[type, ...], where: str, expected: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        json_names = {dict: "an object", list: "an array", str: "a string", float: "a number"}
        given = "null" if value is None else json_names.get(type(value), repr(value))
        raise EngineError(f"{where}: expected {expected}, given {given}")
    return value


def write_sidecar(engine: str | os.PathLike[str], metadata: EngineMetadata) -> Path:
    path = sidecar_path(engine)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(metadata.to_json())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # no stray temp file beside the engine
        raise
    return path


def check_sidecar(engine: str | os.PathLike[str]) -> tuple[EngineMetadata | None, str]:
    """The engine's sidecar and "" when it describes this file; else None and why not ("" when
    there is no sidecar). Logs nothing: the caller says what it does about it."""
    path = sidecar_path(engine)
    if not path.is_file():
        return None, ""
    try:
        metadata = EngineMetadata.from_json(path.read_text())
    except (ValueError, KeyError, TypeError, AttributeError, EngineError) as exc:
        return None, f"{path.name} is unreadable ({exc})"
    if metadata.engine_sha256 != sha256_file(engine):
        return None, f"{path.name} describes another engine file"
    return metadata, ""


def read_sidecar(engine: str | os.PathLike[str]) -> EngineMetadata | None:
    """The engine's sidecar, or None when there is none or it does not describe this file
    (a warning says which)."""
    metadata, why = check_sidecar(engine)
    if why:
        log.warning("engine %s: sidecar ignored: %s", engine, why)
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


def _why_not_deserialized(messages: list[tuple[int, str]]) -> str:
    """Why TensorRT could not deserialize an engine, from the errors it logged: a header not of
    its engines, no GPU here, else the first error (without its "Error Code N: " prefix)."""
    from trtpipe.tensorrt_flavour import NO_GPU_MESSAGES

    errors = [" ".join(msg.split()) for level, msg in messages if level >= logging.ERROR]
    if any("magicTag" in e for e in errors):
        return "not an engine of this TensorRT (its header does not match)"
    no_gpu = next((m for e in errors for m in NO_GPU_MESSAGES if m in e), None)
    if no_gpu is not None:
        return f"it needs a usable GPU, and there is none here ({no_gpu})"
    if not errors:
        return "no reason given"
    text = re.sub(r"^.*?Error Code \d+: ", "", errors[0])
    return text if len(text) <= 160 else text[:157] + "..."


def _try_deserialize(path: Path, data: bytes, flavour_names: list[str]) -> tuple[Any, Any, str]:
    from trtpipe.tensorrt_flavour import find_flavour, held_messages, make_logger

    reasons = []
    for name in flavour_names:
        try:
            flavour = find_flavour(name)
        except Exception as exc:
            log.debug("no %s runtime to read %s with: %s", name, path, exc)
            reasons.append(f"no {name} runtime here")
            continue
        trt = flavour.module
        # A failed attempt is expected (another flavour's engine, no GPU here): its messages
        # go into the reason, at DEBUG.
        with held_messages() as messages:
            trt_logger = make_logger(flavour, log)
            runtime = trt.Runtime(trt_logger)
            engine = runtime.deserialize_cuda_engine(data) if runtime is not None else None
        trt_logger.replay([(min(level, logging.DEBUG), msg) for level, msg in messages])
        if engine is not None:
            return trt, engine, ""
        reasons.append(f"{flavour.tag} cannot deserialize it: {_why_not_deserialized(messages)}")
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
            f"engine {str(path)!r}: not a readable engine here ({why}), and no valid sidecar "
            f"{sidecar_path(path).name} describes it (engines built by trtpipe have one)"
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
