"""Darknet models (a ``.cfg`` and a ``.weights`` file) to ONNX, with numpy and onnx only.

The [yolo] heads are decoded inside the graph, so the ONNX gives the YOLOv5 layout the decoders
read: ``[batch, N, 5 + C]`` rows of cx, cy, w, h (network-input pixels), objectness and C class
probabilities. The class names go into the ONNX metadata (``names``, ``imgsz``) as Ultralytics
exports have them. Layers: [convolutional] (batch norm folded into the weights; linear, leaky,
relu, logistic, swish and mish activations), [maxpool], [route] (with ``groups``), [shortcut],
[upsample] and [yolo]; any other layer stops the import with an error naming it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trtpipe.errors import InputError

log = logging.getLogger(__name__)

OPSET = 13
INPUT_NAME = "images"
OUTPUT_NAME = "output"
# Darknet's batch-norm epsilon (normalize_cpu: sqrt(variance + .00001f)).
BATCH_NORM_EPS = 1e-5


@dataclass
class Section:
    """One ``[kind]`` block of a cfg file; ``line`` is where it starts, for error messages."""

    kind: str
    options: dict[str, str]
    line: int
    index: int = -1  # darknet's layer number (the first section after [net] is layer 0)

    @property
    def where(self) -> str:
        """Where this section is, for error messages: line, layer number and type."""
        if self.index < 0:
            return f"darknet cfg line {self.line}: [{self.kind}]"
        return f"darknet cfg line {self.line}: layer {self.index} [{self.kind}]"

    def text(self, key: str, default: str | None = None) -> str:
        if key in self.options:
            return self.options[key]
        if default is None:
            raise InputError(f"darknet cfg line {self.line}: [{self.kind}] needs {key}=")
        return default

    def int(self, key: str, default: int | None = None, *, minimum: int | None = None) -> int:
        value = self.text(key, None if default is None else str(default))
        try:
            number = int(value)
        except ValueError:
            raise InputError(
                f"darknet cfg line {self.line}: [{self.kind}] {key}={value} is not an integer"
            ) from None
        if minimum is not None and number < minimum:
            # a zero stride or size would divide by zero, a negative one makes no shape
            raise InputError(
                f"{self.where}: {key}: expected an integer >= {minimum}, given {value}"
            )
        return number

    def float(self, key: str, default: float) -> float:
        value = self.text(key, str(default))
        try:
            return float(value)
        except ValueError:
            raise InputError(
                f"darknet cfg line {self.line}: [{self.kind}] {key}={value} is not a number"
            ) from None

    def ints(self, key: str, default: str | None = None) -> list[int]:
        value = self.text(key, default)
        try:
            return [int(v) for v in value.split(",") if v.strip()]
        except ValueError:
            raise InputError(
                f"darknet cfg line {self.line}: [{self.kind}] {key}={value} is not a list of "
                "integers"
            ) from None


def read_cfg(path: str | Path) -> list[Section]:
    """The sections of a Darknet cfg file, in order (the first is [net])."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"darknet cfg: {path} does not exist")
    sections: list[Section] = []
    for number, raw in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise InputError(f"darknet cfg {path} line {number}: unclosed section {line!r}")
            sections.append(Section(line[1:-1].strip().lower(), {}, number, len(sections) - 1))
        elif "=" in line and sections:
            key, value = line.split("=", 1)
            sections[-1].options[key.strip()] = value.strip()
        else:
            raise InputError(f"darknet cfg {path} line {number}: cannot read {raw.strip()!r}")
    if not sections or sections[0].kind not in ("net", "network"):
        raise InputError(f"darknet cfg {path}: the first section must be [net]")
    return sections


class WeightsReader:
    """The float32 values of a .weights file after its header, handed out in cfg order."""

    def __init__(self, path: str | Path):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"darknet weights: {path} does not exist")
        data = path.read_bytes()
        if len(data) < 16:
            raise InputError(f"darknet weights {path}: {len(data)} bytes, too short for a header")
        major, minor, revision = (int(v) for v in np.frombuffer(data, np.int32, 3))
        if not (0 <= major <= 9 and 0 <= minor <= 99):
            raise InputError(
                f"darknet weights {path}: not a .weights file (header version "
                f"{major}.{minor}.{revision})"
            )
        # `seen` is 64-bit from version 0.2 on.
        header = 20 if major * 10 + minor >= 2 else 16
        self.version = (major, minor, revision)
        if (len(data) - header) % 4:
            raise InputError(f"darknet weights {path}: truncated ({len(data)} bytes)")
        self.path = path
        self.values = np.frombuffer(data, np.float32, offset=header)
        self.used = 0

    def take(self, count: int, what: str) -> np.ndarray:
        if self.used + count > self.values.size:
            raise InputError(
                f"darknet weights {self.path}: ends at {what} (needs {count} more values, "
                f"{self.values.size - self.used} left); the cfg and weights do not match"
            )
        out = self.values[self.used : self.used + count]
        if not np.isfinite(out).all():
            # a NaN or infinity spreads through every later layer: the model would output NaN
            bad = self.used + int(np.flatnonzero(~np.isfinite(out))[0])
            raise InputError(
                f"darknet weights {self.path}: {what}: expected finite values, given "
                f"{out[bad - self.used]} (value {bad} after the header)"
            )
        self.used += count
        return out

    def check_all_used(self) -> None:
        left = self.values.size - self.used
        if left:
            raise InputError(
                f"darknet weights {self.path}: {left} values left after the last layer; "
                "the cfg and weights do not match"
            )


@dataclass
class Tensor:
    """A layer's output: its graph name and shape (channels, height, width)."""

    name: str
    channels: int
    height: int
    width: int


@dataclass
class _Graph:
    """The ONNX nodes and initializers being built, with unique names."""

    nodes: list = field(default_factory=list)
    initializers: list = field(default_factory=list)
    count: int = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def constant(self, hint: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], hint: str, **attrs) -> str:
        from onnx import helper

        out = self.name(hint)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


def _activation(graph: _Graph, x: str, kind: str, section: Section) -> str:
    if kind == "linear":
        return x
    if kind == "leaky":
        return graph.node("LeakyRelu", [x], "leaky", alpha=0.1)
    if kind == "relu":
        return graph.node("Relu", [x], "relu")
    if kind == "logistic":
        return graph.node("Sigmoid", [x], "logistic")
    if kind == "swish":
        return graph.node("Mul", [x, graph.node("Sigmoid", [x], "sigmoid")], "swish")
    if kind == "mish":
        # x * tanh(softplus(x)): plain operators every runtime has (Mish is opset 18).
        soft = graph.node("Softplus", [x], "softplus")
        return graph.node("Mul", [x, graph.node("Tanh", [soft], "tanh")], "mish")
    raise InputError(f"darknet cfg line {section.line}: activation={kind} is not supported")


def _output_size(s: Section, x: Tensor, size: int, stride: int, pads: int) -> tuple[int, int]:
    height = (x.height + pads - size) // stride + 1
    width = (x.width + pads - size) // stride + 1
    if height < 1 or width < 1:
        raise InputError(
            f"{s.where}: size: expected at most the padded input "
            f"({x.height + pads}x{x.width + pads}), given {size}"
        )
    return height, width


def _convolutional(graph: _Graph, x: Tensor, s: Section, weights: WeightsReader) -> Tensor:
    filters, size = s.int("filters", minimum=1), s.int("size", 1, minimum=1)
    stride, groups = s.int("stride", 1, minimum=1), s.int("groups", 1, minimum=1)
    pad = size // 2 if s.int("pad", 0) else s.int("padding", 0, minimum=0)
    if s.int("dilation", 1) != 1 or "stride_x" in s.options or "stride_y" in s.options:
        raise InputError(f"darknet cfg line {s.line}: dilated or uneven-stride [convolutional]")
    for key in ("binary", "xnor"):
        # XNOR-net layers binarise weights (and inputs) at run time; plain Conv would not
        if value := s.int(key, 0):
            raise InputError(
                f"{s.where}: {key}: expected 0 ({key}=1 is not supported), given {value}"
            )
    if x.channels % groups:
        raise InputError(f"darknet cfg line {s.line}: {x.channels} channels, groups={groups}")
    height, width = _output_size(s, x, size, stride, 2 * pad)
    what = f"the [convolutional] at cfg line {s.line} (layer {s.index})"
    if s.int("batch_normalize", 0):
        beta = weights.take(filters, what)
        gamma = weights.take(filters, what)
        mean = weights.take(filters, what)
        variance = weights.take(filters, what)
        # rolling_variance is a mean of squares, so never negative; 0 is valid (a constant
        # channel): the folded scale gamma / sqrt(variance + eps) stays finite. A negative
        # one makes sqrt NaN.
        if (variance < 0).any():
            bad = int(np.flatnonzero(variance < 0)[0])
            raise InputError(
                f"darknet weights {weights.path}: {what}: batch-norm variance of filter {bad}: "
                f"expected >= 0, given {variance[bad]}"
            )
    else:
        bias = weights.take(filters, what)
    shape = (filters, x.channels // groups, size, size)
    kernel = weights.take(int(np.prod(shape)), what).reshape(shape)
    if s.int("batch_normalize", 0):
        with np.errstate(over="ignore"):
            scale = gamma / np.sqrt(variance + BATCH_NORM_EPS)
            kernel = kernel * scale[:, None, None, None]
            bias = beta - mean * scale
        if not (np.isfinite(kernel).all() and np.isfinite(bias).all()):
            raise InputError(
                f"darknet weights {weights.path}: {what}: folding the batch norm into the "
                "kernel overflows float32: expected smaller gamma, mean or weights"
            )
    out = graph.node(
        "Conv",
        [x.name, graph.constant("w", kernel.astype(np.float32)), graph.constant("b", bias)],
        "conv",
        kernel_shape=[size, size],
        strides=[stride, stride],
        pads=[pad, pad, pad, pad],
        group=groups,
    )
    out = _activation(graph, out, s.text("activation", "logistic"), s)
    return Tensor(out, filters, height, width)


def _maxpool(graph: _Graph, x: Tensor, s: Section) -> Tensor:
    size = s.int("size", 1, minimum=1)
    stride = s.int("stride", size, minimum=1)
    # Darknet pads size-1 in all, half of it before (max_pool: w_offset = -pad/2).
    total = s.int("padding", size - 1, minimum=0)
    if "maxpool_depth" in s.options or "stride_x" in s.options or "stride_y" in s.options:
        raise InputError(f"darknet cfg line {s.line}: this [maxpool] variant is not supported")
    height, width = _output_size(s, x, size, stride, total)
    before = total // 2
    # ONNX's floor((in + pads - size) / stride) + 1 equals Darknet's size with these end pads.
    after_h = (height - 1) * stride + size - x.height - before
    after_w = (width - 1) * stride + size - x.width - before
    out = graph.node(
        "MaxPool",
        [x.name],
        "maxpool",
        kernel_shape=[size, size],
        strides=[stride, stride],
        pads=[before, before, max(after_h, 0), max(after_w, 0)],
    )
    return Tensor(out, x.channels, height, width)


def _layer_index(s: Section, value: int, index: int, count: int) -> int:
    layer = index + value if value < 0 else value
    if not 0 <= layer < count:
        raise InputError(f"darknet cfg line {s.line}: [{s.kind}] refers to layer {value}")
    return layer


def _route(graph: _Graph, layers: list[Tensor], index: int, s: Section) -> Tensor:
    groups = s.int("groups", 1, minimum=1)
    group_id = s.int("group_id", 0, minimum=0)
    if group_id >= groups:
        raise InputError(f"{s.where}: group_id: expected below groups={groups}, given {group_id}")
    values = s.ints("layers")
    if not values:
        raise InputError(f"{s.where}: layers: expected one or more layer numbers, given none")
    parts = []
    for value in values:
        t = layers[_layer_index(s, value, index, len(layers))]
        if t.channels % groups:
            raise InputError(f"darknet cfg line {s.line}: {t.channels} channels, groups={groups}")
        part = t.channels // groups
        if groups > 1:
            begin = graph.constant("begin", np.array([group_id * part], np.int64))
            end = graph.constant("end", np.array([(group_id + 1) * part], np.int64))
            axis = graph.constant("axis", np.array([1], np.int64))
            t = Tensor(
                graph.node("Slice", [t.name, begin, end, axis], "group"), part, t.height, t.width
            )
        parts.append(t)
    if any((p.height, p.width) != (parts[0].height, parts[0].width) for p in parts):
        raise InputError(f"darknet cfg line {s.line}: [route] joins layers of different sizes")
    if len(parts) == 1:
        return parts[0]
    out = graph.node("Concat", [p.name for p in parts], "route", axis=1)
    return Tensor(out, sum(p.channels for p in parts), parts[0].height, parts[0].width)


def _shortcut(graph: _Graph, layers: list[Tensor], index: int, s: Section) -> Tensor:
    if "weights_type" in s.options:
        raise InputError(f"darknet cfg line {s.line}: weighted [shortcut] is not supported")
    if index == 0:
        # it adds to the layer before; the first layer has none (layers[-1] would wrap)
        raise InputError(f"{s.where}: expected a layer before a [shortcut], given none")
    values = s.ints("from")
    if not values:
        raise InputError(f"{s.where}: from: expected one or more layer numbers, given none")
    x = layers[index - 1]
    out = x.name
    for value in values:
        other = layers[_layer_index(s, value, index, len(layers))]
        if (other.channels, other.height, other.width) != (x.channels, x.height, x.width):
            raise InputError(f"darknet cfg line {s.line}: [shortcut] of different shapes")
        out = graph.node("Add", [out, other.name], "shortcut")
    return Tensor(
        _activation(graph, out, s.text("activation", "linear"), s), x.channels, x.height, x.width
    )


def _upsample(graph: _Graph, x: Tensor, s: Section) -> Tensor:
    stride = s.int("stride", 2, minimum=1)
    if s.float("scale", 1.0) != 1.0:
        raise InputError(f"darknet cfg line {s.line}: [upsample] stride={stride} with a scale")
    scales = graph.constant("scales", np.array([1, 1, stride, stride], np.float32))
    roi = graph.constant("roi", np.zeros(0, np.float32))
    # each output pixel copies input pixel floor(i / stride), as darknet's upsample does
    out = graph.node(
        "Resize",
        [x.name, roi, scales],
        "upsample",
        mode="nearest",
        coordinate_transformation_mode="asymmetric",
        nearest_mode="floor",
    )
    return Tensor(out, x.channels, x.height * stride, x.width * stride)


@dataclass
class YoloHead:
    """What a [yolo] section says about its grid: the anchors (network-input pixels) it uses."""

    anchors: np.ndarray  # [A, 2] width, height
    classes: int
    scale_xy: float
    new_coords: bool


def _yolo_head(s: Section, x: Tensor) -> YoloHead:
    classes = s.int("classes", minimum=1)
    values = s.ints("anchors")
    if len(values) % 2:
        raise InputError(f"darknet cfg line {s.line}: an odd number of anchor values")
    pairs = np.array(values, np.float32).reshape(-1, 2)
    mask = s.ints("mask", ",".join(str(i) for i in range(len(pairs))))
    if any(not 0 <= m < len(pairs) for m in mask):
        raise InputError(f"darknet cfg line {s.line}: mask {mask} outside {len(pairs)} anchors")
    if x.channels != len(mask) * (5 + classes):
        raise InputError(
            f"darknet cfg line {s.line}: [yolo] with {len(mask)} anchors and {classes} classes "
            f"needs {len(mask) * (5 + classes)} channels, the layer before gives {x.channels}"
        )
    return YoloHead(pairs[mask], classes, s.float("scale_x_y", 1.0), bool(s.int("new_coords", 0)))


def _decode_head(graph: _Graph, x: Tensor, head: YoloHead, input_hw: tuple[int, int]) -> str:
    """[B, A*(5+C), H, W] raw outputs -> [B, A*H*W, 5+C] boxes in input pixels, anchor-major
    (anchor, row, column) order."""
    anchors, channels = len(head.anchors), 5 + head.classes
    cells = x.height * x.width
    shape = graph.constant("shape", np.array([-1, anchors, channels, cells], np.int64))
    rows = graph.node("Reshape", [x.name, shape], "head")
    rows = graph.node("Transpose", [rows], "head", perm=[0, 1, 3, 2])
    flat = graph.constant("shape", np.array([-1, anchors * cells, channels], np.int64))
    rows = graph.node("Reshape", [rows, flat], "rows")

    def columns(begin: int, end: int) -> str:
        b = graph.constant("begin", np.array([begin], np.int64))
        e = graph.constant("end", np.array([end], np.int64))
        axis = graph.constant("axis", np.array([2], np.int64))
        return graph.node("Slice", [rows, b, e, axis], "columns")

    stride = np.array([input_hw[1] / x.width, input_hw[0] / x.height], np.float32)
    ys, xs = np.meshgrid(np.arange(x.height), np.arange(x.width), indexing="ij")
    grid = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)  # [cells, 2]
    grid = np.tile(grid, (anchors, 1))[None]
    anchor_wh = np.repeat(head.anchors, cells, axis=0)[None].astype(np.float32)
    txy, twh, scores = columns(0, 2), columns(2, 4), columns(4, channels)
    anchor_wh = graph.constant("anchors", anchor_wh)
    if head.new_coords:
        # Scaled-YOLOv4: the layer before already applied the logistic function;
        # wh = (2 t)^2 * anchor.
        xy = txy
        twice = graph.node("Mul", [twh, graph.constant("two", np.float32(2.0))], "wh")
        wh = graph.node("Mul", [graph.node("Mul", [twice, twice], "wh"), anchor_wh], "wh")
    else:
        xy = graph.node("Sigmoid", [txy], "xy")
        wh = graph.node("Mul", [graph.node("Exp", [twh], "wh"), anchor_wh], "wh")
        scores = graph.node("Sigmoid", [scores], "scores")
    # xy = (t * scale_x_y - (scale_x_y - 1) / 2 + cell) * stride
    xy = graph.node("Mul", [xy, graph.constant("scale_x_y", np.float32(head.scale_xy))], "xy")
    offset = (grid - 0.5 * (head.scale_xy - 1)).astype(np.float32)
    xy = graph.node("Add", [xy, graph.constant("grid", offset)], "xy")
    xy = graph.node("Mul", [xy, graph.constant("stride", stride[None, None])], "xy")
    return graph.node("Concat", [xy, wh, scores], "boxes", axis=2)


def darknet_to_onnx(
    cfg: str | Path,
    weights: str | Path,
    names: list[str] | str | Path | None = None,
    output: str | Path | None = None,
    *,
    input_size: tuple[int, int] | None = None,
):
    """The Darknet model ``cfg`` + ``weights`` as an ``onnx.ModelProto`` (written to ``output``
    where given).

    ``names`` is a list of class names or a ``.names`` file (one per line); without it the
    classes are called ``class0``, ``class1``, .... ``input_size`` (width, height, multiples of
    32) overrides the cfg's [net] size; the batch axis is dynamic."""
    try:
        import onnx
        from onnx import TensorProto, helper
    except ImportError as exc:
        from trtpipe.errors import BackendUnavailableError

        raise BackendUnavailableError(
            "darknet_to_onnx needs the onnx package: pip install 'trtpipe[onnx]'"
        ) from exc
    sections = read_cfg(cfg)
    reader = WeightsReader(weights)
    net = sections[0]
    width, height = input_size or (net.int("width", 416), net.int("height", 416))
    channels = net.int("channels", 3, minimum=1)
    if width % 32 or height % 32 or width <= 0 or height <= 0:
        raise InputError(f"darknet input size {width}x{height}: expected multiples of 32")

    graph = _Graph()
    x = Tensor(INPUT_NAME, channels, height, width)
    layers: list[Tensor] = []
    heads: list[str] = []
    classes: int | None = None
    rows = 0
    for index, s in enumerate(sections[1:]):
        if s.kind in ("convolutional", "conv"):
            x = _convolutional(graph, x, s, reader)
        elif s.kind in ("maxpool", "max"):
            x = _maxpool(graph, x, s)
        elif s.kind == "route":
            x = _route(graph, layers, index, s)
        elif s.kind == "shortcut":
            x = _shortcut(graph, layers, index, s)
        elif s.kind == "upsample":
            x = _upsample(graph, x, s)
        elif s.kind == "yolo":
            head = _yolo_head(s, x)
            if classes is not None and head.classes != classes:
                raise InputError(f"darknet cfg line {s.line}: heads disagree on classes")
            classes = head.classes
            heads.append(_decode_head(graph, x, head, (height, width)))
            rows += len(head.anchors) * x.height * x.width
        else:
            raise InputError(
                f"darknet cfg line {s.line}: layer [{s.kind}] (layer {index}) is not supported; "
                "supported: convolutional, maxpool, route, shortcut, upsample, yolo"
            )
        layers.append(x)
    reader.check_all_used()
    if not heads:
        raise InputError(f"darknet cfg {cfg}: no [yolo] layer, so no detections to output")

    labels = _class_names(names, classes)
    out = heads[0] if len(heads) == 1 else graph.node("Concat", heads, "detections", axis=1)
    graph.nodes.append(helper.make_node("Identity", [out], [OUTPUT_NAME], name=OUTPUT_NAME))
    model = helper.make_model(
        helper.make_graph(
            graph.nodes,
            Path(cfg).stem,
            [
                helper.make_tensor_value_info(
                    INPUT_NAME, TensorProto.FLOAT, ["batch", channels, height, width]
                )
            ],
            [
                helper.make_tensor_value_info(
                    OUTPUT_NAME, TensorProto.FLOAT, ["batch", rows, 5 + classes]
                )
            ],
            graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="trtpipe",
    )
    model.ir_version = 8  # readable by ONNX Runtime releases from 1.14 on
    helper.set_model_props(
        model,
        {
            "names": repr(dict(enumerate(labels))),
            "imgsz": repr([height, width]),
            "source": f"darknet {Path(cfg).name} + {Path(weights).name}",
        },
    )
    onnx.checker.check_model(model)
    if output is not None:
        output = Path(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(model, str(output))
        log.debug("wrote %s (%d classes, input %dx%d)", output, classes, width, height)
    return model


def _class_names(names: list[str] | str | Path | None, classes: int) -> list[str]:
    if names is None:
        return [f"class{i}" for i in range(classes)]
    if isinstance(names, (str, Path)):
        path = Path(names)
        if not path.is_file():
            raise FileNotFoundError(f"darknet names: {path} does not exist")
        names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(names) != classes:
        raise InputError(f"darknet names: {len(names)} names for a model of {classes} classes")
    return list(names)
