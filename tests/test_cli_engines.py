"""`trtpipe build`, `trtpipe inspect` and `trtpipe validate`, run as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from onnx_models import coco_model, write_conv_net
from trtpipe.cli import main
from trtpipe.errors import BackendUnavailableError

pytest.importorskip("onnxruntime")


def _needs_builder():
    from trtpipe.tensorrt_flavour import find_flavour

    try:
        return find_flavour()
    except BackendUnavailableError as exc:
        pytest.skip(str(exc))


@pytest.mark.tensorrt
def test_build_then_inspect(tmp_path, capsys):
    _needs_builder()
    model = write_conv_net(tmp_path / "m.onnx", batch="N")
    engine = tmp_path / "m.engine"
    assert (
        main(
            [
                "build",
                str(model),
                "--precision",
                "fp16",
                "--batch",
                "1:4:8",
                "-o",
                str(engine),
                "--no-progress",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert str(engine) in out and "fp16" in out and "build time" in out
    assert main(["inspect", str(engine), "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["kind"] == "engine" and described["precision"] == "fp16"
    assert described["inputs"] == [{"name": "x", "shape": [-1, 3, 16, 16], "dtype": "float32"}]
    assert described["profiles"] == [
        {"min": {"x": [1, 3, 16, 16]}, "opt": {"x": [4, 3, 16, 16]}, "max": {"x": [8, 3, 16, 16]}}
    ]
    assert described["size"] == engine.stat().st_size
    assert main(["inspect", str(engine)]) == 0
    table = capsys.readouterr().out
    assert "profile 0  x: min 1x3x16x16  opt 4x3x16x16  max 8x3x16x16" in table


@pytest.mark.tensorrt
def test_build_into_the_cache(tmp_path, capsys):
    _needs_builder()
    model = write_conv_net(tmp_path / "m.onnx")
    args = ["build", str(model), "--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    assert main(args) == 0
    assert "(cached)" not in capsys.readouterr().out
    assert main(args) == 0
    assert "(cached)" in capsys.readouterr().out
    assert len(list((tmp_path / "cache").glob("*.engine"))) == 1


def test_build_reports_bad_arguments(tmp_path, capsys):
    _needs_builder()
    model = write_conv_net(tmp_path / "m.onnx")
    assert main(["build", str(model), "--batch", "1:4:8", "-o", str(tmp_path / "x.engine")]) == 2
    assert main(["build", str(model), "--batch", "8:4:1"]) == 2
    assert main(["build", str(model), "--shape", "x=oops"]) == 2


def test_inspect_onnx(tmp_path, capsys):
    model = write_conv_net(tmp_path / "m.onnx", batch="N")
    assert main(["inspect", str(model), "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["kind"] == "onnx"
    assert [t["name"] for t in described["inputs"]] == ["x"]  # initializers are not inputs
    assert described["outputs"][0]["shape"] == [-1, 4, 16, 16]
    assert "float32" in described["precision"]


def _scaled_copy(model: Path, path: Path, factor: float, last: bool = False) -> Path:
    """``model`` with its first (or last) convolution's weights multiplied by ``factor``."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(model))
    convs = [n.input[1] for n in proto.graph.node if n.op_type == "Conv"]
    name = convs[-1 if last else 0]
    weights = next(i for i in proto.graph.initializer if i.name == name)
    weights.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weights) * factor, weights.name))
    onnx.save(proto, str(path))
    return path


def test_validate_refuses_the_model_against_itself_and_fails_loudly_for_another(
    tmp_path, capsys, caplog
):
    model = write_conv_net(tmp_path / "m.onnx", batch="N")
    same = write_conv_net(tmp_path / "same.onnx", batch="N")  # the same bytes
    close = _scaled_copy(model, tmp_path / "close.onnx", 1 + 1e-6)
    other = write_conv_net(tmp_path / "other.onnx", batch="N", seed=4)
    common = ["--backend", "onnxruntime", "--random", "--batch", "2"]
    for candidate in ([], ["--candidate", str(same)]):
        assert main(["validate", str(model), *candidate, *common]) == 2
        assert "nothing to compare" in caplog.text
        caplog.clear()
    assert main(["validate", str(model), "--candidate", str(close), *common, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "passed" and report["detector"] is False
    assert 0 < report["outputs"][0]["relative"] < 1e-5
    assert main(["validate", str(model), "--candidate", str(other), *common]) == 1
    out = capsys.readouterr().out
    assert "beyond threshold" in out and "FAILED" in out
    assert main(["validate", str(model), "--precision", "fp16", *common]) == 2
    assert "only a TensorRT build changes the precision" in caplog.text


def test_validate_compares_detections_on_the_sample_images(tmp_path, capsys):
    pytest.importorskip("skimage")
    from onnx_models import coco_model

    model = coco_model()
    nudged = _scaled_copy(model, tmp_path / "nudged.onnx", 1 + 1e-4)
    args = ["validate", str(model), "--candidate", str(nudged), "--backend", "onnxruntime"]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    sources = [d["source"] for d in report["detections"]]
    assert sources == ["astronaut.png", "camera.png", "coffee.png", "chelsea.png"]
    # the objects test_detector checks against OpenCV: a person, a person, a cup and a dining
    # table, a cat and a dog
    assert [d["reference_count"] for d in report["detections"]] == [1, 1, 2, 2]
    assert all(
        d["matched"] == d["reference_count"] and d["extra"] == 0 for d in report["detections"]
    )
    assert all(d["mean_iou"] > 0.99 and d["score_drift"] < 0.01 for d in report["detections"])
    # random inputs show a detector nothing: not validated
    assert main([*args, "--random"]) == 3
    assert "NOT VALIDATED" in capsys.readouterr().out
    # a broken candidate (the heads' weights scaled): detections missed or extra, FAILED
    broken = _scaled_copy(model, tmp_path / "broken.onnx", 1.5, last=True)
    assert main([*args[:3], str(broken), *args[4:]]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and ("missed 1" in out or "extra 1" in out)


def test_fp16_conversion_stays_close_to_fp32(tmp_path):
    """The float16 model a strongly typed build parses, run by ORT: within 1% of FP32."""
    flavour = _needs_builder()
    if not flavour.strongly_typed:
        pytest.skip(f"{flavour.tag} takes fp16 as a builder flag; no model conversion")
    from trtpipe.backends.onnxruntime import OnnxRuntimeEngine
    from trtpipe.build import BuildArguments, _model_for_precision
    from trtpipe.validate import compare_outputs

    model = write_conv_net(tmp_path / "m.onnx", batch="N")
    fp16 = tmp_path / "m16.onnx"
    _, options = BuildArguments("fp16").resolve(flavour)
    fp16.write_bytes(_model_for_precision(flavour, model.read_bytes(), options))
    import onnx

    converted = onnx.load(str(fp16))
    assert {i.data_type for i in converted.graph.initializer} == {onnx.TensorProto.FLOAT16}
    x = {"x": np.random.default_rng(0).random((2, 3, 16, 16), dtype=np.float32)}
    (error,) = compare_outputs(
        OnnxRuntimeEngine(model, device="cpu").infer(x),
        OnnxRuntimeEngine(fp16, device="cpu").infer(x),
    )
    assert 0 < error.relative < 1e-2


def test_inspect_an_engine_without_sidecar_explains(tmp_path, caplog):
    engine = tmp_path / "foreign.engine"
    engine.write_bytes(b"ftrt" + bytes(100))
    assert main(["inspect", str(engine)]) == 2
    assert "sidecar" in caplog.text
    assert main(["inspect", str(tmp_path / "absent.engine")]) == 2


@pytest.mark.parametrize("kind", ["text", "truncated"])
def test_a_file_that_is_not_an_onnx_model_is_one_clear_error(tmp_path, caplog, kind):
    """build and inspect of a text file or a truncated ONNX: exit 2 and one line naming the
    file, not protobuf's DecodeError traceback."""
    model = write_conv_net(tmp_path / "good.onnx")
    bad = tmp_path / f"{kind}.onnx"
    bad.write_bytes(b"not a model\n" if kind == "text" else model.read_bytes()[:40])
    assert main(["inspect", str(bad)]) == 2
    assert "is not an ONNX model" in caplog.text and str(bad) in caplog.text
    caplog.clear()
    code = main(["build", str(bad), "--precision", "fp16", "-o", str(tmp_path / "x.engine")])
    if code == 3:  # no builder on this machine: the build stops before reading the model
        pytest.skip("no TensorRT builder here")
    assert code == 2
    assert "is not an ONNX model" in caplog.text


def test_the_sample_alias_works_in_every_command_that_takes_a_model(capsys):
    coco_model()  # the sample model, or a skip with the reason
    from trtpipe.samples import model_or_sample, sample_model

    assert model_or_sample("sample") == str(sample_model())
    assert model_or_sample("yolo.onnx") == "yolo.onnx"
    assert main(["inspect", "sample", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "onnx" and summary["inputs"][0]["name"] == "images"


@pytest.mark.parametrize("mib", ["0", "-1"])
def test_build_refuses_a_workspace_below_one_mib(tmp_path, caplog, mib):
    model = write_conv_net(tmp_path / "m.onnx")
    assert main(["build", str(model), "--workspace", mib, "-o", str(tmp_path / "x.engine")]) == 2
    assert f"--workspace: expected a size in MiB >= 1, given {mib}" in caplog.text
    assert not (tmp_path / "x.engine").exists()


def test_inspect_refuses_an_empty_file_and_a_sequence_input(tmp_path, caplog):
    from onnx import TensorProto, helper

    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    assert main(["inspect", str(empty)]) == 2
    assert f"model: {empty} is not an ONNX model (empty, or it has no graph)" in caplog.text
    caplog.clear()
    seq = helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, None)
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(
        [helper.make_node("SequenceAt", ["s", "i"], ["y"])],
        "g",
        [seq],
        [out],
        [helper.make_tensor("i", TensorProto.INT64, [], [0])],
    )
    path = tmp_path / "seq.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    assert main(["inspect", str(path)]) == 2
    assert (
        f"model: {path}: expected tensor inputs and outputs, given input 's' of type sequence"
        in caplog.text
    )


def test_inspect_shows_an_unknown_rank(tmp_path, capsys):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, None)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / "no_shape.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    assert main(["inspect", str(path)]) == 0
    assert "unknown rank" in capsys.readouterr().out
    assert main(["inspect", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["inputs"][0]["shape"] is None
