"""``trtpipe demo`` and ``trtpipe detect`` end to end, against Detector called directly."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from trtpipe.cli import main
from trtpipe.errors import InputError

pytest.importorskip("onnxruntime")
if importlib.util.find_spec("skimage") is None:  # its data files, not an import
    pytest.skip("scikit-image is not installed", allow_module_level=True)
cv2 = pytest.importorskip("cv2")

from trtpipe import samples  # noqa: E402
from trtpipe.detector import Detector  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def sample_model():
    from onnx_models import coco_model

    return coco_model()


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    for name, image in samples.sample_images():
        cv2.imwrite(str(folder / f"{name}.png"), image)
    return folder


def test_demo_writes_annotated_images(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    # COCO objects with their Darknet names: what test_detector checks against OpenCV
    assert "astronaut.png: 1 detection: person 0.88" in out
    assert "camera.png: 1 detection: person" in out
    assert "coffee.png: 2 detections: cup 0.95" in out
    assert "chelsea.png: 2 detections: cat 0.63" in out
    assert "4 frames, 6 detections" in out
    written = sorted(p.name for p in (tmp_path / "trtpipe-demo").iterdir())
    assert written == ["astronaut.png", "camera.png", "chelsea.png", "coffee.png"]
    original = dict(samples.sample_images())["astronaut"]
    annotated = cv2.imread(str(tmp_path / "trtpipe-demo" / "astronaut.png"))
    assert annotated.shape == original.shape
    assert not np.array_equal(annotated, original)  # boxes were drawn


def test_detect_folder_json_equals_detector(image_folder, tmp_path, capsys):
    save = tmp_path / "annotated"
    code = main(["detect", str(image_folder), "--model", "sample", "--json", "--save", str(save)])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    frames, summary = lines[:-1], lines[-1]["summary"]
    assert [f["source"] for f in frames] == sorted(p.name for p in image_folder.iterdir())
    det = Detector(samples.sample_model())
    for frame in frames:
        want = det(cv2.imread(str(image_folder / frame["source"]), cv2.IMREAD_UNCHANGED))
        assert [d["label"] for d in frame["detections"]] == want.class_names()
        got = np.array([d["box"] for d in frame["detections"]]).reshape(-1, 4)
        np.testing.assert_allclose(got, want.boxes, atol=0.01)
    assert summary["frames"] == 4
    assert summary["detections"] == sum(len(f["detections"]) for f in frames)
    assert set(summary["latency"]) == {"preprocess", "inference", "postprocess", "end_to_end"}
    assert len(list(save.iterdir())) == 4


def test_detect_video(tmp_path, capsys):
    image = dict(samples.sample_images())["astronaut"]
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, image.shape[1::-1])
    for _ in range(5):
        writer.write(image)
    writer.release()
    assert main(["detect", str(path), "--model", "sample", "--json", "--save", str(tmp_path)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [f["source"] for f in lines[:-1]] == [f"clip:{i:06d}" for i in range(5)]
    assert all(f["detections"][0]["label"] == "person" for f in lines[:-1])
    assert lines[-1]["summary"]["frames"] == 5
    assert (tmp_path / "clip.mp4").stat().st_size > 0


def test_detect_missing_source_is_an_error(tmp_path):
    assert main(["detect", str(tmp_path / "absent.png"), "--model", "sample"]) == 2
    assert main(["detect", str(tmp_path), "--model", "sample"]) == 2  # no images in it


def test_a_folder_run_skips_an_unreadable_file_and_saves_every_result(tmp_path, capsys):
    """An unreadable file is reported and skipped, the files after it still run, the exit
    status says something failed; x.jpg and x.png keep their own annotated copies."""
    image = dict(samples.sample_images())["astronaut"]
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_broken.png").write_bytes(b"not an image")
    cv2.imwrite(str(folder / "x.jpg"), image)
    cv2.imwrite(str(folder / "x.png"), image[::2, ::2])
    save = tmp_path / "out"
    assert main(["detect", str(folder), "--model", "sample", "--save", str(save)]) == 1
    out = capsys.readouterr().out
    assert "x.jpg: 1 detection" in out and "x.png: " in out  # both after the broken one
    assert "2 frames, " in out and "1 file skipped: a_broken.png" in out
    assert sorted(p.name for p in save.iterdir()) == ["x.jpg", "x.png"]
    assert cv2.imread(str(save / "x.png")).shape[:2] == image[::2, ::2].shape[:2]


def test_save_onto_a_file_and_one_frame_are_clear(tmp_path, capsys):
    image_path = tmp_path / "one.png"
    cv2.imwrite(str(image_path), dict(samples.sample_images())["astronaut"])
    occupied = tmp_path / "occupied"
    occupied.write_text("a file, not a folder")
    assert main(["detect", str(image_path), "--model", "sample", "--save", str(occupied)]) == 2
    assert main(["detect", str(image_path), "--model", "sample"]) == 0
    assert "1 frame, 1 detection" in capsys.readouterr().out


def test_16_bit_images_keep_their_high_byte_and_float_or_signed_ones_are_skipped(tmp_path, capsys):
    """A 16-bit image holding 8-bit values (as v << 8 or v * 257) reads back as exactly those
    values, so it detects as the 8-bit original does; float and signed images have no one
    range to map, so each is one skipped file and the others still run."""
    from trtpipe.commands.frames import open_source

    image = dict(samples.sample_images())["astronaut"]
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "a_float.tiff"), image.astype(np.float32) / 255)
    cv2.imwrite(str(folder / "b_signed.tiff"), image.astype(np.int16))
    cv2.imwrite(str(folder / "c_shifted16.png"), image.astype(np.uint16) << 8)
    cv2.imwrite(str(folder / "d_scaled16.png"), image.astype(np.uint16) * 257)
    cv2.imwrite(str(folder / "e_8bit.png"), image)

    frames = dict(open_source(folder).frames())
    for name in ("c_shifted16.png", "d_scaled16.png", "e_8bit.png"):
        assert frames[name].dtype == np.uint8 and np.array_equal(frames[name], image), name
    for name, dtype in (("a_float.tiff", "float32"), ("b_signed.tiff", "int16")):
        assert isinstance(frames[name], InputError)
        assert str(frames[name]) == (
            f"{folder / name}: expected an image of 8- or 16-bit unsigned samples, given "
            f"{dtype} samples"
        )
    with pytest.raises(InputError, match="given float32 samples"):  # a lone file: an error
        list(open_source(folder / "a_float.tiff").frames())

    assert main(["detect", str(folder), "--model", "sample", "--json"]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_name = {line["source"]: line for line in lines[:-1]}
    assert "float32 samples" in by_name["a_float.tiff"]["skipped"]
    assert "int16 samples" in by_name["b_signed.tiff"]["skipped"]
    want = by_name["e_8bit.png"]["detections"]
    assert want and want[0]["label"] == "person"
    assert by_name["c_shifted16.png"]["detections"] == want
    assert by_name["d_scaled16.png"]["detections"] == want
    summary = lines[-1]["summary"]
    assert summary["frames"] == 3
    assert summary["skipped"] == ["a_float.tiff", "b_signed.tiff"]
    assert main(["detect", str(folder / "b_signed.tiff"), "--model", "sample"]) == 2
