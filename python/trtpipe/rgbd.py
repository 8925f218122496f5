"""Objects located in 3D from a colour image's detections, a depth image and its intrinsics.

The depth image is registered to the colour one (the same view; its resolution may differ, and
boxes scale by the ratio of the sizes). ``16UC1`` depth is in millimetres, ``32FC1`` in metres
(``depth_scale`` overrides either: metres per stored unit); 0, NaN and inf mean "no
measurement". For each box, the depth of the object is a robust statistic of the measured pixels
of the box's inner region (:class:`DepthRule`, the rule in ``csrc/decode/box_depth.hpp``); the
box centre is back-projected at that depth with the intrinsics (fx, fy, cx, cy of the depth
image, e.g. ``sensor_msgs/CameraInfo`` K) into the camera's optical frame (x right, y down,
z forward, metres); its width and height follow from its pixel size at that depth, its extent in
depth from the spread of the object's depth values. A box with too few measured pixels has no
depth: it is flagged (``valid`` False, NaN position), counted, and left out of
:meth:`Detections3D.to_msg_3d` — never given a made-up position.

The statistics run on the GPU (one thread block per box) or on the CPU; both give the same
numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trtpipe import _core
from trtpipe.arguments import finite_real
from trtpipe.arrays import device_array
from trtpipe.decode.detections import Detections, _vision_msgs
from trtpipe.errors import InputError
from trtpipe.preprocess import LocatedFrame

log = logging.getLogger(__name__)

#: which depth pixels of a box are the object's: ``DepthRule(inner=0.5, tolerance=0.3,
#: min_depth=0.0, max_depth=inf, min_pixels=16, near_quantile=0.05, far_quantile=0.95)``
DepthRule = _core.depth.DepthRule

#: the depth encodings read
DEPTH_ENCODINGS: tuple[str, ...] = tuple(_core.depth.encodings())
#: each depth encoding's NumPy dtype (native byte order)
DEPTH_DTYPES = {"16UC1": np.dtype(np.uint16), "32FC1": np.dtype(np.float32)}


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera's intrinsics, in pixels of the image they describe: finite real numbers,
    kept as floats."""

    fx: float
    fy: float
    cx: float
    cy: float

    def __post_init__(self) -> None:
        # checked here, where the caller made them, rather than where _core reads them
        for name in ("fx", "fy", "cx", "cy"):
            object.__setattr__(self, name, finite_real(name, getattr(self, name)))

    @classmethod
    def from_k(cls, k: Sequence[float]) -> Intrinsics:
        """From a row-major 3×3 camera matrix (``sensor_msgs/CameraInfo.k``)."""
        try:
            values = [float(v) for v in np.asarray(k, dtype=np.float64).reshape(-1)]
        except (TypeError, ValueError):
            raise InputError(
                f"k: expected 9 real numbers (a 3x3 matrix), given {type(k).__name__}"
            ) from None
        if len(values) != 9:
            raise InputError(f"k: expected 9 values (a 3x3 matrix), given {len(values)}")
        return cls(values[0], values[4], values[2], values[5])

    @classmethod
    def from_camera_info(cls, info: Any) -> Intrinsics:
        """From a ``sensor_msgs/CameraInfo`` (its K matrix)."""
        k = getattr(info, "k", None)
        if k is None:
            raise InputError(
                f"camera_info: expected a sensor_msgs/CameraInfo, given {type(info).__name__}"
            )
        return cls.from_k(k)

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.fx, self.fy, self.cx, self.cy)


def locate_depth(depth: Any, encoding: str | None = None) -> tuple[LocatedFrame, Any]:
    """The view of a depth image (an (H, W) NumPy or GPU array of uint16 or float32, rows
    possibly padded) that ``_core`` reads; the second value keeps a converted array alive.
    ``encoding`` defaults to the dtype's (uint16: 16UC1, float32: 32FC1)."""
    view = device_array(depth, "depth", torch_accessors=True)
    if view is not None:
        dtype, shape, strides = view.dtype, list(view.shape), list(view.strides)
        address, on_device, stream, keep = view.address, True, view.stream, depth
    else:
        array = np.asarray(depth)
        try:
            if array.dtype.byteorder == (">" if np.little_endian else "<"):
                array = array.astype(array.dtype.newbyteorder("="))  # big-endian: swapped once
            if array.ndim >= 2 and (array.strides[1] != array.itemsize or array.strides[0] <= 0):
                array = np.ascontiguousarray(array)  # columns apart, or rows sharing memory
        except MemoryError:  # e.g. np.broadcast_to of a huge shape: far beyond any depth image
            raise InputError(
                f"depth: a {array.shape} image is too large to copy into contiguous memory"
            ) from None
        dtype, shape, strides = array.dtype, list(array.shape), list(array.strides)
        address, on_device, stream, keep = array, False, 0, array
    if len(shape) == 3 and shape[2] == 1:
        shape, strides = shape[:2], strides[:2]
    if len(shape) != 2:
        raise InputError(f"depth: expected an (H, W) array, given shape {tuple(shape)}")
    if encoding is None:
        encoding = next((name for name, dt in DEPTH_DTYPES.items() if dt == dtype), None)
        if encoding is None:
            raise InputError(
                f"depth: expected uint16 (16UC1, mm) or float32 (32FC1, m) values, given {dtype}"
            )
    elif encoding not in DEPTH_DTYPES:
        raise InputError(
            f"depth encoding: expected one of {', '.join(DEPTH_ENCODINGS)}, given {encoding!r}"
        )
    elif DEPTH_DTYPES[encoding] != dtype:
        raise InputError(
            f"depth: expected {DEPTH_DTYPES[encoding]} values for {encoding}, given {dtype}"
        )
    height, width = shape
    if not height or not width:
        raise InputError(f"depth: expected an image of width/height >= 1, given {width}x{height}")
    if width > 1 and strides[1] != dtype.itemsize:
        raise InputError(f"depth: expected rows of contiguous pixels, given strides {strides}")
    step = strides[0] if height > 1 else width * dtype.itemsize
    size = (height - 1) * step + width * dtype.itemsize
    return LocatedFrame(address, size, width, height, step, encoding, on_device, stream), keep


@dataclass(frozen=True)
class Detections3D:
    """Detections placed in 3D: the 2D detections, and per detection its position and size
    (metres, optical frame; NaN rows where the box has no depth) and the depth statistics."""

    detections: Detections
    positions: np.ndarray  # (N, 3) float32 x, y, z of the box centre at the object's depth
    sizes: np.ndarray  # (N, 3) float32 width, height, depth extent
    valid: np.ndarray  # (N,) bool: the box had enough measured depth
    depth_near_far: np.ndarray  # (N, 3) float32 the object's median, near and far depth
    pixels: np.ndarray  # (N, 2) int32 measured pixels in the inner region, on the object

    def __len__(self) -> int:
        return len(self.detections)

    @property
    def without_depth(self) -> int:
        """Boxes left without a position (too few measured depth pixels)."""
        return int((~self.valid).sum())

    def to_msg_3d(self, header: Any = None, messages: Any = None) -> Any:
        """A ``vision_msgs/Detection3DArray`` (4.x layout) of the detections with depth: per
        detection its hypothesis (label or class id, score) with the position as its pose, and
        the box (centre, size). ``messages``: a namespace with ``Detection3DArray``,
        ``Detection3D`` and ``ObjectHypothesisWithPose`` (default ``vision_msgs.msg``)."""
        m = messages if messages is not None else _vision_msgs()
        array = m.Detection3DArray()
        if header is not None:
            array.header = header
        names = self.detections.class_names()
        out = []
        for i in np.flatnonzero(self.valid).tolist():
            det = m.Detection3D()
            if header is not None:
                det.header = header
            x, y, z = (float(v) for v in self.positions[i])
            centre = det.bbox.center
            centre.position.x, centre.position.y, centre.position.z = x, y, z
            centre.orientation.w = 1.0
            det.bbox.size.x, det.bbox.size.y, det.bbox.size.z = (float(v) for v in self.sizes[i])
            hyp = m.ObjectHypothesisWithPose()
            hyp.hypothesis.class_id = names[i]
            hyp.hypothesis.score = float(self.detections.scores[i])
            hyp.pose.pose.position.x, hyp.pose.pose.position.y, hyp.pose.pose.position.z = x, y, z
            hyp.pose.pose.orientation.w = 1.0
            det.results = [hyp]
            out.append(det)
        array.detections = out
        return array


class DepthLifter:
    """Places 2D detections in 3D from registered depth, on ``device`` ("cpu" or "cuda").

    ``rule``: the :class:`DepthRule` (default: its defaults). ``threads``: on the CPU, threads
    sharing a frame's boxes (0: one per core, at most 8). On the GPU, ``last_kernel_ms`` is the
    GPU time of the last frame's statistics.
    """

    def __init__(self, device: str = "cpu", rule: Any = None, threads: int = 0) -> None:
        if device != "cpu" and not str(device).startswith("cuda"):
            raise InputError(f"device: expected 'cpu' or 'cuda[:N]', given {device!r}")
        self.device = device
        self.rule = rule if rule is not None else DepthRule()
        if not isinstance(self.rule, DepthRule):
            raise InputError(f"rule: expected a DepthRule, given {type(self.rule).__name__}")
        self._runner = (
            _core.depth.CpuBoxDepths(threads) if device == "cpu" else _core.depth.GpuBoxDepths()
        )

    @property
    def last_kernel_ms(self) -> float | None:
        return getattr(self._runner, "last_kernel_ms", None)

    def __call__(
        self,
        detections: Detections,
        colour_size: tuple[int, int],
        depth: Any,
        intrinsics: Intrinsics | Any,
        encoding: str | None = None,
        depth_scale: float | None = None,
        extrinsic: Any = None,
        colour_intrinsics: Intrinsics | Any = None,
    ) -> Detections3D:
        """``detections`` in a colour image of ``colour_size`` (width, height), placed with
        ``depth`` (see :func:`locate_depth`) and the depth image's ``intrinsics`` (an
        :class:`Intrinsics` or a ``sensor_msgs/CameraInfo``).

        Depth from another camera: ``extrinsic`` (4×4, depth camera -> colour camera, metres)
        and the colour camera's ``colour_intrinsics``. The depth is then registered to the
        colour camera first (each measured pixel moved into its view, the nearest winning) and
        positions are in the colour camera's optical frame."""
        try:
            size = tuple(colour_size)
        except TypeError:
            raise InputError(
                f"colour_size: expected (width, height), given {type(colour_size).__name__}"
            ) from None
        if not isinstance(intrinsics, Intrinsics):
            intrinsics = Intrinsics.from_camera_info(intrinsics)
        moved = None
        if extrinsic is not None:
            try:
                matrix = np.asarray(extrinsic, dtype=np.float64)
            except (TypeError, ValueError):
                raise InputError(
                    "extrinsic: expected a 4x4 matrix of real numbers, given "
                    f"{type(extrinsic).__name__}"
                ) from None
            if matrix.shape != (4, 4):
                raise InputError(f"extrinsic: expected a 4x4 matrix, given shape {matrix.shape}")
            if colour_intrinsics is None:
                raise InputError("colour_intrinsics: expected the colour camera's with extrinsic")
            if not isinstance(colour_intrinsics, Intrinsics):
                colour_intrinsics = Intrinsics.from_camera_info(colour_intrinsics)
            moved = (matrix.reshape(-1).tolist(), list(colour_intrinsics.as_tuple()))
        located, keep = locate_depth(depth, encoding)
        scale = 0.0 if depth_scale is None else float(depth_scale)
        if depth_scale is not None and not scale > 0:
            raise InputError(f"depth_scale: expected metres per unit > 0, given {depth_scale!r}")
        out = _core.depth.lift_boxes(
            detections.boxes,
            size,
            located,
            scale,
            list(intrinsics.as_tuple()),
            self.rule,
            self._runner,
            *(moved or (None, None)),
        )
        del keep
        return Detections3D(detections, **out)
