"""Build arguments of the wrong type or value: one InputError naming the field, before any build
starts (BuildArguments.resolve checks them before it looks for TensorRT)."""

from __future__ import annotations

import math
import re

import pytest

from trtpipe.backends.base import Profile
from trtpipe.build import BuildArguments, onnx_file
from trtpipe.errors import InputError


def _profile(low, mid, high, name="x"):
    return Profile(min={name: low}, opt={name: mid}, max={name: high})


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"profiles": 5},
            "profiles: expected 'MIN:OPT:MAX', (min, opt, max), a Profile or a "
            "list of Profiles, given 5",
        ),
        ({"workspace": "abc"}, "workspace: expected an int, given str 'abc'"),
        ({"workspace": 1.5}, "workspace: expected an int, given float 1.5"),
        ({"workspace": math.nan}, "workspace: expected an int, given float nan"),
        ({"workspace": True}, "workspace: expected an int, given bool True"),
        ({"workspace": 0}, "workspace: expected a positive byte count, given 0"),
        ({"shapes": {"x": "abc"}}, "shapes['x']: expected a sequence of ints, given 'abc'"),
        ({"shapes": {"x": 5}}, "shapes['x']: expected a sequence of ints, given 5"),
        (
            {"shapes": ["x"]},
            "shapes: expected a mapping of input name to dims, e.g. "
            "{'images': (-1, 3, 640, 640)}, given list ['x']",
        ),
        ({"shapes": {"x": (-1, 3, 16.5, 16)}}, "shapes['x']: expected an int, given float 16.5"),
        (
            {"shapes": {"x": (-1, 3, 0, 0)}},
            "shapes['x']: expected dims of -1 (batch) or >= 1, given (-1, 3, 0, 0)",
        ),
        (
            {"compute_capabilities": [8.6]},
            "compute_capabilities: expected strings such as ['8.6'], given [8.6]",
        ),
        (
            {"optimization": []},
            "optimization: expected one of ['fastest', 'balanced', 'highest-accuracy'], given []",
        ),
        (
            {"precision": ["fp16"]},
            "precision: expected one of ['fp32', 'fp16', 'int8'], given ['fp16']",
        ),
        ({"calibration": 5}, "calibration: expected a folder of images, given int 5"),
        (
            {"profiles": Profile(min={"x": (1, 3)}, opt={}, max={"x": (1, 3)})},
            "profiles[0].opt: expected the inputs of min ['x'], given []",
        ),
        (
            {"profiles": _profile((0, 3), (0, 3), (0, 3))},
            "profiles[0]['x']: expected 1 <= min <= opt <= max on axis 0, given (0, 3), (0, 3), "
            "(0, 3)",
        ),
        (
            {"profiles": _profile((8, 3), (4, 3), (1, 3))},
            "profiles[0]['x']: expected 1 <= min <= opt <= max on axis 0, given (8, 3), (4, 3), "
            "(1, 3)",
        ),
        (
            {"profiles": _profile((1, 3), (1, 3, 4), (1, 3))},
            "profiles[0]['x']: expected min, opt and max of one rank, given (1, 3), (1, 3, 4), "
            "(1, 3)",
        ),
        (
            {"profiles": _profile("1x3", "1x3", "1x3")},
            "profiles[0].min['x']: expected integer dims, given '1x3'",
        ),
    ],
)
def test_a_bad_argument_is_an_input_error_naming_the_field(arguments, message):
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        BuildArguments(**arguments).resolve()


def test_one_compute_capability_string_is_one_target():
    from trtpipe.build import _check_compute_capabilities

    assert _check_compute_capabilities("8.6") == ("8.6",)
    assert _check_compute_capabilities(["8.6", "SM89"]) == ("8.6", "SM89")
    assert _check_compute_capabilities(None) is None


@pytest.mark.parametrize("onnx", [None, 5])
def test_an_onnx_argument_that_is_not_a_path_is_an_input_error(onnx):
    with pytest.raises(InputError, match=r"^onnx: expected a file path, given "):
        onnx_file(onnx)
