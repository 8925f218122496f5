"""Which decoder fits a model, told from its output names and shapes, and one entry point that
runs the chosen decoder on a dict of outputs."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from trtpipe.decode.common import BoxTransform, DecodeOptions, ImageDecoder, Transforms
from trtpipe.decode.detections import Detections
from trtpipe.decode.detectnet import decode_detectnet
from trtpipe.decode.efficient_nms import OUTPUT_NAMES as EFFICIENT_NMS_NAMES
from trtpipe.decode.efficient_nms import decode_efficient_nms
from trtpipe.decode.end_to_end import decode_end_to_end
from trtpipe.decode.yolov5 import decode_yolov5, yolov5_image_decoder
from trtpipe.decode.yolov8 import decode_yolov8, yolov8_image_decoder
from trtpipe.errors import InputError

FORMATS = ("yolov8", "yolov8_transposed", "yolov5", "end_to_end", "efficient_nms", "detectnet")


# Strides of the detection heads: P3-P5, and P3-P6 for the "6" models.
_HEAD_STRIDES = ((8, 16, 32), (8, 16, 32, 64))


def _grid_cells(input_size: tuple[int, int], strides: Sequence[int]) -> int:
    w, h = input_size
    return sum(-(-w // s) * -(-h // s) for s in strides)


def _anchor_rows_format(anchors: int, input_size: tuple[int, int] | None) -> str:
    """YOLOv5 or a transposed YOLOv8 export, both [B, N, channels] with N > channels: an
    anchor-free head has one row per grid cell, YOLOv5's three anchors per cell."""
    if input_size is not None:
        for strides in _HEAD_STRIDES:
            cells = _grid_cells(input_size, strides)
            if anchors == cells:
                return "yolov8_transposed"
            if anchors == 3 * cells:
                return "yolov5"
    return "yolov5"


def detect_format(
    shapes: Mapping[str, Sequence[int]], input_size: tuple[int, int] | None = None
) -> str:
    """The output format of a model whose outputs have these (concrete) shapes, by name.

    ``input_size`` (width, height of the network input) tells a transposed YOLOv8 export
    ``[B, N, 4 + C]`` from YOLOv5's ``[B, N, 5 + C]`` by the number of rows; without it such
    an output is taken for YOLOv5."""
    names = list(shapes)
    if set(EFFICIENT_NMS_NAMES) <= set(names):
        return "efficient_nms"
    if len(names) == 2:
        a, b = (tuple(shapes[n]) for n in names)
        if len(a) == len(b) == 4 and (b[1] == 4 * a[1] or a[1] == 4 * b[1]):
            return "detectnet"
    if len(names) == 4 and [len(shapes[n]) for n in names] == [2, 3, 2, 2]:
        return "efficient_nms"
    if len(names) == 1:
        shape = tuple(shapes[names[0]])
        if len(shape) == 3:
            _, rows, cols = shape
            if cols == 6 and rows > 6:
                return "end_to_end"
            # YOLOv8 puts the few channel rows first; YOLOv5 the many anchor rows first.
            return "yolov8" if rows < cols else _anchor_rows_format(rows, input_size)
    described = ", ".join(f"{n} {tuple(s)}" for n, s in shapes.items())
    raise InputError(
        f"outputs: expected a known detector layout ({', '.join(FORMATS)}), given {described}; "
        "pass decoder= to choose one"
    )


def _shapes(outputs: Mapping[str, Any]) -> str:
    return ", ".join(f"{n} {np.shape(a)}" for n, a in outputs.items()) or "none"


def _detectnet(outputs: Mapping[str, Any], transforms: Transforms, opts: DecodeOptions):
    shapes = [np.shape(a) for a in outputs.values()]
    if len(shapes) != 2 or any(len(s) not in (3, 4) for s in shapes):
        raise InputError(
            "outputs: expected 2 for detectnet, coverage [B, C, H, W] and bbox [B, 4 * C, H, W], "
            f"given {_shapes(outputs)}"
        )
    a, b = outputs.values()
    channels = -3  # the class axis, with or without the batch axis
    cov, bbox = (a, b) if shapes[1][channels] == 4 * shapes[0][channels] else (b, a)
    return decode_detectnet(cov, bbox, transforms, opts)


def _efficient_nms(outputs: Mapping[str, Any], transforms: Transforms, opts: DecodeOptions):
    if set(EFFICIENT_NMS_NAMES) <= set(outputs):
        arrays = [outputs[n] for n in EFFICIENT_NMS_NAMES]
    elif len(outputs) == len(EFFICIENT_NMS_NAMES):
        arrays = list(outputs.values())
    else:
        raise InputError(
            f"outputs: expected {len(EFFICIENT_NMS_NAMES)} for efficient_nms, "
            f"{', '.join(EFFICIENT_NMS_NAMES)} (by those names, or in that order), "
            f"given {_shapes(outputs)}"
        )
    return decode_efficient_nms(*arrays, transforms, opts)


def _single(fn: Callable[..., list[Detections]]):
    def run(outputs: Mapping[str, np.ndarray], transforms: Transforms, opts: DecodeOptions):
        if len(outputs) != 1:
            raise InputError(f"outputs: expected one output, given {list(outputs)}")
        return fn(next(iter(outputs.values())), transforms, opts)

    return run


_DECODERS: dict[str, Callable[..., list[Detections]]] = {
    "yolov8": _single(decode_yolov8),
    "yolov8_transposed": _single(functools.partial(decode_yolov8, transposed=True)),
    "yolov5": _single(decode_yolov5),
    "end_to_end": _single(decode_end_to_end),
    "efficient_nms": _efficient_nms,
    "detectnet": _detectnet,
}


def decode(
    fmt: str,
    outputs: Mapping[str, Any],
    transforms: Transforms = None,
    options: DecodeOptions | None = None,
) -> list[Detections]:
    """Runs the decoder of format ``fmt`` on a model's outputs (name -> array)."""
    try:
        fn = _DECODERS[fmt]
    except KeyError:
        raise InputError(f"decoder: expected one of {FORMATS}, given {fmt!r}") from None
    return fn(outputs, transforms, options or DecodeOptions())


def _dense_head_decoder(fmt: str, shape: tuple[int, ...], options: DecodeOptions) -> ImageDecoder:
    if fmt == "yolov5":
        return yolov5_image_decoder(shape[2], options)
    transposed = fmt == "yolov8_transposed"
    channels = shape[2] if transposed else shape[1]
    return yolov8_image_decoder(channels, options, transposed=transposed)


def frame_decoder(
    fmt: str, shapes: Mapping[str, Sequence[int]], options: DecodeOptions
) -> Callable[[Mapping[str, Any], BoxTransform | None], Detections]:
    """Decodes one frame's outputs (batch of one) of a model with these output shapes, for a
    caller that decodes frame after frame: a dense head with one output gets its decoder
    prepared once; outputs of another shape or dtype, and the other formats, go through
    :func:`decode`."""

    def general(outputs: Mapping[str, Any], transform: BoxTransform | None) -> Detections:
        return decode(fmt, outputs, transform, options)[0]

    if fmt not in ("yolov8", "yolov8_transposed", "yolov5") or len(shapes) != 1:
        return general
    ((name, shape),) = ((n, tuple(s)) for n, s in shapes.items())
    if len(shape) != 3 or shape[0] != 1:
        return general
    decode_image = _dense_head_decoder(fmt, shape, options)

    def prepared(outputs: Mapping[str, Any], transform: BoxTransform | None) -> Detections:
        out = outputs[name] if len(outputs) == 1 else None
        if type(out) is not np.ndarray or out.dtype != np.float32 or out.shape != shape:
            return general(outputs, transform)
        return decode_image(out[0], transform)

    return prepared
