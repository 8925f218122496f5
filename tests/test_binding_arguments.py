"""_core's bindings refuse bad arguments with InputError naming the argument: views whose fields
contradict the NumPy array they name (they crashed the process), host memory given as a bare
address, and values of the wrong type (pybind11 answered those with a TypeError listing every
signature).

The calls that crashed run in a child process, so a regression fails the test instead of ending
the test run."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import trtpipe
from trtpipe import _core
from trtpipe.decode.detections import Detections
from trtpipe.errors import InputError
from trtpipe.memory import HostPool
from trtpipe.preprocess import Preprocessor, letterbox_params
from trtpipe.rgbd import DepthLifter, DepthRule, Intrinsics, locate_depth

# --- views that contradict their array, in a child process ------------------------------------

_CHILD_SETUP = """
import numpy as np
from trtpipe import _core
from trtpipe.decode.detections import Detections
from trtpipe.errors import InputError
from trtpipe.preprocess import Preprocessor
from trtpipe.rgbd import DepthRule, locate_depth

pre = Preprocessor(size=(64, 64), device="cpu")
pre16 = Preprocessor(size=(64, 64), dtype="float16", device="cpu")
opts = _core.PreprocessOptions(
    64, 64, "NCHW", "float32", "RGB", "letterbox", "bilinear", 114.0, 1 / 255, [0.0] * 3, [1.0] * 3
)
img = np.zeros((48, 64, 3), np.uint8)
frame = (img, img.nbytes, 64, 48, 192, "bgr8", False, 0)
prepared = pre.prepare_output(pre.empty())
prepared16 = pre16.prepare_output(pre16.empty())
depth, _keep = locate_depth(np.full((48, 64), 1000, np.uint16))
boxes = np.array([[10, 10, 50, 40]], np.float32)


def lift(view, runner=None):
    return _core.depth.lift_boxes(
        boxes, (64, 48), view, 0.0, [50.0, 50.0, 32.0, 24.0], DepthRule(), runner
    )
"""

_CHILD_CALL = """
try:
{call}
except InputError as exc:
    print("InputError: " + str(exc), flush=True)
else:
    print("no error", flush=True)
"""

# (the call, the start of the InputError's message)
CONTRADICTING_VIEWS = {
    "output shape past the array": (
        "pre(img, prepared._replace(shape=[100, 3, 64, 64]), batch_index=50)",
        "out: expected shape and strides within the array it names",
    ),
    "output strides past the array": (
        "pre(img, prepared._replace(strides=[49152, 16384, 512, 8]))",
        "out: expected shape and strides within the array it names",
    ),
    "output array smaller than the view": (
        "pre(img, prepared._replace(address=np.zeros(4, np.float32)))",
        "out: expected shape and strides within the array it names",
    ),
    "output dtype other than the array's": (
        "pre16(img, prepared16._replace(address=np.zeros((1, 3, 64, 64), np.uint8)))",
        "dtype: expected 'uint8' (the dtype of the array out names), given 'float16'",
    ),
    "output strides of fewer axes": (
        "pre(img, prepared._replace(strides=[4, 4]))",
        "strides: expected one per axis of shape (1, 3, 64, 64), given (4, 4)",
    ),
    "output address replaced by an int": (
        "pre(img, prepared._replace(address=16))",
        "out: expected a NumPy array for host memory",
    ),
    "output address replaced by an int, reference": (
        "_core.preprocess_cpu_reference(opts, frame, prepared._replace(address=16), 0)",
        "out: expected a NumPy array for host memory",
    ),
    "output array said to be GPU memory": (
        "_core.CpuPreprocessor(opts, 1).run(frame, prepared._replace(on_device=True), 0)",
        "on_device: expected False for a NumPy array (host memory), given True",
    ),
    "frame size past the array": (
        "_core.CpuPreprocessor(opts, 1).run((img, 10**9, 64, 30000, 192, 'bgr8', False, 0),"
        " prepared, 0)",
        "size: expected at most 9216 bytes",
    ),
    "frame size past the array, reference": (
        "_core.preprocess_cpu_reference(opts, (img, 9217, 64, 48, 192, 'bgr8', False, 0),"
        " prepared, 0)",
        "size: expected at most 9216 bytes",
    ),
    "frame address as an int": (
        "_core.CpuPreprocessor(opts, 1).run((img.ctypes.data, *frame[1:]), prepared, 0)",
        "frame: expected a NumPy array for host memory",
    ),
    "depth size past the array": (
        "lift(depth._replace(size=10**9, height=30000))",
        "size: expected at most 6144 bytes",
    ),
    "depth size past the array, CPU runner": (
        "lift(depth._replace(size=10**9, height=30000), _core.depth.CpuBoxDepths(2))",
        "size: expected at most 6144 bytes",
    ),
    "depth address as an int": (
        "lift(depth._replace(address=depth.address.ctypes.data, size=10**9, height=30000))",
        "depth: expected a NumPy array for host memory",
    ),
    "depth array said to be GPU memory": (
        "lift(depth._replace(on_device=True))",
        "on_device: expected False for a NumPy array (host memory), given True",
    ),
}


def _child_env() -> dict[str, str]:
    # The child imports the trtpipe under test, wherever this process found it.
    site = str(Path(trtpipe.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (site, env.get("PYTHONPATH")) if p)
    return env


@pytest.mark.parametrize("case", sorted(CONTRADICTING_VIEWS))
def test_a_view_contradicting_its_array_raises_input_error_in_a_child(case):
    call, message = CONTRADICTING_VIEWS[case]
    code = _CHILD_SETUP + _CHILD_CALL.format(call=textwrap.indent(call, "    "))
    child = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=_child_env()
    )
    assert child.returncode == 0, f"{case}: exit status {child.returncode}: {child.stderr[-500:]}"
    assert child.stdout.strip().startswith("InputError: " + message), child.stdout


def test_views_that_match_their_arrays_are_taken():
    pre = Preprocessor(size=(64, 64), device="cpu")
    img = np.full((48, 64, 3), 100, np.uint8)
    out = pre.empty(2)
    prepared = pre.prepare_output(out)
    pre(img, prepared, batch_index=1)
    assert np.isfinite(out[1]).all() and out[1].max() > 0
    # a view of the first slot only, C-contiguous strides left out: inside the array
    pre(img, prepared._replace(shape=[1, 3, 64, 64], strides=[]))
    np.testing.assert_array_equal(out[0], out[1])
    depth, keep = locate_depth(np.full((48, 80), 1000, np.uint16)[:, :64])  # padded rows
    placed = _core.depth.lift_boxes(
        np.array([[10, 10, 50, 40]], np.float32),
        (64, 48),
        depth,
        0.0,
        [50.0, 50.0, 32.0, 24.0],
        DepthRule(),
        None,
    )
    assert placed["valid"].tolist() == [True]
    del keep


# --- arguments of the wrong type --------------------------------------------------------------


def _options(**change: object) -> object:
    args: dict[str, object] = {
        "dst_w": 16,
        "dst_h": 16,
        "layout": "NCHW",
        "dtype": "float32",
        "channel_order": "RGB",
        "resize": "letterbox",
        "interpolation": "bilinear",
        "pad_value": 114.0,
        "scale": 1 / 255,
        "mean": [0.0] * 3,
        "std": [1.0] * 3,
    } | change
    return _core.PreprocessOptions(*args.values())


def _lift(**change: object) -> dict:
    depth, _ = locate_depth(np.full((48, 64), 1000, np.uint16))
    args: dict[str, object] = {
        "boxes": np.array([[10, 10, 50, 40]], np.float32),
        "colour_size": (64, 48),
        "depth": depth,
        "depth_scale": 0.0,
        "intrinsics": [50.0, 50.0, 32.0, 24.0],
        "rule": DepthRule(),
        "runner": None,
        "extrinsic": None,
        "colour_intrinsics": None,
    } | change
    return _core.depth.lift_boxes(*args.values())


_DEPTH = np.full((48, 64), 1000, np.uint16)
_DETECTIONS = Detections.from_arrays([[10, 10, 50, 40]], [0.9], [0])
_K = Intrinsics(50.0, 50.0, 32.0, 24.0)

# (the field the message names, the call)
WRONG_TYPES = {
    "layout": lambda: Preprocessor(layout=5, device="cpu"),
    "channel_order": lambda: Preprocessor(channel_order=1, device="cpu"),
    "resize": lambda: _options(resize=None),
    "interpolation": lambda: _options(interpolation=3),
    "dtype": lambda: _options(dtype=b"float32"),
    "pad_value": lambda: _options(pad_value="x"),
    "scale": lambda: _options(scale=None),
    "mean": lambda: _options(mean=0.5),
    "std[1]": lambda: _options(std=[1.0, "1", 1.0]),
    "mode": lambda: _core.letterbox_params(640, 480, 416, 416, 5),
    "mode ": lambda: letterbox_params(640, 480, 416, 416, mode=5),
    "encoding": lambda: _core.frame_problem(5, 4, 4, 0, 48),
    "encoding ": lambda: _core.depth.depth_problem(None, 4, 4, 0, 32),
    "encoding  ": lambda: _core.depth.metres_per_unit(5),
    "inner": lambda: DepthRule(inner="a"),
    "tolerance": lambda: DepthRule(tolerance=None),
    "far_quantile": lambda: DepthRule(far_quantile=True),
    "min_pixels": lambda: DepthRule(min_pixels=1.5),
    "DepthRule": lambda: DepthRule(0.5),
    "bogus": lambda: DepthRule(bogus=1),
    "fx": lambda: Intrinsics("a", 500, 320, 240),
    "fy": lambda: Intrinsics(500, None, 320, 240),
    "cx": lambda: Intrinsics(500, 500, float("nan"), 240),
    "cy": lambda: Intrinsics(500, 500, 320, np.inf),
    "k": lambda: Intrinsics.from_k(["a"] * 9),
    "extrinsic": lambda: DepthLifter()(
        _DETECTIONS, (64, 48), _DEPTH, _K, extrinsic="eye", colour_intrinsics=_K
    ),
    "colour_size": lambda: DepthLifter()(_DETECTIONS, 64, _DEPTH, _K),
    "intrinsics[0]": lambda: _lift(intrinsics=["a", 50.0, 32.0, 24.0]),
    "intrinsics": lambda: _lift(intrinsics="abcd"),
    "depth_scale": lambda: _lift(depth_scale="x"),
    "rule": lambda: _lift(rule=5),
    "runner": lambda: _lift(runner=5),
    "extrinsic ": lambda: _lift(extrinsic="eye", colour_intrinsics=[50.0, 50.0, 32.0, 24.0]),
    "colour_intrinsics[3]": lambda: _lift(
        extrinsic=np.eye(4).reshape(-1).tolist(), colour_intrinsics=[50.0, 50.0, 32.0, None]
    ),
    "typestr": lambda: HostPool(1024).allocate_array(16, [4], 5, "f", 4, 2, None),
    "format": lambda: HostPool(1024).allocate_array(16, [4], "<f4", None, 4, 2, None),
    "host_input": lambda: _core.GpuPreprocessor(_options(), 5, 0, None, None),
}


@pytest.mark.parametrize("field", sorted(WRONG_TYPES), ids=str.strip)
def test_an_argument_of_the_wrong_type_raises_input_error_naming_it(field):
    with pytest.raises(InputError, match=rf"^{re.escape(field.strip())}: "):
        WRONG_TYPES[field]()


def test_messages_say_what_was_expected_and_given():
    with pytest.raises(InputError, match=r"^layout: expected a str, given int 5$"):
        _options(layout=5)
    with pytest.raises(InputError, match=r"^inner: expected a real number, given str 'a'$"):
        DepthRule(inner="a")
    with pytest.raises(InputError, match=r"^DepthRule: expected keyword arguments .*given 1 "):
        DepthRule(0.5)
    with pytest.raises(InputError, match=r"^fx: expected a finite real number, given str 'a'$"):
        Intrinsics("a", 500, 320, 240)
    with pytest.raises(InputError, match=r"^typestr: expected a str, given int 5$"):
        HostPool(1024).allocate_array(16, [4], 5, "f", 4, 2, None)
    with pytest.raises(InputError, match=r"^inner: expected a real number within float32 range"):
        DepthRule(inner=1e300)


NOT_INTS = [10.7, "10", np.float32(10.7), True, None]
TOO_BIG = [2**40, -(2**40), 2**70]
INT_FIELDS = {
    "min_pixels": lambda v: DepthRule(min_pixels=v),
    "threads": lambda v: _core.depth.CpuBoxDepths(v),
    "colour_size[0]": lambda v: _lift(colour_size=(v, 48)),
    "src_h": lambda v: _core.letterbox_params(640, v, 416, 416, "letterbox"),
}


@pytest.mark.parametrize("value", NOT_INTS + TOO_BIG, ids=repr)
@pytest.mark.parametrize("field", sorted(INT_FIELDS))
def test_a_non_int_or_out_of_range_size_raises_input_error_naming_it(field, value):
    with pytest.raises(InputError, match=rf"^{re.escape(field)}: expected"):
        INT_FIELDS[field](value)


def test_numbers_of_any_real_type_are_accepted():
    rule = DepthRule(inner=np.float32(0.25), tolerance=1, max_depth=np.float64(5), min_pixels=3)
    assert (rule.inner, rule.tolerance, rule.max_depth, rule.min_pixels) == (0.25, 1.0, 5.0, 3)
    assert DepthRule(min_pixels=np.int64(4)).min_pixels == 4
    assert math.isinf(DepthRule().max_depth)  # inf stays a real number where the rule takes it
    k = Intrinsics(np.float32(500), 500, np.int64(320), 240.5)
    assert k.as_tuple() == (500.0, 500.0, 320.0, 240.5)
    assert all(type(v) is float for v in k.as_tuple())
    assert _options(pad_value=np.float32(114), scale=1, mean=(0, 0, 0)).dst_w == 16
    assert _lift(depth_scale=np.float32(0.001), intrinsics=(50, 50, 32, 24))["valid"].all()
    buf = HostPool(1024).allocate_array(16, [4], "<f4", "f", 4, 2, None)
    assert buf.typestr == "<f4" and buf.nbytes == 16
    assert DepthLifter()(_DETECTIONS, [64, 48], _DEPTH, _K).valid.tolist() == [True]
