"""The Darknet importer against a second implementation (tests/darknet_reference.py, numpy
layer by layer) on small random models that use every supported layer, against OpenCV 4's
Darknet reader on the real YOLOv4-tiny, and its errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from trtpipe.errors import InputError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from darknet_reference import forward, write_weights  # noqa: E402
from trtpipe.darknet import darknet_to_onnx, read_cfg  # noqa: E402

# Every supported layer: mish/leaky/swish/relu/linear, grouped convolution, stride-2 and
# stride-1 max pools (darknet pads those on the bottom/right), an SPP-sized pool, route with
# groups and concatenation, shortcut, upsample and two [yolo] heads with scale_x_y.
EVERY_LAYER = """
[net]
width=64
height=64
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=mish

[maxpool]
size=2
stride=2

[convolutional]
batch_normalize=1
filters=16
size=3
stride=1
pad=1
activation=leaky

[route]
layers=-1
groups=2
group_id=1

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
groups=2
activation=swish

[shortcut]
from=-2
activation=linear

[route]
layers=-1,2

[maxpool]
size=2
stride=1

[convolutional]
filters=32
size=3
stride=2
pad=1
activation=relu

[maxpool]
size=5
stride=1

[convolutional]
size=1
stride=1
pad=1
filters=27
activation=linear

[yolo]
mask=3,4,5
anchors=10,14, 23,27, 37,58, 81,82, 135,169, 344,319
classes=4
num=6
scale_x_y=1.05

[route]
layers=-4

[upsample]
stride=2

[route]
layers=-1,6

[convolutional]
size=1
stride=1
pad=1
filters=18
activation=linear

[yolo]
mask=0,1
anchors=10,14, 23,27, 37,58, 81,82, 135,169, 344,319
classes=4
num=6
"""

# Scaled-YOLOv4's head: the logistic function in the convolution, new_coords=1.
NEW_COORDS = """
[net]
width=32
height=64
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=mish

[convolutional]
size=1
stride=1
filters=14
activation=logistic

[yolo]
mask=0,1
anchors=12,16, 19,36
classes=2
num=2
scale_x_y=2.0
new_coords=1
"""


def _model(tmp_path: Path, text: str, seed: int = 0, extra: int = 0) -> tuple[Path, Path]:
    cfg = tmp_path / "model.cfg"
    cfg.write_text(textwrap.dedent(text))
    weights = tmp_path / "model.weights"
    write_weights(weights, cfg, np.random.default_rng(seed), extra=extra)
    return cfg, weights


def _run(path: Path, image: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"images": image})[0]


@pytest.mark.parametrize(
    ("text", "rows"), [(EVERY_LAYER, 3 * 16 * 16 + 2 * 32 * 32), (NEW_COORDS, 2 * 16 * 32)]
)
def test_the_onnx_equals_the_layer_by_layer_reference(tmp_path, text, rows):
    cfg, weights = _model(tmp_path, text)
    out = tmp_path / "model.onnx"
    darknet_to_onnx(cfg, weights, output=out)
    net = read_cfg(cfg)[0]
    shape = (3, net.int("height"), net.int("width"))
    images = np.random.default_rng(1).uniform(0, 1, (2, *shape)).astype(np.float32)
    got = _run(out, images)  # a batch of two: the batch axis is dynamic
    assert got.shape[:2] == (2, rows)
    for image, rows_got in zip(images, got, strict=True):
        want = forward(cfg, weights, image)
        np.testing.assert_allclose(rows_got, want, rtol=1e-4, atol=1e-4)


def test_class_names_and_input_size_are_in_the_metadata(tmp_path):
    from trtpipe.model_metadata import class_names, image_size, onnx_metadata

    cfg, weights = _model(tmp_path, EVERY_LAYER)
    names = tmp_path / "four.names"
    names.write_text("person\nbicycle\ncar\nmotorbike\n")
    out = tmp_path / "model.onnx"
    darknet_to_onnx(cfg, weights, names, out, input_size=(96, 64))
    metadata = onnx_metadata(out)
    assert class_names(metadata) == ["person", "bicycle", "car", "motorbike"]
    assert image_size(metadata) == (96, 64)
    got = _run(out, np.zeros((1, 3, 64, 96), np.float32))
    assert got.shape == (1, 3 * 16 * 24 + 2 * 32 * 48, 9)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("[upsample]", "[reorg]"), r"line \d+: layer \[reorg\] \(layer 13\)"),
        (lambda t: t.replace("activation=mish", "activation=gelu"), "activation=gelu"),
        (lambda t: t.replace("filters=27", "filters=26"), "needs 27 channels"),
        (lambda t: t.replace("layers=-1,6", "layers=-1,60"), "refers to layer 60"),
        (lambda t: t.replace("[net]", "[convolutional]", 1), r"first section must be \[net\]"),
        (lambda t: t.replace("filters=8\nsize=3", "filters=x\nsize=3", 1), "filters=x is not"),
    ],
)
def test_a_cfg_it_cannot_import_is_a_clear_error(tmp_path, edit, message):
    cfg, weights = _model(tmp_path, EVERY_LAYER)
    cfg.write_text(edit(cfg.read_text()))
    with pytest.raises(InputError, match=message):
        darknet_to_onnx(cfg, weights)


def test_weights_that_do_not_fit_the_cfg_are_a_clear_error(tmp_path):
    cfg, weights = _model(tmp_path, EVERY_LAYER, extra=5)
    with pytest.raises(InputError, match="5 values left after the last layer"):
        darknet_to_onnx(cfg, weights)
    data = weights.read_bytes()
    weights.write_bytes(data[: 20 + 4 * ((len(data) - 20) // 8)])
    with pytest.raises(InputError, match=r"ends at the \[convolutional\] at cfg line \d+"):
        darknet_to_onnx(cfg, weights)
    weights.write_bytes(b"person\nbicycle\ncar\nmotorbike\n" * 40)
    with pytest.raises(InputError, match=r"not a \.weights file"):
        darknet_to_onnx(cfg, weights)
    weights.write_bytes(data[:10])
    with pytest.raises(InputError, match="too short for a header"):
        darknet_to_onnx(cfg, weights)


def test_missing_files_and_wrong_names_are_clear_errors(tmp_path):
    cfg, weights = _model(tmp_path, EVERY_LAYER)
    with pytest.raises(FileNotFoundError, match=r"nope\.cfg"):
        darknet_to_onnx(tmp_path / "nope.cfg", weights)
    with pytest.raises(FileNotFoundError, match=r"nope\.weights"):
        darknet_to_onnx(cfg, tmp_path / "nope.weights")
    with pytest.raises(InputError, match="3 names for a model of 4 classes"):
        darknet_to_onnx(cfg, weights, ["a", "b", "c"])
    with pytest.raises(InputError, match="multiples of 32"):
        darknet_to_onnx(cfg, weights, input_size=(100, 64))


# OpenCV 4.14's Darknet reader (cv2.dnn.readNetFromDarknet, the backend's CPU target) on the
# original yolov4-tiny files: blobFromImage(image, 1/255, (416, 416), swapRB=True), the row of
# the highest class score: name, score, box x1, y1, x2, y2 in image pixels.
OPENCV_TOP_DETECTION = {
    "astronaut": ("person", 0.8820, (28.9, -33.2, 401.6, 469.5)),
    "coffee": ("cup", 0.7465, (168.7, 11.9, 409.6, 263.9)),
    "chelsea": ("cat", 0.3676, (19.7, -17.9, 430.6, 269.9)),
}


def test_yolov4_tiny_gives_opencvs_detections_on_real_photos():
    cv2 = pytest.importorskip("cv2")
    pytest.importorskip("skimage")
    from onnx_models import coco_model
    from trtpipe.model_metadata import class_names, onnx_metadata
    from trtpipe.samples import sample_images

    yolov4_tiny = coco_model()
    names = class_names(onnx_metadata(yolov4_tiny))
    images = dict(sample_images())
    session = ort.InferenceSession(str(yolov4_tiny), providers=["CPUExecutionProvider"])
    for name, (label, score, box) in OPENCV_TOP_DETECTION.items():
        image = images[name]
        h, w = image.shape[:2]
        rgb = cv2.resize(image, (416, 416), interpolation=cv2.INTER_LINEAR)[..., ::-1]
        blob = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], np.float32) / 255
        rows = session.run(None, {"images": blob})[0][0]
        scores = rows[:, 5:] * rows[:, 4:5]
        best, cls = np.unravel_index(np.argmax(scores), scores.shape)
        cx, cy, bw, bh = rows[best, :4] / 416 * np.array([w, h, w, h])
        got = (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)
        assert names[cls] == label, name
        assert scores[best, cls] == pytest.approx(score, abs=0.01), name
        np.testing.assert_allclose(got, box, atol=1.0, err_msg=name)


def test_the_import_command_writes_the_onnx_and_never_overwrites(tmp_path, capsys, caplog):
    from trtpipe.cli import main
    from trtpipe.model_metadata import class_names, onnx_metadata

    cfg, weights = _model(tmp_path, EVERY_LAYER)
    names = tmp_path / "four.names"
    names.write_text("a\nb\nc\nd\n")
    out = tmp_path / "out.onnx"
    args = ["import", "darknet", str(cfg), str(weights), "--names", str(names), "-o", str(out)]
    assert main(args) == 0
    assert "classes    4: a, b, c, d" in capsys.readouterr().out
    assert class_names(onnx_metadata(out)) == ["a", "b", "c", "d"]
    before = out.read_bytes()
    assert main(args) == 2  # exists: one error line, the file untouched
    assert out.read_bytes() == before
    assert main([*args, "--force", "--input-size", "96x64"]) == 0
    assert main([*args, "--force", "--input-size", "96"]) == 2
    assert main(["import", "darknet", str(cfg), str(tmp_path / "x.weights"), "-o", "y.onnx"]) == 2
    assert "x.weights does not exist" in caplog.text


# Layers 0..4: convolutional (batch norm), maxpool, route (second half of the channels),
# convolutional, yolo.
TINY = """\
[net]
width=32
height=32
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[route]
layers=-1
groups=2
group_id=1

[convolutional]
size=1
stride=1
filters=14
activation=linear

[yolo]
mask=0,1
anchors=12,16, 19,36
classes=2
num=2
"""
# .weights layout: a 20-byte header, then the first layer's beta, gamma, mean and variance
# (8 float32 each) and its kernel.
VARIANCE_OFFSET = 20 + 3 * 8 * 4


def _line(text: str, header: str) -> int:
    """The cfg line (from 1) of the first section ``header``."""
    return text.splitlines().index(header) + 1


def test_the_tiny_model_equals_the_reference(tmp_path):
    cfg, weights = _model(tmp_path, TINY)
    out = tmp_path / "model.onnx"
    darknet_to_onnx(cfg, weights, output=out)
    image = np.random.default_rng(1).uniform(0, 1, (3, 32, 32)).astype(np.float32)
    got = _run(out, image[None])[0]
    assert got.shape == (2 * 16 * 16, 7)
    np.testing.assert_allclose(got, forward(cfg, weights, image), rtol=1e-4, atol=1e-4)


CONV, POOL, ROUTE, YOLO = "[convolutional]", "[maxpool]", "[route]", "[yolo]"
AT_LEAST_1 = "expected an integer >= 1, given"


@pytest.mark.parametrize(
    ("old", "new", "header", "message"),
    [
        ("stride=1\npad", "stride=0\npad", CONV, f"layer 0 {CONV}: stride: {AT_LEAST_1} 0"),
        ("filters=8", "filters=8\ngroups=0", CONV, f"layer 0 {CONV}: groups: {AT_LEAST_1} 0"),
        ("size=3", "size=-3", CONV, f"layer 0 {CONV}: size: {AT_LEAST_1} -3"),
        ("size=2\nstride=2", "size=0", POOL, f"layer 1 {POOL}: size: {AT_LEAST_1} 0"),
        ("size=2\nstride=2", "size=2\nstride=0", POOL, f"layer 1 {POOL}: stride: {AT_LEAST_1} 0"),
        ("groups=2\ngroup_id=1", "groups=0", ROUTE, f"layer 2 {ROUTE}: groups: {AT_LEAST_1} 0"),
        (
            "group_id=1",
            "group_id=2",
            ROUTE,
            f"layer 2 {ROUTE}: group_id: expected below groups=2, given 2",
        ),
        ("classes=2", "classes=-1", YOLO, f"layer 4 {YOLO}: classes: {AT_LEAST_1} -1"),
        ("classes=2", "classes=0", YOLO, f"layer 4 {YOLO}: classes: {AT_LEAST_1} 0"),
        (
            "activation=leaky",
            "activation=leaky\nbinary=1",
            CONV,
            f"layer 0 {CONV}: binary: expected 0 (binary=1 is not supported), given 1",
        ),
        (
            "activation=leaky",
            "activation=leaky\nxnor=1",
            CONV,
            f"layer 0 {CONV}: xnor: expected 0 (xnor=1 is not supported), given 1",
        ),
        (
            "[convolutional]\nbatch",
            "[shortcut]\nfrom=-1\n\n[convolutional]\nbatch",
            "[shortcut]",
            "layer 0 [shortcut]: expected a layer before a [shortcut], given none",
        ),
        ("channels=3", "channels=0", "[net]", f"[net]: channels: {AT_LEAST_1} 0"),
    ],
)
def test_a_cfg_value_that_makes_no_model_names_the_layer_and_key(
    tmp_path, old, new, header, message
):
    cfg, weights = _model(tmp_path, TINY)  # weights of the valid cfg: only the cfg is wrong
    text = TINY.replace(old, new, 1)
    cfg.write_text(text)
    with pytest.raises(InputError) as caught:
        darknet_to_onnx(cfg, weights)
    assert str(caught.value) == f"darknet cfg line {_line(text, header)}: {message}"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_weight_that_is_not_finite_is_refused_naming_the_layer(tmp_path, bad):
    cfg, weights = _model(tmp_path, TINY)
    data = bytearray(weights.read_bytes())
    # the first value of the second convolutional (layer 3): its bias
    first_conv = 4 * 8 + 8 * 3 * 3 * 3
    at = 20 + 4 * first_conv
    data[at : at + 4] = np.float32(bad).tobytes()
    weights.write_bytes(bytes(data))
    with pytest.raises(InputError) as caught:
        darknet_to_onnx(cfg, weights, output=tmp_path / "model.onnx")
    assert str(caught.value) == (
        f"darknet weights {weights}: the [convolutional] at cfg line {_line(TINY, '[route]') + 5} "
        f"(layer 3): expected finite values, given {np.float32(bad)} (value {first_conv} after "
        "the header)"
    )
    assert not (tmp_path / "model.onnx").exists()


def test_a_negative_batch_norm_variance_is_refused_and_zero_is_kept(tmp_path):
    cfg, weights = _model(tmp_path, TINY)
    data = bytearray(weights.read_bytes())
    at = VARIANCE_OFFSET + 4 * 3  # filter 3
    data[at : at + 4] = np.float32(-0.5).tobytes()
    weights.write_bytes(bytes(data))
    with pytest.raises(InputError) as caught:
        darknet_to_onnx(cfg, weights)
    assert str(caught.value) == (
        f"darknet weights {weights}: the [convolutional] at cfg line 6 (layer 0): batch-norm "
        "variance of filter 3: expected >= 0, given -0.5"
    )
    # a variance of 0 (a constant channel) is valid: darknet divides by sqrt(0 + 1e-5)
    data[at : at + 4] = np.float32(0).tobytes()
    weights.write_bytes(bytes(data))
    out = tmp_path / "model.onnx"
    darknet_to_onnx(cfg, weights, output=out)
    image = np.random.default_rng(2).uniform(0, 1, (3, 32, 32)).astype(np.float32)
    got = _run(out, image[None])[0]
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, forward(cfg, weights, image), rtol=1e-4, atol=1e-4)
