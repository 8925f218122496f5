"""A real trained detector and sample images that come with installable packages, for the
demo, the tests and the benchmarks (nothing is downloaded at run time).

The model is NudeNet 3.4's ``320n.onnx`` (PyPI ``nudenet``, MIT): a YOLOv8n detector, input
1×3×320×320, raw YOLOv8 output [1, 22, 2100], 18 person-part classes including FACE_FEMALE and
FACE_MALE, 12 MB. The images are scikit-image's bundled data. Both come with ``trtpipe[demo]``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from trtpipe.errors import BackendUnavailableError

SAMPLE_INPUT_SIZE = (320, 320)
# (name, what it shows); astronaut and camera show faces, coffee and chelsea none.
SAMPLE_IMAGES = ("astronaut", "camera", "coffee", "chelsea")
_INSTALL_HINT = "install the demo extra: pip install 'trtpipe[demo]'"


def sample_model() -> Path:
    """Path of the sample detector (an ONNX file)."""
    try:
        path = resources.files("nudenet") / "320n.onnx"
    except ModuleNotFoundError as exc:
        raise BackendUnavailableError(
            f"sample_model: nudenet is not installed; {_INSTALL_HINT}"
        ) from exc
    path = Path(str(path))
    if not path.is_file():
        raise BackendUnavailableError(f"sample_model: {path} is missing from the nudenet package")
    return path


def sample_labels() -> list[str]:
    """The sample model's class names, by class id (from the model's own metadata)."""
    from trtpipe.model_metadata import class_names, onnx_metadata

    names = class_names(onnx_metadata(sample_model()))
    if not names:
        raise BackendUnavailableError("sample_labels: the sample model carries no class names")
    return names


def sample_images() -> list[tuple[str, np.ndarray]]:
    """(name, image) pairs: colour images as H×W×3 uint8 in BGR order (what cameras and
    OpenCV deliver, and what ``Detector`` assumes for 3 channels); ``camera`` is mono, H×W."""
    try:
        from skimage import data
    except ImportError as exc:
        raise BackendUnavailableError(
            f"sample_images: scikit-image is not installed; {_INSTALL_HINT}"
        ) from exc
    images = []
    for name in SAMPLE_IMAGES:
        image = np.asarray(getattr(data, name)())
        if image.ndim == 3:
            image = np.ascontiguousarray(image[..., 2::-1])  # RGB(A) -> BGR
        images.append((name, image))
    return images
