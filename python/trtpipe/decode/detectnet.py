"""NVIDIA DetectNet_v2 (TAO; PeopleNet and friends) grids, decoded as Isaac ROS's DetectNet
decoder does: a coverage map ``[B, C, H, W]`` and a bbox map ``[B, 4 * C, H, W]``, one cell
per ``stride`` network pixels.

For class c at cell (row, col) the cell centre is ((col + offset) * stride, (row + offset) *
stride) and the four bbox channels c*4 .. c*4+3 hold, times ``bbox_scale``, the distances from
it to the left, top, right and bottom edges. Cells at or below ``conf`` coverage (every decoder
keeps only scores greater than ``conf``) or with a box area
under ``min_box_area`` (network px²) are dropped. Isaac ROS then clusters with DBSCAN; trtpipe
uses class-aware NMS, DeepStream's other clustering mode.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trtpipe.decode.common import (
    DecodeOptions,
    Transforms,
    as_float_array,
    class_filter,
    finish,
    per_image,
)
from trtpipe.decode.detections import Detections
from trtpipe.errors import InputError

# Isaac ROS defaults (bounding_box_scale, bounding_box_offset, min_bbox_area; the grid stride
# is fixed at 16 for DetectNet_v2).
STRIDE = 16
BBOX_SCALE = 35.0
BBOX_OFFSET = 0.5
MIN_BOX_AREA = 100.0


def decode_detectnet(
    coverage: Any,
    bbox: Any,
    transforms: Transforms = None,
    options: DecodeOptions | None = None,
    *,
    stride: int = STRIDE,
    bbox_scale: float = BBOX_SCALE,
    bbox_offset: float = BBOX_OFFSET,
    min_box_area: float = MIN_BOX_AREA,
    **overrides: Any,
) -> list[Detections]:
    """One :class:`Detections` per image of the batch; cells with a non-finite box or
    coverage are skipped."""
    opts = DecodeOptions.of(options, **overrides)
    cov = as_float_array(coverage, "coverage", (3, 4))
    box = as_float_array(bbox, "bbox", (3, 4))
    if cov.ndim == 3:
        cov, box = cov[None], box[None]
    batch, num_classes, rows, cols = cov.shape
    if box.shape != (batch, 4 * num_classes, rows, cols):
        raise InputError(
            f"bbox: expected [{batch}, {4 * num_classes}, {rows}, {cols}] for coverage "
            f"{cov.shape}, given {box.shape}"
        )
    wanted = class_filter(opts, num_classes)
    centre_x = (np.arange(cols, dtype=np.float32) + bbox_offset) * stride
    centre_y = (np.arange(rows, dtype=np.float32) + bbox_offset) * stride
    results = []
    images = per_image(transforms, batch)
    for b in range(batch):
        c = cov[b]
        # (class, row, col) of every cell that passes the coverage threshold
        cls_idx, row_idx, col_idx = np.nonzero(c > opts.conf)  # ">" as every decoder
        if wanted is not None:
            sel = np.isin(cls_idx, wanted)
            cls_idx, row_idx, col_idx = cls_idx[sel], row_idx[sel], col_idx[sel]
        dist = box[b].reshape(num_classes, 4, rows, cols)[cls_idx, :, row_idx, col_idx]
        dist = dist * bbox_scale
        cx, cy = centre_x[col_idx], centre_y[row_idx]
        boxes = np.stack(
            [cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], axis=-1
        )
        area = (dist[:, 0] + dist[:, 2]) * (dist[:, 1] + dist[:, 3])
        keep = area >= min_box_area
        results.append(
            finish(
                boxes[keep],
                c[cls_idx, row_idx, col_idx][keep],
                cls_idx[keep].astype(np.int64),
                images[b],
                opts,
            )
        )
    return results
