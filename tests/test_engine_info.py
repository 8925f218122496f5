"""Engine sidecars read back: a sidecar that is JSON but not of the sidecar's shape is an invalid
sidecar (never an AttributeError), and a sidecar write that fails leaves no temp file. No
TensorRT needed: the engine file is a few bytes, only hashed."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from trtpipe.backends.base import Profile, TensorInfo
from trtpipe.engine_info import (
    EngineMetadata,
    check_sidecar,
    sha256_file,
    sidecar_path,
    write_sidecar,
)
from trtpipe.errors import EngineError


def _metadata(engine_sha256: str) -> EngineMetadata:
    return EngineMetadata(
        flavour="tensorrt-rtx",
        flavour_version="1.0",
        target="cpu-build SM86",
        onnx_path="/models/m.onnx",
        onnx_sha256="0" * 64,
        options={"precision": "fp16", "profiles": []},
        precision="fp16",
        inputs=[TensorInfo("x", (-1, 3, 16, 16), np.dtype(np.float32), True)],
        outputs=[TensorInfo("y", (-1, 4, 16, 16), np.dtype(np.float32), False)],
        profiles=[Profile({"x": (1, 3, 16, 16)}, {"x": (2, 3, 16, 16)}, {"x": (4, 3, 16, 16)})],
        engine_sha256=engine_sha256,
        engine_bytes=13,
        build_seconds=1.5,
    )


@pytest.fixture
def engine(tmp_path):
    path = tmp_path / "m.engine"
    path.write_bytes(b"engine plan\x00\x01")
    write_sidecar(path, _metadata(sha256_file(path)))
    return path


def test_a_written_sidecar_reads_back(engine):
    metadata, why = check_sidecar(engine)
    assert why == "" and metadata == _metadata(sha256_file(engine))


def _edited(engine, **fields) -> str:
    data = json.loads(sidecar_path(engine).read_text())
    data.update(fields)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("[]", "engine sidecar: expected a JSON object, given an array"),
        ("null", "engine sidecar: expected a JSON object, given null"),
        ("5", "engine sidecar: expected a JSON object, given 5"),
        ('"x"', "engine sidecar: expected a JSON object, given a string"),
        (
            {"profiles": [[1, 3, 16, 16]]},
            "engine sidecar: profiles[0]: expected an object with min, opt and max, given an array",
        ),
        (
            {"profiles": [{"min": [], "opt": [], "max": []}]},
            "engine sidecar: profiles[0].min: expected an object of input shapes, given an array",
        ),
        (
            {"profiles": {"x": 1}},
            "engine sidecar: profiles: expected an array of profiles, given an object",
        ),
        (
            {"inputs": [5]},
            "engine sidecar: inputs[0]: expected an object with name, shape and dtype, given 5",
        ),
        (
            {"inputs": [{"name": "x", "shape": None, "dtype": "float32"}]},
            "engine sidecar: inputs[0].shape: expected an array of integers, given null",
        ),
        (
            {"inputs": [{"name": "x", "shape": [1], "dtype": "bogus"}]},
            "engine sidecar: inputs[0].dtype: expected a dtype name, given 'bogus'",
        ),
        ({"options": None}, "engine sidecar: options: expected an object, given null"),
        (
            {"engine_bytes": "13"},
            "engine sidecar: engine_bytes: expected an integer, given a string",
        ),
    ],
)
def test_json_of_another_shape_is_an_invalid_sidecar(engine, text, why):
    sidecar = sidecar_path(engine)
    sidecar.write_text(text if isinstance(text, str) else _edited(engine, **text))
    assert check_sidecar(engine) == (None, f"{sidecar.name} is unreadable ({why})")
    with pytest.raises(EngineError) as caught:
        EngineMetadata.from_json(sidecar.read_text())
    assert str(caught.value) == why


def test_inspect_says_in_a_line_that_the_sidecar_is_invalid(engine, caplog, capsys):
    from trtpipe.cli import main

    sidecar_path(engine).write_text("[]")
    with caplog.at_level(logging.WARNING, logger="trtpipe"):
        assert main(["inspect", str(engine)]) == 2
    assert (
        f"engine {engine}: sidecar ignored: m.engine.json is unreadable (engine sidecar: "
        "expected a JSON object, given an array)"
    ) in caplog.text
    assert "Traceback" not in caplog.text + capsys.readouterr().err


def test_a_sidecar_that_cannot_be_renamed_into_place_leaves_no_temp_file(tmp_path):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"plan")
    sidecar_path(engine).mkdir()  # the rename onto it fails
    with pytest.raises(IsADirectoryError):
        write_sidecar(engine, _metadata(sha256_file(engine)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.engine", "m.engine.json"]
