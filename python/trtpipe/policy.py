"""trtpipe.Policy: a vision-language-action model run on camera images, an instruction and the
robot's state, giving an action vector (D,) or an action chunk (T, D).

The model's inputs say what each one is (the contract an exported VLA follows):

- an **image input**: 4-D float, 3 channels (N, 3, H, W) or (N, H, W, 3). Each image is
  preprocessed by the fused kernel into it (``resize``, ``scale``, ``mean``, ``std``, RGB), at
  the input's own size (``image_size`` for a dynamic one);
- the **token ids**: the first 2-D integer input (N, L); the instruction is tokenised by
  ``tokenizer`` (a ``tokenizer.json``) and padded or truncated to L (``sequence_length`` for a
  dynamic L);
- an **attention mask**: a 2-D integer input whose name contains "mask" (1 for a token);
- **state** inputs: every other input, given by name in ``state=`` (e.g. joint positions) and
  bound as tensors of the input's dtype.

The output ``output`` (default: the first) is the action: (1, D) or (1, T, D) with N = 1. Any
backend runs it (TensorRT, PyTorch, ONNX Runtime), as :func:`trtpipe.load` chooses.
"""

from __future__ import annotations

import logging
import re
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
        self._pre: dict[str, Preprocessor] = {}
        self._buffers: dict[str, Any] = {}
        self._targets: dict[str, Any] = {}
        for name in self.inputs.images:
            info = infos[name]
            nchw = info.shape[1] == 3
            h, w = (info.shape[2], info.shape[3]) if nchw else (info.shape[1], info.shape[2])
            size = (w, h) if w > 0 and h > 0 else tuple(image_size)
            pre = Preprocessor(
                size=size,
                layout="NCHW" if nchw else "NHWC",
                dtype="float16" if np.dtype(info.dtype) == np.float16 else "float32",
                resize=resize,
                scale=scale,
                mean=mean,
                std=std,
                device=self.device,
            )
            self._pre[name] = pre
            self._buffers[name] = pre.empty(batch=1)
            self._targets[name] = pre.prepare_output(self._buffers[name])
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

    def feeds(
        self,
        images: Any | Mapping[str, Any],
        instruction: str | bytes | None = None,
        state: Mapping[str, Any] | None = None,
        encoding: str | None = None,
    ) -> dict[str, Any]:
        """The model's inputs for one step (what :meth:`act` runs)."""
        names = self.inputs.images
        if not isinstance(images, Mapping):
            if len(names) != 1:
                raise InputError(
                    f"images: the model has {len(names)} image inputs {list(names)}; give them "
                    "by name"
                )
            images = {names[0]: images}
        missing = set(names) - set(images)
        extra = set(images) - set(names)
        if missing or extra:
            raise InputError(f"images: expected {sorted(names)}, given {sorted(images)}")
        feeds: dict[str, Any] = {}
        for name, value in images.items():
            image, enc = value if isinstance(value, tuple) else (value, encoding)
            self._pre[name](image, self._targets[name], enc)
            feeds[name] = self._buffers[name]
        if self.tokenizer is not None:
            if instruction is None:
                raise InputError("instruction: the model takes one, given None")
            tokens = self.tokenizer(instruction)
            feeds[self.inputs.token_ids] = self._typed(self.inputs.token_ids, tokens.ids)
            if self.inputs.attention_mask is not None:
                feeds[self.inputs.attention_mask] = self._typed(
                    self.inputs.attention_mask, tokens.mask
                )
        state = dict(state or {})
        unknown = set(state) - set(self.inputs.state)
        if unknown:
            raise InputError(
                f"state: expected inputs {list(self.inputs.state)}, given {sorted(unknown)}"
            )
        for name in self.inputs.state:
            if name not in state:
                raise InputError(f"state: the model's input {name!r} needs a value")
            info = self._infos[name]
            array = np.asarray(state[name], dtype=np.dtype(info.dtype))
            want = tuple(info.shape)
            if len(want) == array.ndim + 1 and want[0] in (1, -1):
                array = array[None]  # the batch axis added
            if array.ndim != len(want) or any(
                w > 0 and g != w for w, g in zip(want, array.shape, strict=True)
            ):
                raise InputError(f"state {name!r}: expected shape {want}, given {array.shape}")
            feeds[name] = np.ascontiguousarray(array)
        return feeds

    def _typed(self, name: str, values: np.ndarray) -> np.ndarray:
        return values.astype(np.dtype(self._infos[name].dtype), copy=False)

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
