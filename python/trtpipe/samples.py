"""A real trained detector and sample images that come with installable packages, for the
demo, the tests and the benchmarks (nothing is downloaded at run time).

The model is NudeNet 3.4's ``320n.onnx`` (PyPI ``nudenet``, MIT): a YOLOv8n detector, input
1×3×320×320, raw YOLOv8 output [1, 22, 2100], 18 person-part classes including FACE_FEMALE and
FACE_MALE, 12 MB. The images are scikit-image's bundled data. Both come with ``trtpipe[demo]``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from trtpipe.errors import BackendUnavailableError

SAMPLE_INPUT_SIZE = (320, 320)
# (name, what it shows); astronaut and camera show faces, coffee and chelsea none.
SAMPLE_IMAGES = ("astronaut", "camera", "coffee", "chelsea")
_INSTALL_HINT = "install the demo extra: pip install 'trtpipe[demo]'"


def _package_dir(name: str) -> Path:
    """Where an installed package's files are, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError(f"{name} is not installed; {_INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def sample_model() -> Path:
    """Path of the sample detector (an ONNX file)."""
    path = _package_dir("nudenet") / "320n.onnx"
    if not path.is_file():
        raise BackendUnavailableError(f"sample_model: {path} is missing from the nudenet package")
    return path


def model_or_sample(value: str) -> str:
    """A model argument of the commands: "sample" is the sample model's path, anything else
    stays as given."""
    return str(sample_model()) if value == "sample" else value


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
