"""trtpipe.Policy: a vision-language-action model run on camera images, an instruction and the
robot's state, giving an action vector (D,) or an action chunk (T, D).

The model's inputs say what each one is (the contract an exported VLA follows):

- an **image input**: 4-D float, 3 channels (N, 3, H, W) or (N, H, W, 3). Each image is
  preprocessed by the fused kernel into it (``resize``, ``scale``, ``mean``, ``std``, RGB), at
  the input's own size (``image_size`` for a dynamic one);
- the **token ids**: the first 2-D integer input (N, L); the instruction is tokenised by
  ``tokenizer`` (a ``tokenizer.json``) and padded or truncated to L (``sequence_length`` for a
  dynamic L), once until the instruction changes (the tokenizer's counters count those);
- an **attention mask**: a 2-D integer input whose name contains "mask" (1 for a token);
- **state** inputs: every other input, given by name in ``state=`` (e.g. joint positions) and
  bound as tensors of the input's dtype.

The output ``output`` (default: the first) is the action: (1, D) or (1, T, D) with N = 1. Any
backend runs it (TensorRT, PyTorch, ONNX Runtime), as :func:`trtpipe.load` chooses.
On a PyTorch engine running CUDA graphs every input is written into the graph's own input
tensor, so a step copies nothing else before the graph runs.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trtpipe.backends.base import Engine, TensorInfo
from trtpipe.errors import EngineError, InputError
from trtpipe.preprocess import Preprocessor
from trtpipe.text_tokens import TextTokenizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PolicyInputs:
    """Which model input is what (see the module's docstring)."""

    images: tuple[str, ...]
    token_ids: str | None
    attention_mask: str | None
    state: tuple[str, ...]


def _is_image(info: TensorInfo) -> bool:
    s = info.shape
    return len(s) == 4 and np.dtype(info.dtype).kind == "f" and (s[1] == 3 or s[3] == 3)


def classify_inputs(inputs: Sequence[TensorInfo]) -> PolicyInputs:
    """The roles of a policy model's inputs, by shape and dtype (and "mask" in a name)."""
    images = tuple(i.name for i in inputs if _is_image(i))
    integers = [i for i in inputs if len(i.shape) == 2 and np.dtype(i.dtype).kind in "iu"]
    masks = [i.name for i in integers if re.search("mask", i.name, re.IGNORECASE)]
    ids = next((i.name for i in integers if i.name not in masks), None)
    mask = masks[0] if masks and ids is not None else None
    taken = {*images, ids, mask}
    state = tuple(i.name for i in inputs if i.name not in taken)
    return PolicyInputs(images, ids, mask, state)


class Policy:
    """Actions from images, an instruction and state: ``policy.act(image, "pick up the cup")``.

    ``model``: a model file or a loaded :class:`Engine`. ``tokenizer``: a ``tokenizer.json``
    (needed when the model has token ids). ``image_size``: (width, height) for dynamic image
    inputs (default 224×224). ``sequence_length``: for a dynamic token axis (default 32).
    ``resize`` ("letterbox" or "stretch"), ``scale``, ``mean``, ``std``: the images'
    normalisation (default: 0..1 RGB, letterboxed).
    """

    def __init__(
        self,
        model: str | Path | Engine,
        tokenizer: str | Path | Any = None,
        *,
        backend: str = "auto",
        device: str = "auto",
        output: str | None = None,
        image_size: tuple[int, int] = (224, 224),
        sequence_length: int = 32,
        resize: str = "letterbox",
        scale: float = 1 / 255,
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
    ) -> None:
        if isinstance(model, Engine):
            self.engine = model
        else:
            from trtpipe.backends.loader import load

            self.engine = load(model, backend=backend, device=None if device == "auto" else device)
        inputs = self.engine.inputs
        self.inputs = classify_inputs(inputs)
        infos = {i.name: i for i in inputs}
        self._infos = infos
        outputs = [o.name for o in self.engine.outputs]
        if output is not None and output not in outputs:
            raise InputError(f"output: expected one of {outputs}, given {output!r}")
        self.output = output or outputs[0]
        on_gpu = self.engine.device.startswith("cuda") and device != "cpu"
        self.device = self.engine.device if on_gpu else "cpu"
        self.tokenizer: TextTokenizer | None = None
        if self.inputs.token_ids is not None:
            if tokenizer is None:
                raise InputError(
                    f"tokenizer: the model takes token ids ({self.inputs.token_ids!r}); give a "
                    "tokenizer.json"
                )
            length = infos[self.inputs.token_ids].shape[1]
            self.tokenizer = (
                tokenizer
                if isinstance(tokenizer, TextTokenizer)
                else TextTokenizer(tokenizer, length if length > 0 else sequence_length)
            )
        self._pre: dict[str, Preprocessor] = {}
        for name in self.inputs.images:
            info = infos[name]
            nchw = info.shape[1] == 3
            h, w = (info.shape[2], info.shape[3]) if nchw else (info.shape[1], info.shape[2])
            size = (w, h) if w > 0 and h > 0 else tuple(image_size)
            self._pre[name] = Preprocessor(
                size=size,
                layout="NCHW" if nchw else "NHWC",
                dtype="float16" if np.dtype(info.dtype) == np.float16 else "float32",
                resize=resize,
                scale=scale,
                mean=mean,
                std=std,
                device=self.device,
            )
        # what each state input takes: its dtype and shape (a batch axis of -1 as 1)
        self._state_specs = {
            name: (np.dtype(infos[name].dtype), tuple(infos[name].shape))
            for name in self.inputs.state
        }
        self._state_names = frozenset(self.inputs.state)
        # A CUDA-graph engine's own input tensors, where it has them: the images are
        # preprocessed straight into them, and the tokens and the state copied in, so a step
        # copies nothing else.
        self._graph_inputs = self._engine_input_tensors()
        self._stream: Any = None
        if self._graph_inputs:
            from trtpipe.backends.torch import _current_stream_reader

            self._torch = sys.modules["torch"]
            index = int(self.device.partition(":")[2] or 0)
            self._stream = _current_stream_reader(self._torch, index)
        self._buffers: dict[str, Any] = {}
        self._targets: dict[str, Any] = {}
        for name, pre in self._pre.items():
            buffer = self._graph_inputs.get(name)
            self._buffers[name] = buffer if buffer is not None else pre.empty(batch=1)
            self._targets[name] = pre.prepare_output(self._buffers[name])
        # the last instruction and its token inputs: it changes rarely, and is tokenised once
        self._text: tuple[type, str | bytes] | None = None
        self._text_values: dict[str, Any] = {}

    def _engine_input_tensors(self) -> dict[str, Any]:
        """The engine's static input tensors at the shapes this policy feeds (a PyTorch engine
        running CUDA graphs), or {} where it has none: inputs are then handed over per step."""
        engine = self.engine
        if not (
            self.device != "cpu"
            and getattr(engine, "uses_cuda_graph", False)
            and hasattr(engine, "input_tensors")
        ):
            return {}
        shapes: dict[str, tuple[int, ...]] = {}
        for name, pre in self._pre.items():
            shapes[name] = pre.output_shape(1)
        for name in (self.inputs.token_ids, self.inputs.attention_mask):
            if name is not None and self.tokenizer is not None:
                shapes[name] = (1, self.tokenizer.length)
        for name, (_, shape) in self._state_specs.items():
            if any(d < 0 for d in shape[1:]):
                return {}  # a state of varying size: its shape is known per step only
            shapes[name] = (1, *shape[1:]) if shape and shape[0] < 0 else shape
        try:
            tensors = engine.input_tensors(shapes)
        except (EngineError, InputError, RuntimeError) as exc:
            log.debug("policy: the engine's input tensors are not used: %s", exc)
            return {}
        for name, pre in self._pre.items():  # the preprocessing writes its own dtype only
            if str(tensors[name].dtype) != f"torch.{np.dtype(pre.dtype).name}":
                return {}
        return tensors

    def feeds(
        self,
        images: Any | Mapping[str, Any],
        instruction: str | bytes | None = None,
        state: Mapping[str, Any] | None = None,
        encoding: str | None = None,
    ) -> dict[str, Any]:
        """The model's inputs for one step (what :meth:`act` runs). The arrays are the
        policy's own, rewritten by the next step."""
        names = self.inputs.images
        if type(images) is not dict and not isinstance(images, Mapping):
            if len(names) != 1:
                raise InputError(
                    f"images: the model has {len(names)} image inputs {list(names)}; give them "
                    "by name"
                )
            images = {names[0]: images}
        elif len(images) != len(names) or any(name not in images for name in names):
            raise InputError(f"images: expected {sorted(names)}, given {sorted(images)}")
        stream = 0 if self._stream is None else self._stream()
        feeds: dict[str, Any] = {}
        for name, value in images.items():
            image, enc = value if isinstance(value, tuple) else (value, encoding)
            self._pre[name](image, self._targets[name], enc, stream=stream)
            feeds[name] = self._buffers[name]
        if self.tokenizer is not None:
            if instruction is None:
                raise InputError("instruction: the model takes one, given None")
            feeds.update(self._instruction_feeds(instruction))
        if state:
            unknown = [name for name in state if name not in self._state_names]
            if unknown:
                raise InputError(
                    f"state: expected inputs {list(self.inputs.state)}, given {sorted(unknown)}"
                )
        for name, (dtype, want) in self._state_specs.items():
            if not state or name not in state:
                raise InputError(f"state: the model's input {name!r} needs a value")
            array = np.asarray(state[name], dtype=dtype)
            if len(want) == array.ndim + 1 and want[0] in (1, -1):
                array = array[None]  # the batch axis added
            if array.ndim != len(want) or any(
                w > 0 and g != w for w, g in zip(want, array.shape, strict=True)
            ):
                raise InputError(f"state {name!r}: expected shape {want}, given {array.shape}")
            static = self._graph_inputs.get(name)
            if static is None:
                feeds[name] = np.ascontiguousarray(array)
                continue
            if array.shape != tuple(static.shape):
                raise InputError(
                    f"state {name!r}: expected shape {tuple(static.shape)}, given {array.shape}"
                )
            # queued on the stream behind the step before, so that step's input stays as it was
            static.copy_(self._torch.from_numpy(np.ascontiguousarray(array)), non_blocking=True)
            feeds[name] = static
        return feeds

    def _instruction_feeds(self, instruction: str | bytes) -> dict[str, Any]:
        """The token inputs of ``instruction``, tokenised when it differs from the last one.
        Into a CUDA graph's input tensors they are copied every step (from pinned memory, made
        at the change), so an engine shared with other callers always runs this instruction."""
        key = (type(instruction), instruction)
        if key != self._text:
            assert self.tokenizer is not None
            tokens = self.tokenizer(instruction)
            inputs = {self.inputs.token_ids: tokens.ids}
            if self.inputs.attention_mask is not None:
                inputs[self.inputs.attention_mask] = tokens.mask
            values = {}
            for name, ids in inputs.items():
                typed = ids.astype(np.dtype(self._infos[name].dtype), copy=False)
                values[name] = (
                    self._torch.from_numpy(typed).pin_memory() if self._graph_inputs else typed
                )
            self._text, self._text_values = key, values
        if not self._graph_inputs:
            return self._text_values
        feeds = {}
        for name, host in self._text_values.items():
            static = self._graph_inputs[name]
            static.copy_(host, non_blocking=True)
            feeds[name] = static
        return feeds

    def act(
        self,
        images: Any | Mapping[str, Any],
        instruction: str | bytes | None = None,
        state: Mapping[str, Any] | None = None,
        encoding: str | None = None,
    ) -> np.ndarray:
        """The action for these images, instruction and state: (D,) or (T, D) float64."""
        outputs = self.engine.infer(self.feeds(images, instruction, state, encoding))
        action = np.asarray(outputs[self.output], dtype=np.float64)
        if action.ndim in (2, 3) and action.shape[0] == 1:
            action = action[0]
        if action.ndim not in (1, 2):
            raise EngineError(
                f"output {self.output!r}: expected an action (1, D) or chunk (1, T, D), given "
                f"shape {np.shape(outputs[self.output])}"
            )
        return action

    def close(self) -> None:
        self.engine.close()
