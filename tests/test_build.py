"""Real engine builds from ONNX with the installed TensorRT flavour (RTX builds on a CPU)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from onnx_models import conv_net_reference, detector_model, write_conv_net
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
    if described.source == "sidecar":
        assert "found in the plan: 2 of 2" in " ".join(described.notes)
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


def _calibration_images(folder, count: int, size: int):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        np.save(folder / f"frame{i}.npy", rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    return folder


def test_int8_without_images_or_qdq_says_what_to_do(tmp_path):
    flavour = _flavour()
    if not flavour.strongly_typed:
        pytest.skip(f"{flavour.tag} calibrates INT8 itself")
    with pytest.raises(BackendUnavailableError, match="Q/DQ"):
        build_engine(write_conv_net(tmp_path / "s.onnx"), precision="int8")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="image files"):
        build_engine(write_conv_net(tmp_path / "s.onnx"), precision="int8", calibration=empty)


def test_int8_by_entropy_calibration_builds_and_stays_close(tmp_path, monkeypatch):
    flavour = _flavour()
    if not flavour.strongly_typed:
        pytest.skip("full TensorRT calibrates on the GPU (IInt8EntropyCalibrator2)")
    monkeypatch.setenv("TRTPIPE_CACHE_DIR", str(tmp_path / "cache"))
    images = _calibration_images(tmp_path / "images", 8, 24)
    model = write_conv_net(tmp_path / "s.onnx", batch="N")
    built = build_engine(model, precision="int8", calibration=images, profiles="1:2:4")
    assert built.metadata.precision == "int8"
    (calibrated,) = (tmp_path / "cache" / "calibration").glob("int8-*.onnx")
    import onnx

    ops = {n.op_type for n in onnx.load(str(calibrated)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    # The quantized model (what the engine was built from) stays close to FP32. ORT runs its Q/DQ
    # nodes as written (graph optimisations off), as TensorRT reads them; its fused int8 CPU
    # kernels would add their own rounding.
    import onnxruntime

    from trtpipe.backends.onnxruntime import OnnxRuntimeEngine
    from trtpipe.validate import compare_outputs

    plain = onnxruntime.SessionOptions()
    plain.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    x = {"x": np.random.default_rng(1).random((2, 3, 16, 16), dtype=np.float32)}
    (error,) = compare_outputs(
        OnnxRuntimeEngine(model, device="cpu").infer(x),
        OnnxRuntimeEngine(calibrated, device="cpu", session_options=plain).infer(x),
    )
    assert 0 < error.relative < 0.08
    assert 0 < error.mean_abs < 0.01 * float(np.abs(conv_net_reference(x["x"])).max())
    # Same model and images: the calibrated model is reused, and the engine is the same.
    again = build_engine(model, precision="int8", calibration=images, profiles="1:2:4")
    assert (
        calibrated.stat().st_mtime_ns
        == next((tmp_path / "cache" / "calibration").glob("int8-*.onnx")).stat().st_mtime_ns
    )
    assert again.metadata.options == built.metadata.options
    # New images: a new calibration, and a new cache key.
    np.save(images / "frame_extra.npy", np.zeros((24, 24, 3), np.uint8))
    changed = build_engine(model, precision="int8", calibration=images, profiles="1:2:4")
    assert (
        changed.metadata.options["calibration_digest"]
        != built.metadata.options["calibration_digest"]
    )
    assert len(list((tmp_path / "cache" / "calibration").glob("int8-*.onnx"))) == 2


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


def test_detector_model_builds_int8_from_calibration_images(tmp_path, monkeypatch):
    flavour = _flavour()
    path = detector_model()
    if path is None:
        pytest.skip("nudenet (which ships the YOLOv8n detector model) is not installed")
    if not flavour.strongly_typed:
        pytest.skip("full TensorRT calibrates on the GPU")
    monkeypatch.setenv("TRTPIPE_CACHE_DIR", str(tmp_path / "cache"))
    images = _calibration_images(tmp_path / "images", 2, 320)
    built = build_engine(
        path,
        precision="int8",
        calibration=images,
        profiles="1:1:2",
        shapes={"images": (-1, 3, 320, 320)},
    )
    assert built.metadata.precision == "int8" and built.metadata.outputs[0].name == "output0"


def test_progress_display_runs_through_a_build(tmp_path, capsys):
    _flavour()
    built = build_engine(write_conv_net(tmp_path / "s.onnx"), progress=True)
    assert built.phases and len(built.data) > 0


def test_numpy_int_profile_dims_build_and_land_in_the_sidecar_as_ints(tmp_path):
    _flavour()
    onnx_path = write_conv_net(tmp_path / "dynamic.onnx", batch="N")
    shape = tuple(np.array([2, 3, 16, 16]))  # np.int64 dims, as array code gives them
    assert not isinstance(shape[0], int)
    out = tmp_path / "np.engine"
    profile = Profile(min={"x": shape}, opt={"x": shape}, max={"x": shape})
    build_engine(onnx_path, precision="fp32", profiles=profile, output=out)
    recorded = json.loads(sidecar_path(out).read_text())
    assert recorded["profiles"] == [{k: {"x": [2, 3, 16, 16]} for k in ("min", "opt", "max")}]
    assert recorded["options"]["profiles"] == recorded["profiles"]
    plain = (2, 3, 16, 16)
    assert describe_engine(out).profiles == [Profile({"x": plain}, {"x": plain}, {"x": plain})]
    # a (min, opt, max) batch triple of NumPy ints too
    built = build_engine(onnx_path, precision="fp32", profiles=np.array([1, 2, 4]))
    assert built.metadata.options["batch"] == [1, 2, 4]


@pytest.mark.parametrize(
    ("dims", "given"),
    [
        ((2.0, 3, 16, 16), "(2.0, 3, 16, 16)"),
        ((True, 3, 16, 16), "(True, 3, 16, 16)"),
        (("2", 3, 16, 16), "('2', 3, 16, 16)"),
    ],
)
def test_profile_dims_that_are_not_integers_are_refused(tmp_path, dims, given):
    _flavour()
    onnx_path = write_conv_net(tmp_path / "dynamic.onnx", batch="N")
    good = (2, 3, 16, 16)
    profile = Profile(min={"x": good}, opt={"x": dims}, max={"x": good})
    with pytest.raises(InputError) as caught:
        build_engine(onnx_path, profiles=[profile])
    assert str(caught.value) == f"profiles[0].opt['x']: expected integer dims, given {given}"


def test_an_output_that_cannot_be_renamed_onto_leaves_no_temp_file(tmp_path):
    _flavour()
    onnx_path = write_conv_net(tmp_path / "s.onnx")
    taken = tmp_path / "taken.engine"
    taken.mkdir()  # -o naming a folder: the final rename fails after the whole build
    with pytest.raises(IsADirectoryError):
        build_engine(onnx_path, precision="fp32", output=taken)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.onnx", "taken.engine"]
    assert list(taken.iterdir()) == []


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (
            Profile(
                min={"y": (1, 3, 16, 16)}, opt={"y": (1, 3, 16, 16)}, max={"y": (1, 3, 16, 16)}
            ),
            "profiles[0]: expected input names ['x'], given ['y']",
        ),
        (
            Profile(min={"x": (1, 3)}, opt={"x": (1, 3)}, max={"x": (1, 3)}),
            "profiles[0]['x']: expected 4 axes, given (1, 3)",
        ),
        (
            Profile(min={"x": (1, 3, 8, 8)}, opt={"x": (1, 3, 8, 8)}, max={"x": (1, 3, 8, 8)}),
            "profiles[0]['x']: axis 2 is fixed at 16 by the model, given min 8, max 8",
        ),
    ],
)
def test_a_profile_that_does_not_fit_the_model_is_refused_by_name(tmp_path, profile, message):
    _flavour()
    model = write_conv_net(tmp_path / "d.onnx", batch="N")
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        build_engine(model, profiles=profile, progress=False)
    assert not list(tmp_path.glob("*.engine"))
