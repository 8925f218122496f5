"""PyTorch backend: TorchScript, ``torch.export`` programs and ``nn.Module`` on the GPU.

On CUDA, each input shape gets a CUDA graph: static input and output tensors are allocated, the
model is warmed up on a side stream, then one forward pass is captured; a frame then costs one
copy into the static inputs (none when the caller wrote into :meth:`TorchEngine.input_tensor`)
and one graph replay. GPU arrays are taken without a copy through DLPack or
``__cuda_array_interface__`` (pool buffers, CuPy, PyTorch tensors).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trtpipe.arrays import is_device_array
from trtpipe.backends.arrays import check_inputs
from trtpipe.backends.base import Engine, ModelStep, PendingResult, TensorInfo
from trtpipe.errors import BackendUnavailableError, EngineError, InputError

log = logging.getLogger(__name__)

#: CUDA graphs kept per engine (one per distinct set of input shapes)
MAX_GRAPHS = 8


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise BackendUnavailableError(
            f"torch backend: PyTorch is not installed ({exc}); `pip install trtpipe[torch]`"
        ) from exc
    return torch


def _np_dtype(torch_dtype: Any) -> np.dtype:
    try:
        return np.dtype(str(torch_dtype).removeprefix("torch."))
    except TypeError as exc:
        raise EngineError(f"tensor dtype {torch_dtype} has no NumPy equivalent") from exc


def _torch_dtype(torch: Any, dtype: np.dtype) -> Any:
    return getattr(torch, np.dtype(dtype).name)


@dataclass
class CapturedGraph:
    """One input shape's CUDA graph and its static tensors."""

    graph: Any  # torch.cuda.CUDAGraph
    inputs: list[Any]  # static input tensors, in the model's argument order
    outputs: list[Any]  # static output tensors, in output-name order

    def exec_handle(self) -> int | None:
        """The instantiated graph (a cudaGraphExec_t as int), for launching it from native code
        on the stream PyTorch replays it on; None where this PyTorch does not give it out."""
        return self._raw_handle("raw_cuda_graph_exec")

    def graph_handle(self) -> int:
        """The graph it was instantiated from (a cudaGraph_t as int; 0 where PyTorch did not
        keep it): with it, the frame pipeline captures a whole frame as one graph."""
        return self._raw_handle("raw_cuda_graph") or 0

    def _raw_handle(self, name: str) -> int | None:
        raw = getattr(self.graph, name, None)
        if raw is None:
            return None
        try:
            return int(raw())
        except RuntimeError as exc:  # not instantiated, or not kept
            log.debug("torch engine: no %s: %s", name, exc)
            return None


def _new_cuda_graph(torch: Any) -> tuple[Any, bool]:
    """A torch.cuda.CUDAGraph that keeps its cudaGraph_t where this PyTorch can (2.8+), and
    whether it does."""
    try:
        return torch.cuda.CUDAGraph(keep_graph=True), True
    except TypeError:
        return torch.cuda.CUDAGraph(), False


def _current_stream_reader(torch: Any, device: int) -> Callable[[], int]:
    """A function giving PyTorch's current cudaStream_t on ``device``: read raw where PyTorch
    exposes it (what its own generated code reads: no Stream object per frame)."""
    raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)
    if raw is not None:
        return functools.partial(raw, device)
    return lambda: torch.cuda.current_stream(device).cuda_stream


def _step_tensor(name: str, tensor: Any) -> tuple[str, int, tuple[int, ...], str] | None:
    """A static graph tensor as _core.GraphStep takes it, or None where native code cannot
    use it in place (not contiguous, or a dtype NumPy has no name for)."""
    if not tensor.is_contiguous():
        return None
    try:
        dtype = _np_dtype(tensor.dtype).name
    except EngineError:
        return None
    return name, tensor.data_ptr(), tuple(tensor.shape), dtype


@dataclass
class _TorchPending(PendingResult):
    event: Any
    host: dict[str, Any]  # pinned host tensors being filled by async copies


class TorchEngine(Engine):
    """A PyTorch model behind the Engine interface.

    ``model``: an ``nn.Module``, a TorchScript module, a ``torch.export.ExportedProgram``, or a
    path (.pt2: ``torch.export.save`` output; .pt/.ts/.jit: TorchScript). ``input_shapes``:
    name -> shape (-1 for a dynamic axis), in argument order; needed unless the model is an
    exported program. ``input_dtypes``: name -> dtype (default float32). ``output_names``:
    names for positional outputs (default "output0", ...; dict outputs keep their keys).
    ``cuda_graph``: capture CUDA graphs on CUDA (default True). ``warmup``: passes before capture.
    """

    backend = "torch"

    def __init__(
        self,
        model: Any,
        device: str | None = None,
        *,
        input_shapes: Mapping[str, Sequence[int]] | None = None,
        input_dtypes: Mapping[str, Any] | None = None,
        output_names: Sequence[str] | None = None,
        cuda_graph: bool = True,
        warmup: int = 3,
    ) -> None:
        torch = _import_torch()
        self._torch = torch
        self._device = self._pick_device(device)
        module, exported_inputs = self._load(model)
        if exported_inputs is None:
            module = module.to(self._device)
        # torch.export modules have no train/eval switch in some releases.
        with contextlib.suppress(NotImplementedError):
            module.eval()
        self._module = module
        if input_shapes is None:
            if exported_inputs is None:
                raise InputError(
                    "input_shapes: a TorchScript or nn.Module model needs its input shapes "
                    "(name -> shape, -1 for a dynamic axis), given None"
                )
            self._inputs = exported_inputs
        else:
            dtypes = dict(input_dtypes or {})
            self._inputs = [
                TensorInfo(
                    name,
                    tuple(int(d) for d in shape),
                    np.dtype(dtypes.get(name, np.float32)),
                    True,
                )
                for name, shape in input_shapes.items()
            ]
        self._cuda_graph = cuda_graph and self._device.type == "cuda"
        self._warmup = max(int(warmup), 1)
        self._graphs: dict[tuple[tuple[int, ...], ...], CapturedGraph] = {}
        self._graph_pool: Any = None  # torch.cuda.graph_pool_handle() of every capture
        self.graph_fallback_reason: str | None = None
        self._output_names = list(output_names) if output_names is not None else None
        self._outputs = self._probe_outputs()

    # -- set-up --------------------------------------------------------------------------------

    def _pick_device(self, device: str | None) -> Any:
        torch = self._torch
        if device in (None, "auto"):
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            parsed = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise InputError(
                f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', given {device!r}"
            ) from exc
        if parsed.type == "cuda":
            if not torch.cuda.is_available():
                raise BackendUnavailableError(
                    f"torch backend: device {device!r} asked for, but torch.cuda.is_available() "
                    "is False"
                )
            parsed = torch.device("cuda", parsed.index or 0)
        elif parsed.type != "cpu":
            raise InputError(f"device: expected 'cpu' or 'cuda[:N]', given {device!r}")
        return parsed

    def _load(self, model: Any) -> tuple[Any, list[TensorInfo] | None]:
        torch = self._torch
        if isinstance(model, (str, os.PathLike)):
            path = Path(model)
            if not path.is_file():
                raise InputError(f"model: expected an existing PyTorch file, given {str(path)!r}")
            try:
                if path.suffix == ".pt2":
                    model = torch.export.load(str(path))
                else:
                    model = torch.jit.load(str(path), map_location=self._device)
            except Exception as exc:
                raise EngineError(
                    f"torch could not load {str(path)!r} (expected TorchScript for .pt/.ts/.jit, "
                    f"a torch.export program for .pt2): {exc}"
                ) from exc
        if isinstance(model, torch.export.ExportedProgram):
            inputs = self._exported_inputs(model)
            if self._device.type == "cuda":
                from torch.export.passes import move_to_device_pass

                model = move_to_device_pass(model, self._device)
            return model.module(), inputs
        if not isinstance(model, torch.nn.Module):
            raise InputError(
                "model: expected an nn.Module, TorchScript module, ExportedProgram or path, "
                f"given {type(model).__name__}"
            )
        return model, None

    def _exported_inputs(self, program: Any) -> list[TensorInfo]:
        user_inputs = list(program.graph_signature.user_inputs)
        infos = []
        for node in program.graph.nodes:
            if node.op != "placeholder" or node.name not in user_inputs:
                continue
            value = node.meta.get("val")
            if value is None or not hasattr(value, "shape"):
                raise EngineError(f"exported program: input {node.name!r} has no tensor metadata")
            shape = tuple(d if isinstance(d, int) else -1 for d in value.shape)
            infos.append(TensorInfo(node.name, shape, _np_dtype(value.dtype), True))
        return infos

    def _run(self, tensors: list[Any]) -> list[Any]:
        out = self._module(*tensors)
        if isinstance(out, Mapping):
            if self._output_names is None:
                self._output_names = list(out)
            return [out[name] for name in self._output_names]
        values = list(out) if isinstance(out, (tuple, list)) else [out]
        if self._output_names is None:
            self._output_names = [f"output{i}" for i in range(len(values))]
        if len(values) != len(self._output_names):
            raise EngineError(
                f"output_names: the model returns {len(values)} outputs, "
                f"given {len(self._output_names)} names"
            )
        return values

    def _probe_outputs(self) -> list[TensorInfo]:
        """Output shapes from two forward passes on zeros, with every dynamic input axis at two
        sizes: an output axis that differs between them is dynamic (-1). Dynamic image axes
        get multiples of 64, so detectors with strides up to 64 see whole feature maps."""
        torch = self._torch

        def run(batch: int, extent: int) -> list[tuple[tuple[int, ...], np.dtype]]:
            zeros = [
                torch.zeros(
                    tuple(
                        d if d > 0 else (batch if axis == 0 else extent)
                        for axis, d in enumerate(t.shape)
                    ),
                    dtype=_torch_dtype(torch, t.dtype),
                    device=self._device,
                )
                for t in self._inputs
            ]
            with torch.no_grad():
                return [
                    (tuple(int(d) for d in v.shape), _np_dtype(v.dtype)) for v in self._run(zeros)
                ]

        first, second = run(1, 64), run(2, 128)
        infos = []
        for name, (a, dtype), (b, _) in zip(self._output_names or [], first, second, strict=True):
            shape = tuple(x if x == y else -1 for x, y in zip(a, b, strict=True))
            infos.append(TensorInfo(name, shape, dtype, False))
        return infos

    # -- Engine interface ----------------------------------------------------------------------

    @property
    def device(self) -> str:
        return str(self._device)

    @property
    def batch_sizes(self) -> tuple[int, ...] | None:
        sizes = getattr(self._module, "batch_sizes", None)  # a model converted at buckets
        return tuple(sizes) if sizes else None

    @property
    def uses_cuda_graph(self) -> bool:
        return self._cuda_graph

    @property
    def graph_count(self) -> int:
        return len(self._graphs)

    def _as_tensor(self, value: Any, info: TensorInfo) -> Any:
        torch = self._torch
        if isinstance(value, torch.Tensor):
            tensor = value
        elif is_device_array(value):
            # Zero-copy views of GPU memory owned by the caller.
            tensor = (
                torch.from_dlpack(value)
                if hasattr(value, "__dlpack__")
                else torch.as_tensor(value, device=self._device)
            )
        else:
            tensor = torch.from_numpy(np.ascontiguousarray(value))
        if tensor.device != self._device:
            tensor = tensor.to(self._device, non_blocking=True)
        return tensor

    def _graph_for(self, shapes: tuple[tuple[int, ...], ...]) -> CapturedGraph | None:
        graph = self._graphs.get(shapes)
        if graph is not None or not self._cuda_graph:
            return graph
        if len(self._graphs) >= MAX_GRAPHS:
            log.debug(
                "torch engine: %d CUDA graphs already; running %s eagerly", MAX_GRAPHS, shapes
            )
            return None
        torch = self._torch
        static = [
            torch.zeros(s, dtype=_torch_dtype(torch, t.dtype), device=self._device)
            for s, t in zip(shapes, self._inputs, strict=True)
        ]
        side = torch.cuda.Stream(self._device)
        side.wait_stream(torch.cuda.current_stream(self._device))
        with torch.no_grad():
            with torch.cuda.stream(side):
                for _ in range(self._warmup):
                    self._run(static)
            torch.cuda.current_stream(self._device).wait_stream(side)
            cuda_graph, kept = _new_cuda_graph(torch)
            try:
                if self._graph_pool is None:
                    self._graph_pool = torch.cuda.graph_pool_handle()
                # One memory pool for every graph of this engine: they run one at a time, in
                # stream order, so the activations of one shape reuse another's (each graph's
                # outputs stay its own, alive with it).
                with torch.cuda.graph(cuda_graph, pool=self._graph_pool):
                    outputs = self._run(static)
                if kept:
                    cuda_graph.instantiate()  # a kept graph is instantiated on request
            except RuntimeError as exc:
                # e.g. a model that reads a GPU value on the host in forward(): it cannot be
                # captured, so it runs eagerly from now on, and says why.
                self._cuda_graph = False
                self.graph_fallback_reason = str(exc).splitlines()[0]
                torch.cuda.synchronize(self._device)
                log.warning(
                    "torch engine: CUDA graph capture failed, running eagerly: %s",
                    self.graph_fallback_reason,
                )
                return None
        graph = CapturedGraph(cuda_graph, static, list(outputs))
        self._graphs[shapes] = graph
        log.debug("torch engine: captured a CUDA graph for input shapes %s", shapes)
        return graph

    def input_tensor(self, name: str, shape: Sequence[int] | None = None) -> Any:
        """The CUDA graph's static input tensor for ``name``: write a frame into it (it has
        ``__dlpack__`` and ``__cuda_array_interface__``) and pass it back to :meth:`infer` to
        skip the input copy. ``shape`` is needed for dynamic inputs."""
        names = [t.name for t in self._inputs]
        return self.captured_graph(name, shape).inputs[names.index(name)]

    def captured_graph(self, name: str, shape: Sequence[int] | None = None) -> CapturedGraph:
        """The CUDA graph run when input ``name`` has ``shape`` (needed for dynamic inputs) and
        the others their declared shapes: captured now if it is not yet."""
        if not self._cuda_graph:
            raise EngineError("CUDA graph: only CUDA-graph engines have static input tensors")
        names = [t.name for t in self._inputs]
        if name not in names:
            raise InputError(f"input: expected one of {names}, given {name!r}")
        wanted = tuple(shape) if shape is not None else None
        shapes = []
        for t in self._inputs:
            s = wanted if t.name == name and wanted is not None else t.shape
            if any(d < 0 for d in s):
                raise InputError(f"input {t.name!r} is dynamic ({t.shape}); give a shape")
            shapes.append(tuple(s))
        graph = self._graph_for(tuple(shapes))
        if graph is None:
            why = (
                self.graph_fallback_reason or f"no more CUDA graphs can be captured ({MAX_GRAPHS})"
            )
            raise EngineError(f"CUDA graph: none for these input shapes: {why}")
        return graph

    def model_step(self, shapes: Mapping[str, tuple[int, ...]]) -> ModelStep | None:
        """The CUDA graph of ``shapes`` as a native model step, launched on PyTorch's current
        stream; None on the CPU, without graphs, or where PyTorch gives out no graph handle.
        The graph is launched as captured: a model drawing random numbers in ``forward()``
        would draw the same ones every frame (PyTorch's own replay advances its generators)."""
        from trtpipe import _core

        if not self._cuda_graph or not hasattr(_core, "GraphStep"):
            return None
        try:
            graph = self._graph_for(tuple(tuple(shapes.get(t.name, t.shape)) for t in self._inputs))
        except RuntimeError as exc:
            log.debug("torch engine: no model step: %s", exc)
            return None
        handle = graph.exec_handle() if graph is not None else None
        if handle is None:
            log.debug("torch engine: no model step: no cudaGraphExec_t from this PyTorch")
            return None
        names = [t.name for t in self._inputs]
        inputs = [_step_tensor(n, t) for n, t in zip(names, graph.inputs, strict=True)]
        outputs = [
            _step_tensor(n, t) for n, t in zip(self._output_names or [], graph.outputs, strict=True)
        ]
        if any(t is None for t in inputs + outputs):
            log.debug("torch engine: no model step: a graph tensor cannot be used in place")
            return None
        index = self._device.index or 0
        native = _core.GraphStep(handle, inputs, outputs, index, graph.graph_handle())
        return ModelStep(native, _current_stream_reader(self._torch, index), owner=graph)

    def infer_tensors(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Runs one frame and returns the outputs as device tensors. On the CUDA-graph path they
        are the graph's static outputs: valid until the next call with the same shapes."""
        if self._module is None:
            raise EngineError("torch engine: infer() after close()")
        check_inputs(self._inputs, inputs)
        torch = self._torch
        tensors = [self._as_tensor(inputs[t.name], t) for t in self._inputs]
        graph = self._graph_for(tuple(tuple(x.shape) for x in tensors))
        with torch.no_grad():
            if graph is None:
                values = self._run(tensors)
            else:
                for static, tensor in zip(graph.inputs, tensors, strict=True):
                    if static.data_ptr() != tensor.data_ptr():
                        static.copy_(tensor, non_blocking=True)
                graph.graph.replay()
                values = graph.outputs
        return dict(zip(self._output_names or [], values, strict=True))

    def infer(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        return {name: v.cpu().numpy() for name, v in self.infer_tensors(inputs).items()}

    def submit(self, inputs: Mapping[str, Any]) -> PendingResult:
        if self._device.type != "cuda":
            return super().submit(inputs)
        torch = self._torch
        device_outputs = self.infer_tensors(inputs)
        host = {}
        for name, value in device_outputs.items():
            pinned = torch.empty(value.shape, dtype=value.dtype, pin_memory=True)
            pinned.copy_(value, non_blocking=True)
            host[name] = pinned
        event = torch.cuda.Event()
        event.record(torch.cuda.current_stream(self._device))
        return _TorchPending(event, host)

    def result(self, pending: PendingResult) -> dict[str, np.ndarray]:
        if isinstance(pending, _TorchPending):
            pending.event.synchronize()
            return {name: t.numpy() for name, t in pending.host.items()}
        return super().result(pending)

    def close(self) -> None:
        self._graphs.clear()
        self._module = None
