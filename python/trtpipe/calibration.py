"""INT8 calibration from a folder of images, for both kinds of TensorRT.

Images (any of IMAGE_SUFFIXES, or .npy arrays: HWC or CHW, uint8 0..255 or finite float 0..1)
are resized to the network input (stretched), converted to RGB, scaled to [0, 1] and laid out
NCHW float32. A file that is none of these raises InputError naming it.

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
    # files only: a folder named like an image would fail to open mid-calibration
    images = sorted(
        p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
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


def _load_npy_chw(path: Path) -> np.ndarray:
    """A .npy file as a (3, H, W) float32 array in [0, 1]: HWC or CHW, uint8 (0..255) or float
    (0..1, finite). Anything else raises InputError naming the file, here rather than as a NaN
    scale or a dtype error from the calibrator."""
    try:
        # no pickles: an object array would run code from the file
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(
            f"calibration: {path}: expected a NumPy .npy array, given an unreadable file ({exc})"
        ) from exc
    if not isinstance(array, np.ndarray) or array.ndim != 3:
        shape = getattr(array, "shape", None)
        raise InputError(
            f"calibration: {path}: expected an HWC or CHW array with 3 channels, given shape "
            f"{shape}"
        )
    is_uint8 = array.dtype == np.uint8
    if not is_uint8 and not np.issubdtype(array.dtype, np.floating):
        raise InputError(
            f"calibration: {path}: expected uint8 (0..255) or float (0..1) values, given dtype "
            f"{array.dtype}"
        )
    # the layout from the shape, uint8 trying HWC first and float CHW first (the usual ones)
    layouts = ("hwc", "chw") if is_uint8 else ("chw", "hwc")
    layout = next(
        (name for name in layouts if (array.shape[2] if name == "hwc" else array.shape[0]) == 3),
        None,
    )
    if layout is None:
        raise InputError(
            f"calibration: {path}: expected an HWC or CHW array with 3 channels, given shape "
            f"{array.shape}"
        )
    chw = array.transpose(2, 0, 1) if layout == "hwc" else array
    if chw.shape[1] < 1 or chw.shape[2] < 1:
        raise InputError(
            f"calibration: {path}: expected an image of at least 1x1 pixels, given shape "
            f"{array.shape}"
        )
    chw = chw.astype(np.float32)
    if is_uint8:
        return chw / 255.0
    if not np.isfinite(chw).all():
        raise InputError(f"calibration: {path}: expected finite values, given NaN or inf")
    return chw


def load_image_nchw(path: Path, height: int, width: int) -> np.ndarray:
    """One image as a (3, height, width) float32 array in [0, 1], RGB; a file that is not a
    usable image raises InputError naming it."""
    if path.suffix.lower() == ".npy":
        chw = _load_npy_chw(path)
        return np.ascontiguousarray(_resize_chw(chw, height, width), dtype=np.float32)
    try:
        from PIL import Image
    except ImportError:
        Image = None
    if Image is not None:
        try:
            with Image.open(path) as image:
                rgb = np.asarray(image.convert("RGB").resize((width, height)), dtype=np.float32)
        # UnidentifiedImageError and truncated-file errors are OSErrors; a bad header can be
        # a ValueError or SyntaxError
        except (OSError, ValueError, SyntaxError) as exc:
            raise InputError(
                f"calibration: {path}: expected a readable image, given a file that could not "
                f"be decoded ({exc})"
            ) from exc
    else:
        try:
            import cv2
        except ImportError as exc:
            raise BackendUnavailableError(
                "calibration: reading images needs Pillow or OpenCV; install one of them"
            ) from exc
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(
                f"calibration: {path}: expected a readable image, given a file that could not "
                "be decoded"
            )
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
