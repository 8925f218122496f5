"""INT8 calibration from a folder of images, for full TensorRT 10 (the flavour that calibrates).

The calibrator reads the images, resizes them to the network input (stretch, RGB, scaled to
[0, 1], NCHW float32), hands them to TensorRT in batches through a GPU buffer, and keeps the
resulting calibration table in a cache file so a rebuild does not calibrate again.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from trtpipe.errors import BackendUnavailableError, InputError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".webp")


def calibration_images(folder: str | Path) -> list[Path]:
    images = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise InputError(
            f"calibration: expected image files ({', '.join(IMAGE_SUFFIXES)}) in {str(folder)!r}, "
            "given none"
        )
    return images


def load_image_nchw(path: Path, height: int, width: int) -> np.ndarray:
    """One image as a (3, height, width) float32 array in [0, 1], RGB."""
    try:
        from PIL import Image
    except ImportError:
        Image = None
    if Image is not None:
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB").resize((width, height)), dtype=np.float32)
    else:
        try:
            import cv2
        except ImportError as exc:
            raise BackendUnavailableError(
                "calibration: reading images needs Pillow or OpenCV; install one of them"
            ) from exc
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"calibration: could not read image {str(path)!r}")
        rgb = cv2.resize(bgr, (width, height))[:, :, ::-1].astype(np.float32)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1) / 255.0, dtype=np.float32)


def EntropyCalibrator(trt: Any, folder: str, shape: tuple[int, ...], cache: Path) -> Any:
    """An ``IInt8EntropyCalibrator2`` over the images in ``folder`` for input ``shape`` (NCHW)."""
    import torch  # the GPU staging buffer; TensorRT 10's Python API takes device pointers

    if len(shape) != 4 or shape[1] != 3:
        raise InputError(f"calibration: expected an NCHW input with 3 channels, given {shape}")
    batch, _, height, width = shape
    images = calibration_images(folder)

    class _Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self._next = 0
            self._device = torch.empty(shape, dtype=torch.float32, device="cuda")

        def get_batch_size(self) -> int:
            return batch

        def get_batch(self, names: list[str]) -> list[int] | None:
            if self._next + batch > len(images):
                return None
            chunk = images[self._next : self._next + batch]
            self._next += batch
            host = np.stack([load_image_nchw(p, height, width) for p in chunk])
            self._device.copy_(torch.from_numpy(host))
            return [int(self._device.data_ptr())]

        def read_calibration_cache(self) -> bytes | None:
            if cache.is_file():
                log.info("using INT8 calibration cache %s", cache)
                return cache.read_bytes()
            return None

        def write_calibration_cache(self, data: Any) -> None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_bytes(bytes(data))

    if len(images) < batch:
        raise InputError(
            f"calibration: expected at least {batch} images (one batch), given {len(images)}"
        )
    return _Calibrator()
