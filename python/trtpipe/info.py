"""``trtpipe.info()``: what this installation was built with and what it can use right now."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from trtpipe import _core
from trtpipe._version import __version__
from trtpipe.backends.availability import (
    BackendStatus,
    RuntimeLibrary,
    probe_backends,
    probe_runtime_libraries,
)


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    compute_capability: tuple[int, int]
    total_memory: int
    multiprocessors: int
    integrated: bool


@dataclass(frozen=True)
class Info:
    version: str
    core_with_cuda: bool
    cuda_version: str | None
    cuda_architectures: list[str]
    tensorrt_headers: str | None
    gpus: list[GpuInfo]
    no_gpu_reason: str | None
    driver_version: int
    engine_module: bool = False  # the TensorRT engine module is compiled into _core
    backends: list[BackendStatus] = field(default_factory=list)
    # what backend="auto" runs an ONNX model on here, and why ("" when backends were not probed)
    auto_onnx: str = ""
    # each TensorRT runtime library (full, lean, TensorRT-RTX): found or why not
    runtime_libraries: list[RuntimeLibrary] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def format_table(self) -> str:
        rows: list[tuple[str, str]] = [
            ("trtpipe", self.version),
            ("_core CUDA", "yes" if self.core_with_cuda else "no (CPU-only build)"),
        ]
        if self.core_with_cuda:
            rows.append(("CUDA (built with)", str(self.cuda_version)))
            rows.append(("CUDA architectures", " ".join(self.cuda_architectures)))
        if self.tensorrt_headers is None:
            engine = "none (engine module left out)"
        elif self.engine_module:
            engine = f"{self.tensorrt_headers} (engine module compiled in)"
        else:
            engine = f"{self.tensorrt_headers} (engine module left out: needs a CUDA build)"
        rows.append(("TensorRT headers", engine))
        if self.driver_version:
            major, minor = divmod(self.driver_version, 1000)
            rows.append(("CUDA driver", f"{major}.{minor // 10}"))
        if self.gpus:
            for gpu in self.gpus:
                cc = ".".join(map(str, gpu.compute_capability))
                kind = ", integrated" if gpu.integrated else ""
                mem = gpu.total_memory / 2**30
                rows.append((f"GPU {gpu.index}", f"{gpu.name} (sm {cc}, {mem:.1f} GiB{kind})"))
        else:
            rows.append(("GPU", f"none: {self.no_gpu_reason}"))
        for backend in self.backends:
            state = f"yes {backend.version or ''}".strip() if backend.available else "no"
            rows.append((f"backend {backend.name}", f"{state} - {backend.detail}"))
        if self.auto_onnx:
            rows.append(("backend auto (.onnx)", self.auto_onnx))
        for lib in self.runtime_libraries:
            state = f"yes {lib.version or ''}".strip() if lib.found else "no"
            rows.append((f"runtime {lib.name}", f"{state} - {lib.detail}"))
        width = max(len(key) for key, _ in rows)
        return "\n".join(f"{key:<{width}}  {value}" for key, value in rows)


def _auto_onnx(statuses: list[BackendStatus]) -> str:
    """What ``trtpipe.load("model.onnx")`` picks here (the same choice), and why."""
    from trtpipe.backends.loader import choose_onnx_backend

    choice = choose_onnx_backend()
    if choice.backend == "tensorrt":
        return "tensorrt (TensorRT is usable here)"
    target = {"torch": "torch on cuda:0"}.get(choice.backend, choice.backend)
    if choice.backend == "onnxruntime":
        ort = next((s for s in statuses if s.name == "onnxruntime"), None)
        if ort is not None and not ort.available:
            target = "onnxruntime, which is not usable either"
        elif ort is not None:
            on_cuda = "CUDAExecutionProvider" in ort.detail
            target = f"onnxruntime on {'cuda:0' if on_cuda else 'cpu'}"
    return f"{target} ({choice.reasons()})"


def info(backends: bool = True) -> Info:
    """Report the build of ``trtpipe._core``, the GPUs visible now and the usable backends.

    ``backends=False`` skips importing the backend libraries (PyTorch takes seconds to import).
    """
    build = _core.build_info()
    devices = _core.query_devices()
    gpus = [
        GpuInfo(
            index=gpu["index"],
            name=gpu["name"],
            compute_capability=tuple(gpu["compute_capability"]),
            total_memory=gpu["total_memory"],
            multiprocessors=gpu["multiprocessors"],
            integrated=gpu["integrated"],
        )
        for gpu in devices["gpus"]
    ]
    statuses = probe_backends() if backends else []
    return Info(
        version=__version__,
        core_with_cuda=build["with_cuda"],
        cuda_version=build["cuda_version"],
        cuda_architectures=list(build["cuda_architectures"]),
        tensorrt_headers=build["tensorrt_headers_version"],
        gpus=gpus,
        no_gpu_reason=devices["reason"],
        driver_version=devices["driver_version"],
        engine_module=bool(build.get("engine_module", False)),
        backends=statuses,
        auto_onnx=_auto_onnx(statuses) if backends else "",
        runtime_libraries=probe_runtime_libraries() if backends else [],
    )
