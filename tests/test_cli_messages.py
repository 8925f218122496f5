"""What the command line tells its user: help texts without reST markup, and a user error as one
line and a non-zero exit, before any model is loaded where the arguments alone show it."""

from __future__ import annotations

import argparse
import logging
import sys

import pytest

from trtpipe.cli import build_parser, main


def _parsers(parser: argparse.ArgumentParser, prog: str = "trtpipe"):
    """(command, parser) of the command line and of every subcommand, nested ones included."""
    yield prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{prog} {name}")


def test_no_help_text_shows_rest_markup():
    helps = dict(_parsers(build_parser()))
    assert {"trtpipe", "trtpipe detect", "trtpipe import darknet"} <= set(helps)
    marked = [command for command, parser in helps.items() if "``" in parser.format_help()]
    assert not marked, f"'``' in the --help of {marked}"


def _error_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_inspect_onnx_without_the_onnx_package_names_the_fix(
    sample_model_path, monkeypatch, caplog
):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    assert main(["inspect", str(sample_model_path)]) == 2
    (line,) = _error_lines(caplog)
    assert "pip install 'trtpipe[onnx]'" in line and "\n" not in line


def test_inspect_of_a_file_that_is_not_an_engine_says_so(tmp_path, caplog):
    engine = tmp_path / "bad.engine"
    engine.write_bytes(bytes(range(256)) * 16)
    assert main(["inspect", str(engine)]) == 2
    (line,) = _error_lines(caplog)
    assert "not a readable engine" in line and "bad.engine.json" in line
    assert "build engines" not in line  # reading one needs a runtime, not a builder
    assert "\n" not in line


@pytest.fixture
def no_model_loading(monkeypatch):
    """Makes loading any model fail the test: the arguments must be refused first."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the arguments were checked")

    import trtpipe.backends.loader
    import trtpipe.backends.onnxruntime

    monkeypatch.setattr(trtpipe.backends.loader, "load", refuse)
    monkeypatch.setattr(trtpipe.backends.onnxruntime, "OnnxRuntimeEngine", refuse)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--conf", "5"], "conf: expected a value in [0, 1]"),
        (["--iou", "-1"], "iou: expected a value in [0, 1]"),
        (["--max-detections", "-1"], "max_detections: expected an int in [1, 2147483647]"),
        (["--input-size", "0", "-5"], "input_size: expected (width, height)"),
        (["--input-size", "320", "320"], "the model's input is fixed at 416x416"),
    ],
)
def test_detect_refuses_bad_arguments_before_loading_the_model(
    sample_model_path, tmp_path, no_model_loading, caplog, options, message
):
    image = tmp_path / "frame.png"
    image.write_bytes(b"")  # never read: the arguments are refused first
    assert main(["detect", str(image), "--model", str(sample_model_path), *options]) == 2
    (line,) = _error_lines(caplog)
    assert message in line


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--shape", "x=oops"], "--shape: expected NAME=DxDxD"),
        (["--images", "absent-folder"], "absent-folder (not found)"),
        (["--candidate", "absent.engine"], "--candidate: expected an existing model file"),
    ],
)
def test_validate_refuses_bad_arguments_before_loading_a_model(
    sample_model_path, tmp_path, monkeypatch, no_model_loading, caplog, options, message
):
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(sample_model_path), *options]) == 2
    (line,) = _error_lines(caplog)
    assert message in line


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--cameras", "0"], "--cameras: expected an integer >= 1, given 0"),
        (["--warmup", "-1"], "--warmup: expected an integer >= 0, given -1"),
        (["--fps", "nan"], "--fps: expected a finite number >= 0, given nan"),
        (["--max-wait-ms", "inf"], "--max-wait-ms: expected a finite number >= 0, given inf"),
    ],
)
def test_bench_refuses_bad_numbers_as_usage_errors(no_model_loading, capsys, options, message):
    with pytest.raises(SystemExit) as exit_:
        main(["bench", *options])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ("99999999x99999999:bgr8", "width/height: expected each in 1..32768"),
        ("641x480:nv12", "expected an even width for nv12"),
    ],
)
def test_bench_refuses_a_frame_size_the_frame_rule_refuses(no_model_loading, caplog, size, message):
    assert main(["bench", "--input", size]) == 2
    (line,) = _error_lines(caplog)
    assert line.startswith("--input: ") and message in line


def test_demo_refuses_an_output_that_is_a_file_before_loading(no_model_loading, tmp_path, caplog):
    taken = tmp_path / "taken"
    taken.write_text("")
    assert main(["demo", "--out", str(taken)]) == 2
    (line,) = _error_lines(caplog)
    assert "--out: expected a folder" in line


def test_an_output_folder_that_cannot_be_made_is_one_error_line(
    sample_model_path, tmp_path, caplog
):
    image = tmp_path / "frame.png"
    image.write_bytes(b"")
    blocked = tmp_path / "file" / "sub"  # under a file: mkdir raises NotADirectoryError
    (tmp_path / "file").write_text("")
    assert (
        main(["detect", str(image), "--model", str(sample_model_path), "--save", str(blocked)]) == 2
    )
    (line,) = _error_lines(caplog)
    assert "Not a directory" in line and "\n" not in line
