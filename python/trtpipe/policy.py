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
backend runs it (TensorRT, PyTorch, ONNX Runtime), as :func:`trtpipe.load` chooses. On a GPU,
where the engine offers a native model step (a TensorRT context, a PyTorch CUDA graph) and the
image inputs share one preprocessing, a step runs in the frame pipeline, as a Detector's frames
do: the images preprocessed into their inputs, the tokens and state staged in pinned memory and
copied in, the model and the copy of its outputs, in one submit and one wait.
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
from trtpipe.frame_pipeline import FramePipeline
from trtpipe.preprocess import Preprocessor, locate_frame
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
        # the last instruction and its token inputs: it changes rarely, and is tokenised once
        self._text: tuple[type, str | bytes] | None = None
        self._text_values: dict[str, np.ndarray] = {}
        self._input_index: dict[str, int] = {}  # the frame pipeline's input order
        self._pipeline = self._frame_pipeline()
        # engine.infer's image buffers (the route without a frame pipeline), made on first use
        self._buffers: dict[str, Any] = {}
        self._targets: dict[str, Any] = {}

    @property
    def frame_path(self) -> str:
        """How a step reaches the engine: "pipeline" (the native frame pipeline: one submit,
        one wait) or "engine" (preprocessing, then ``engine.infer``)."""
        return "pipeline" if self._pipeline is not None else "engine"

    def _frame_pipeline(self) -> FramePipeline | None:
        """The frame pipeline over the engine's model step at this policy's input shapes, on
        a GPU where the engine offers one and the image inputs share one preprocessing (the
        pipeline has one); else None (and why, at debug level)."""
        if self.device == "cpu":
            return None
        pres = list(self._pre.values())
        if len({(p.output_shape(1), p.dtype) for p in pres}) > 1:
            log.debug("policy: image inputs of different sizes: steps go through engine.infer")
            return None
        shapes: dict[str, tuple[int, ...]] = {
            name: pre.output_shape(1) for name, pre in self._pre.items()
        }
        for name in (self.inputs.token_ids, self.inputs.attention_mask):
            if name is not None and self.tokenizer is not None:
                shapes[name] = (1, self.tokenizer.length)
        for name, (_, shape) in self._state_specs.items():
            if any(d < 0 for d in shape[1:]):
                return None  # a state of varying size: its shape is known per step only
            shapes[name] = (1, *shape[1:]) if shape and shape[0] < 0 else shape
        try:
            step = self.engine.model_step(shapes)
        except (EngineError, InputError, RuntimeError) as exc:
            log.debug("policy: no model step: %s", exc)
            return None
        if step is None:
            return None
        index = {t["name"]: k for k, t in enumerate(step.native.inputs)}
        for name, pre in self._pre.items():  # the preprocessing writes its own dtype only
            native = step.native.inputs[index[name]]
            if (
                native["dtype"] != np.dtype(pre.dtype).name
                or tuple(native["shape"]) != shapes[name]
            ):
                log.debug("policy: the step's input %r is not the preprocessing's", name)
                return None
        self._input_index = index
        return FramePipeline(pres[0] if pres else None, step, slots=1)

    def _images(self, images: Any | Mapping[str, Any], encoding: str | None) -> dict[str, Any]:
        """``images`` by input name, each an image or an (image, encoding) pair."""
        names = self.inputs.images
        if type(images) is not dict and not isinstance(images, Mapping):
            if len(names) != 1:
                raise InputError(
                    f"images: the model has {len(names)} image inputs {list(names)}; give them "
                    "by name"
                )
            return {names[0]: (images, encoding)}
        if len(images) != len(names) or any(name not in images for name in names):
            raise InputError(f"images: expected {sorted(names)}, given {sorted(images)}")
        for name, value in images.items():
            if isinstance(value, tuple) and len(value) != 2:
                raise InputError(
                    f"images[{name!r}]: expected an image or an (image, encoding) pair, given a "
                    f"tuple of {len(value)}"
                )
        return {
            name: value if isinstance(value, tuple) else (value, encoding)
            for name, value in images.items()
        }

    def feeds(
        self,
        images: Any | Mapping[str, Any],
        instruction: str | bytes | None = None,
        state: Mapping[str, Any] | None = None,
        encoding: str | None = None,
    ) -> dict[str, Any]:
        """The model's inputs for one step, as ``engine.infer`` takes them. The arrays are the
        policy's own, rewritten by the next call."""
        feeds: dict[str, Any] = {}
        for name, (image, enc) in self._images(images, encoding).items():
            if name not in self._buffers:
                self._buffers[name] = self._pre[name].empty(batch=1)
                self._targets[name] = self._pre[name].prepare_output(self._buffers[name])
            self._pre[name](image, self._targets[name], enc)
            feeds[name] = self._buffers[name]
        feeds.update(self._tensor_feeds(instruction, state))
        return feeds

    def _tensor_feeds(
        self, instruction: str | bytes | None, state: Mapping[str, Any] | None
    ) -> dict[str, np.ndarray]:
        """The token and state inputs of one step."""
        feeds: dict[str, np.ndarray] = {}
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
            try:
                array = np.asarray(state[name], dtype=dtype)
            except (TypeError, ValueError) as exc:
                raise InputError(
                    f"state {name!r}: expected numbers ({np.dtype(dtype).name}), given "
                    f"{state[name]!r:.80}"
                ) from exc
            if len(want) == array.ndim + 1 and want[0] in (1, -1):
                array = array[None]  # the batch axis added
            if array.ndim != len(want) or any(
                w > 0 and g != w for w, g in zip(want, array.shape, strict=True)
            ):
                raise InputError(f"state {name!r}: expected shape {want}, given {array.shape}")
            feeds[name] = np.ascontiguousarray(array)
        return feeds

    def _instruction_feeds(self, instruction: str | bytes) -> dict[str, np.ndarray]:
        """The token inputs of ``instruction``, tokenised when it differs from the last one."""
        key = (type(instruction), instruction)
        if key != self._text:
            assert self.tokenizer is not None
            tokens = self.tokenizer(instruction)
            inputs = {self.inputs.token_ids: tokens.ids}
            if self.inputs.attention_mask is not None:
                inputs[self.inputs.attention_mask] = tokens.mask
            self._text_values = {
                name: ids.astype(np.dtype(self._infos[name].dtype), copy=False)
                for name, ids in inputs.items()
            }
            self._text = key
        return self._text_values

    def act(
        self,
        images: Any | Mapping[str, Any],
        instruction: str | bytes | None = None,
        state: Mapping[str, Any] | None = None,
        encoding: str | None = None,
    ) -> np.ndarray:
        """The action for these images, instruction and state: (D,) or (T, D) float64."""
        pipeline = self._pipeline
        if pipeline is None:
            outputs = self.engine.infer(self.feeds(images, instruction, state, encoding))
        else:
            tensors = self._tensor_feeds(instruction, state)
            frames, keep = [], []
            for name, (image, enc) in self._images(images, encoding).items():
                frame, kept = locate_frame(image, enc, None, None, None)
                frames.append((frame, self._input_index[name], 0))
                keep.append(kept)
            pipeline.submit_frames(frames, tensors, 0, pipeline.current_stream())
            outputs = pipeline.wait(0)  # views of the slot, copied below
        action = np.array(outputs[self.output], dtype=np.float64)
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
