"""Real engine builds from ONNX with the installed TensorRT flavour (RTX builds on a CPU)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from onnx_models import detector_model, write_conv_net
from trtpipe.backends.base import Profile
from trtpipe.build import OPTIMIZATION_LEVELS, build_engine, parse_batch
from trtpipe.engine_info import describe_engine, sidecar_path
from trtpipe.errors import BackendUnavailableError, InputError

trt_flavour = pytest.importorskip("trtpipe.tensorrt_flavour")


def _flavour():
    try:
        return trt_flavour.find_flavour()
    except BackendUnavailableError as exc:
        pytest.skip(str(exc))


pytestmark = pytest.mark.tensorrt


def test_parse_batch():
    assert parse_batch("1:4:8") == (1, 4, 8)
    assert parse_batch("2") == (2, 2, 2)
    for bad in ("0:1:2", "4:2:8", "1:2", "a:b:c", "1:2:3:4"):
        with pytest.raises(InputError, match="MIN:OPT:MAX"):
            parse_batch(bad)


def test_static_build_reads_back_its_io_table(tmp_path):
    _flavour()
    onnx_path = write_conv_net(tmp_path / "static.onnx", batch=2)
    out = tmp_path / "static.engine"
    built = build_engine(onnx_path, precision="fp32", output=out)
    assert out.read_bytes() == built.data and len(built.data) > 1000
    described = describe_engine(out)
    assert [(t.name, t.shape, t.dtype, t.is_input) for t in described.inputs] == [
        ("x", (2, 3, 16, 16), np.dtype(np.float32), True)
    ]
    assert [(t.name, t.shape) for t in described.outputs] == [("y", (2, 4, 16, 16))]
    assert described.profiles == []
    assert described.size == out.stat().st_size
    assert described.metadata.precision == "fp32"
    # The phases TensorRT reported to the progress monitor.
    assert "Building engine" in built.phases


def test_dynamic_batch_profile_reads_back(tmp_path):
    _flavour()
    onnx_path = write_conv_net(tmp_path / "dynamic.onnx", batch="N")
    out = tmp_path / "dynamic.engine"
    build_engine(onnx_path, profiles="1:4:8", output=out)
    described = describe_engine(out)
    assert described.inputs[0].shape == (-1, 3, 16, 16)
    assert described.profiles == [
        Profile(min={"x": (1, 3, 16, 16)}, opt={"x": (4, 3, 16, 16)}, max={"x": (8, 3, 16, 16)})
    ]
    recorded = json.loads(sidecar_path(out).read_text())
    assert recorded["options"]["batch"] == [1, 4, 8]
    assert recorded["precision"] == "fp16"


def test_explicit_profiles_and_two_of_them(tmp_path):
    _flavour()
    onnx_path = write_conv_net(tmp_path / "dynamic.onnx", batch="N")
    small = Profile(min={"x": (1, 3, 16, 16)}, opt={"x": (1, 3, 16, 16)}, max={"x": (2, 3, 16, 16)})
    large = Profile(
        min={"x": (4, 3, 16, 16)}, opt={"x": (8, 3, 16, 16)}, max={"x": (16, 3, 16, 16)}
    )
    out = tmp_path / "two.engine"
    build_engine(onnx_path, precision="fp32", profiles=[small, large], output=out)
    assert describe_engine(out).profiles == [small, large]


def test_fp16_engine_differs_from_fp32(tmp_path):
    _flavour()
    onnx_path = write_conv_net(tmp_path / "s.onnx")
    fp32 = build_engine(onnx_path, precision="fp32")
    fp16 = build_engine(onnx_path, precision="fp16")
    assert fp32.metadata.engine_sha256 != fp16.metadata.engine_sha256
    # Inputs and outputs keep float32 either way.
    assert fp16.metadata.inputs[0].dtype == np.float32


def test_optimisation_levels_build(tmp_path):
    _flavour()
    onnx_path = write_conv_net(tmp_path / "s.onnx")
    for name, level in OPTIMIZATION_LEVELS.items():
        built = build_engine(onnx_path, optimization=name)
        assert built.metadata.precision == level.precision
        assert built.metadata.options["optimization"] == name
    assert OPTIMIZATION_LEVELS["highest-accuracy"].precision == "fp32"
    with pytest.raises(InputError, match="optimization"):
        build_engine(onnx_path, optimization="max")


def test_bad_build_arguments(tmp_path):
    _flavour()
    static = write_conv_net(tmp_path / "s.onnx")
    with pytest.raises(InputError, match="static input shapes"):
        build_engine(static, profiles="1:4:8")
    with pytest.raises(InputError, match="precision"):
        build_engine(static, precision="int4")
    with pytest.raises(InputError, match="existing ONNX"):
        build_engine(tmp_path / "absent.onnx")
    with pytest.raises(InputError, match="folder of images"):
        build_engine(static, precision="int8", calibration=tmp_path / "nowhere")


def test_int8_without_calibrator_says_what_to_do(tmp_path):
    flavour = _flavour()
    if flavour.has_int8_calibration:
        pytest.skip(f"{flavour.tag} calibrates INT8 itself")
    images = tmp_path / "images"
    images.mkdir()
    with pytest.raises(BackendUnavailableError, match="Q/DQ"):
        build_engine(write_conv_net(tmp_path / "s.onnx"), precision="int8", calibration=images)


def test_timing_cache_is_written_and_reused(tmp_path):
    _flavour()
    onnx_path = write_conv_net(tmp_path / "s.onnx")
    cache = tmp_path / "timing.cache"
    build_engine(onnx_path, timing_cache=cache)
    assert cache.is_file() and cache.stat().st_size > 0
    build_engine(onnx_path, timing_cache=cache)  # reads it back without complaint
    cache.write_bytes(b"garbage")
    build_engine(onnx_path, timing_cache=cache)  # a corrupt cache is replaced, not fatal


def test_detector_model_builds_with_dynamic_batch(tmp_path):
    flavour = _flavour()
    path = detector_model()
    if path is None:
        pytest.skip("nudenet (which ships the YOLOv8n detector model) is not installed")
    with pytest.raises(InputError, match="axis 2 is dynamic"):
        build_engine(path, profiles="1:2:4")
    out = tmp_path / "yolov8n.engine"
    built = build_engine(path, profiles="1:2:4", shapes={"images": (-1, 3, 320, 320)}, output=out)
    described = describe_engine(out)
    assert [t.name for t in described.inputs] == ["images"]
    assert [t.name for t in described.outputs] == ["output0"]
    assert described.outputs[0].shape[:2] == (-1, 22)
    assert described.profiles[0].max == {"images": (4, 3, 320, 320)}
    # fp16 on a strongly typed flavour halves the weights: the engine is smaller than the model.
    if flavour.strongly_typed:
        assert len(built.data) < path.stat().st_size
