"""INT8 calibration from a folder of images, for both kinds of TensorRT.

Images (any of IMAGE_SUFFIXES, or .npy arrays: HWC uint8 or CHW float) are resized to the
network input (stretched), converted to RGB, scaled to [0, 1] and laid out NCHW float32.

* Full TensorRT 10 calibrates itself: :func:`EntropyCalibrator` is its ``IInt8EntropyCalibrator2``,
  fed through a GPU buffer, with TensorRT's calibration table kept in a cache file.
* Strongly typed flavours (TensorRT 11, TensorRT-RTX) have no calibrator and take INT8 only as
  Q/DQ nodes in the model: :func:`quantize_with_calibration` puts them there with ONNX Runtime's
  static quantization (entropy calibration; symmetric int8, per-channel weights, Conv/MatMul
  only, float biases, as TensorRT's explicit quantization wants). The quantized model is the
  calibration cache: it is kept under the cache dir, keyed by the model and the images.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from trtpipe.errors import BackendUnavailableError, InputError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".webp", ".npy")


def calibration_images(folder: str | Path) -> list[Path]:
    images = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise InputError(
            f"calibration: expected image files ({', '.join(IMAGE_SUFFIXES)}) in {str(folder)!r}, "
            "given none"
        )
    return images


def images_digest(folder: str | Path) -> str:
    """Changes when an image is added, removed or rewritten (names, sizes, modification times)."""
    digest = hashlib.sha256()
    for p in calibration_images(folder):
        stat = p.stat()
        digest.update(f"{p.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _resize_chw(chw: np.ndarray, height: int, width: int) -> np.ndarray:
    # Nearest-neighbour resize of an already decoded array (no image library needed).
    rows = (np.arange(height) * chw.shape[1] / height).astype(np.int64)
    cols = (np.arange(width) * chw.shape[2] / width).astype(np.int64)
    return chw[:, rows][:, :, cols]


def load_image_nchw(path: Path, height: int, width: int) -> np.ndarray:
    """One image as a (3, height, width) float32 array in [0, 1], RGB."""
    if path.suffix.lower() == ".npy":
        array = np.load(path)
        if array.ndim != 3 or 3 not in (array.shape[0], array.shape[2]):
            raise InputError(
                f"calibration: {path.name}: expected HWC or CHW with 3 channels, given "
                f"{array.shape}"
            )
        if array.dtype == np.uint8:
            chw = array.transpose(2, 0, 1).astype(np.float32) / 255.0
        else:
            chw = array.astype(np.float32) if array.shape[0] == 3 else array.transpose(2, 0, 1)
        return np.ascontiguousarray(_resize_chw(chw, height, width), dtype=np.float32)
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


def quantize_with_calibration(
    onnx_path: Path,
    onnx_bytes: bytes,
    folder: str,
    input_name: str,
    shape: tuple[int, ...],
    cache_dir: Path,
) -> bytes:
    """The model with Q/DQ nodes from entropy calibration over ``folder`` (cached)."""
    if len(shape) != 4 or shape[1] != 3 or any(d < 0 for d in shape):
        raise InputError(
            f"calibration: expected a static NCHW input shape with 3 channels, given {shape}"
        )
    key = hashlib.sha256(onnx_bytes)
    key.update(f"{images_digest(folder)}|{input_name}|{shape}|entropy-qdq-s8-v1".encode())
    cached = cache_dir / f"int8-{key.hexdigest()[:24]}.onnx"
    if cached.is_file():
        log.info("INT8: using the calibrated model %s", cached)
        return cached.read_bytes()
    try:
        from onnxruntime.quantization import (
            CalibrationDataReader,
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_static,
        )
    except ImportError as exc:
        raise BackendUnavailableError(
            f"INT8 calibration for strongly typed TensorRT uses onnxruntime.quantization ({exc}); "
            "install onnxruntime"
        ) from exc
    images = calibration_images(folder)
    _, _, height, width = shape

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._images = iter(images)

        def get_next(self) -> dict[str, np.ndarray] | None:
            path = next(self._images, None)
            if path is None:
                return None
            return {input_name: load_image_nchw(path, height, width)[None]}

    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{cached.name}.{os.getpid()}.tmp"
    log.info("INT8: calibrating %s on %d images (entropy)", onnx_path.name, len(images))
    quantize_static(
        str(onnx_path),
        str(tmp),
        _Reader(),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["Conv", "MatMul"],
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.Entropy,
        per_channel=True,
        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False},
    )
    os.replace(tmp, cached)
    return cached.read_bytes()
