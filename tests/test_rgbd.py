"""Objects placed in 3D from registered depth: synthetic scenes of known geometry (a plane or a
box in front of a farther background, with holes and noise) give positions within 1% of the
depth and sizes within 5%; the statistics equal a NumPy implementation of the documented rule;
the GPU gives the CPU's numbers; bad input raises InputError."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from onnx_models import coco_model
from trtpipe.decode.detections import Detections
from trtpipe.errors import InputError
from trtpipe.rgbd import DepthLifter, DepthRule, Intrinsics, locate_depth

K = Intrinsics(fx=600.0, fy=610.0, cx=318.0, cy=243.0)  # of a 640x480 depth image
WIDTH, HEIGHT = 640, 480


def _scene(
    rng: np.random.Generator, box: tuple[int, int, int, int], z: float, extent: float = 0.0
) -> np.ndarray:
    """Depth in metres: background at 5 m (+-2 cm noise), an object covering ``box`` with its
    front at ``z`` and, for a box-shaped object, a slope of ``extent`` metres across it; 3% holes
    (0), and NaN in a corner."""
    depth = 5.0 + rng.normal(0, 0.02, (HEIGHT, WIDTH))
    x1, y1, x2, y2 = box
    ramp = np.linspace(0, extent, x2 - x1)[None, :] if extent else 0.0
    depth[y1:y2, x1:x2] = z + ramp + rng.normal(0, 0.002, (y2 - y1, x2 - x1))
    depth[rng.random((HEIGHT, WIDTH)) < 0.03] = 0.0
    depth[:20, :20] = np.nan
    return depth.astype(np.float32)


def _detections(boxes) -> Detections:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return Detections.from_arrays(boxes, np.linspace(0.9, 0.5, len(boxes)), np.arange(len(boxes)))


def _expected(box, z: float, k: Intrinsics = K, scale: float = 1.0):
    x1, y1, x2, y2 = box
    u, v = (x1 + x2) / 2 * scale, (y1 + y2) / 2 * scale
    position = [(u - k.cx) * z / k.fx, (v - k.cy) * z / k.fy, z]
    size = [(x2 - x1) * scale * z / k.fx, (y2 - y1) * scale * z / k.fy]
    return np.array(position), np.array(size)


def _oracle(depth_m: np.ndarray, box, rule) -> tuple[int, int, float, float, float]:
    """The rule of csrc/decode/box_depth.hpp, written with NumPy."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    hw, hh = rule.inner * (x2 - x1) / 2, rule.inner * (y2 - y1) / 2
    h, w = depth_m.shape
    c0, c1 = int(np.clip(np.floor(cx - hw), 0, w)), int(np.clip(np.ceil(cx + hw), 0, w))
    r0, r1 = int(np.clip(np.floor(cy - hh), 0, h)), int(np.clip(np.ceil(cy + hh), 0, h))
    values = depth_m[r0:r1, c0:c1].ravel()
    ok = np.isfinite(values) & (values > 0) & (values >= rule.min_depth)
    ok &= values <= rule.max_depth
    measured = np.sort(values[ok])
    if len(measured) < rule.min_pixels:
        return len(measured), 0, np.nan, np.nan, np.nan
    median = measured[(len(measured) - 1) // 2]
    obj = measured[np.abs(measured - median) <= rule.tolerance]
    n = len(obj)

    def rank(q: float) -> int:
        return int(np.floor(np.float32(q) * np.float32(n - 1)))

    return len(measured), n, obj[(n - 1) // 2], obj[rank(rule.near_quantile)], obj[rank(0.95)]


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("encoding", ["32FC1", "16UC1"])
def test_a_plane_and_a_box_are_placed_within_1_percent(device, encoding):
    rng = np.random.default_rng(1)
    plane, box = (100, 120, 260, 360), (380, 60, 560, 300)
    depth = _scene(rng, plane, 1.5)
    slab = _scene(rng, box, 2.4, extent=0.4)
    depth[60:300, 380:560] = slab[60:300, 380:560]
    if encoding == "16UC1":
        depth = np.nan_to_num(depth * 1000, nan=0).round().astype(np.uint16)
    lifter = DepthLifter(device)
    placed = lifter(_detections([plane, box]), (WIDTH, HEIGHT), depth, K)
    assert placed.valid.all() and placed.without_depth == 0
    for i, (b, z) in enumerate(((plane, 1.5), (box, 2.6))):  # the slope's median: its middle
        position, size = _expected(b, z)
        np.testing.assert_allclose(placed.positions[i], position, rtol=0, atol=0.01 * z)
        np.testing.assert_allclose(placed.sizes[i, :2], size, rtol=0.05)
    assert placed.sizes[0, 2] < 0.02  # a plane facing the camera: no depth extent
    assert placed.sizes[1, 2] == pytest.approx(0.4 * 0.9 * 0.5, rel=0.1)  # 5%..95% of its half


@pytest.mark.parametrize("device", DEVICES)
def test_depth_at_half_the_colour_resolution(device):
    rng = np.random.default_rng(2)
    depth = _scene(rng, (50, 60, 130, 180), 0.9)  # a 640x480 depth image ...
    k = K
    colour_box = [100, 120, 260, 360]  # ... of a 1280x960 colour image
    placed = DepthLifter(device)(_detections([colour_box]), (1280, 960), depth, k)
    position, size = _expected(colour_box, 0.9, k, scale=0.5)
    np.testing.assert_allclose(placed.positions[0], position, atol=0.009)
    np.testing.assert_allclose(placed.sizes[0, :2], size, rtol=0.05)


@pytest.mark.parametrize("device", DEVICES)
def test_a_box_of_holes_has_no_depth_and_no_position(device):
    depth = np.full((HEIGHT, WIDTH), 3000, np.uint16)
    depth[100:200, 100:200] = 0  # no measurement at all
    nan_only = np.full((HEIGHT, WIDTH), np.nan, np.float32)
    boxes = [[100, 100, 200, 200], [300, 300, 400, 400], [-50, -50, -10, -10]]
    placed = DepthLifter(device)(_detections(boxes), (WIDTH, HEIGHT), depth, K)
    assert placed.valid.tolist() == [False, True, False]
    assert placed.without_depth == 2
    assert np.isnan(placed.positions[0]).all() and np.isnan(placed.positions[2]).all()
    assert placed.pixels[0].tolist() == [0, 0] and placed.pixels[2].tolist() == [0, 0]
    assert not DepthLifter(device)(_detections(boxes), (WIDTH, HEIGHT), nan_only, K).valid.any()


@pytest.mark.parametrize("device", DEVICES)
def test_statistics_follow_the_documented_rule(device):
    """Random boxes (in and partly out of the image) over a noisy scene of several depths,
    against a NumPy implementation of the rule: the same values exactly."""
    rng = np.random.default_rng(3)
    depth = rng.choice([0.8, 1.7, 3.2, 6.0], size=(HEIGHT, WIDTH)).astype(np.float32)
    depth += rng.normal(0, 0.05, depth.shape).astype(np.float32)
    depth[rng.random(depth.shape) < 0.1] = 0
    depth[rng.random(depth.shape) < 0.02] = np.inf
    xy = rng.uniform(-40, 600, (100, 2))
    wh = rng.uniform(2, 260, (100, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    rule = DepthRule(tolerance=0.4, min_pixels=5, max_depth=5.0)
    lifter = DepthLifter(device, rule)
    placed = lifter(_detections(boxes), (WIDTH, HEIGHT), depth, K)
    for i, box in enumerate(boxes):
        measured, on_object, z, near, far = _oracle(depth, box, rule)
        assert placed.pixels[i].tolist() == [measured, on_object], i
        np.testing.assert_array_equal(placed.depth_near_far[i], [z, near, far], err_msg=str(i))
    if device != "cpu":
        assert lifter.last_kernel_ms is not None and lifter.last_kernel_ms > 0


@pytest.mark.gpu
def test_gpu_statistics_equal_the_cpu_ones_for_a_gpu_depth_image():
    cp = pytest.importorskip("cupy")
    rng = np.random.default_rng(4)
    depth = (rng.random((720, 1280)) * 8000).astype(np.uint16)
    depth[rng.random(depth.shape) < 0.2] = 0
    xy = rng.uniform(0, 1100, (100, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(4, 180, (100, 2))], axis=1)
    k = Intrinsics(900, 900, 640, 360)
    dets = _detections(boxes)
    cpu = DepthLifter("cpu")(dets, (1280, 720), depth, k)
    gpu = DepthLifter("cuda")(dets, (1280, 720), cp.asarray(depth), k)
    np.testing.assert_array_equal(gpu.pixels, cpu.pixels)
    np.testing.assert_array_equal(gpu.depth_near_far, cpu.depth_near_far)
    np.testing.assert_array_equal(gpu.positions, cpu.positions)


def test_bad_depth_input_raises_input_errors():
    lifter = DepthLifter("cpu")
    dets = _detections([[0, 0, 10, 10]])
    depth = np.ones((48, 64), np.uint16)
    with pytest.raises(InputError, match=r"uint16 .*or float32"):
        lifter(dets, (64, 48), depth.astype(np.uint8), K)
    with pytest.raises(InputError, match="float32 values for 32FC1"):
        lifter(dets, (64, 48), depth, K, encoding="32FC1")
    with pytest.raises(InputError, match="depth encoding"):
        lifter(dets, (64, 48), depth, K, encoding="mono8")
    with pytest.raises(InputError, match=r"\(H, W\)"):
        lifter(dets, (64, 48), np.ones((48, 64, 3), np.float32), K)
    with pytest.raises(InputError, match="intrinsics"):
        lifter(dets, (64, 48), depth, Intrinsics(0, 500, 32, 24))
    with pytest.raises(InputError, match="depth_scale"):
        lifter(dets, (64, 48), depth, K, depth_scale=-1)
    with pytest.raises(InputError, match="camera_info"):
        lifter(dets, (64, 48), depth, object())
    with pytest.raises(InputError, match="inner"):
        DepthRule(inner=0)
    with pytest.raises(InputError, match=r"width/height >= 1"):
        lifter(dets, (64, 48), np.ones((0, 64), np.uint16), K)


def test_depth_views_big_endian_padded_and_broadcast():
    depth = np.full((48, 64), 1500, np.uint16)
    dets = _detections([[10, 10, 50, 40]])
    k = Intrinsics(60, 60, 32, 24)
    want = DepthLifter()(dets, (64, 48), depth, k).positions
    padded = np.zeros((48, 80), np.uint16)
    padded[:, :64] = 1500
    for view in (depth.astype(">u2"), padded[:, :64], np.broadcast_to(depth[:1], (48, 64))):
        np.testing.assert_array_equal(DepthLifter()(dets, (64, 48), view, k).positions, want)
    located, _ = locate_depth(padded[:, :64])
    assert located.step == 160 and located.encoding == "16UC1"
    huge = np.broadcast_to(np.uint16(1500), (1 << 20, 1 << 20))  # 2 TiB once copied
    with pytest.raises(InputError, match=r"depth: a .* image is too large to copy"):
        locate_depth(huge)


def test_intrinsics_from_camera_info_and_the_3d_message():
    info = SimpleNamespace(k=[600.0, 0, 318.0, 0, 610.0, 243.0, 0, 0, 1])
    assert Intrinsics.from_camera_info(info) == K
    depth = np.full((HEIGHT, WIDTH), 2.0, np.float32)
    depth[:, 320:] = 0  # the second box has no depth
    dets = Detections.from_arrays([[100, 100, 200, 200], [400, 100, 500, 200]], [0.9, 0.8], [3, 4])
    placed = DepthLifter()(dets, (WIDTH, HEIGHT), depth, info)
    msgs = pytest.importorskip("vision_msgs.msg")
    header = SimpleNamespace(frame_id="camera_optical")
    array = placed.to_msg_3d(header=None, messages=msgs)
    assert len(array.detections) == 1  # the box without depth is left out
    det = array.detections[0]
    assert det.results[0].hypothesis.class_id == "3"
    assert det.bbox.center.position.z == pytest.approx(2.0)
    assert det.bbox.size.x == pytest.approx(100 * 2.0 / 600.0)
    assert det.results[0].pose.pose.position.x == pytest.approx(det.bbox.center.position.x)
    assert header.frame_id  # headers are set as given (not checked without a real message)


def _offset_scene(colour_k: Intrinsics, depth_k: Intrinsics, baseline: float, box, z: float):
    """The depth image of a depth camera `baseline` metres to the colour camera's right (same
    orientation), seeing a rectangle at `z` (the colour box back-projected) in front of a wall
    at 5 m: ray cast per depth pixel centre."""
    x1, y1, x2, y2 = box
    left, right = (x1 - colour_k.cx) * z / colour_k.fx, (x2 - colour_k.cx) * z / colour_k.fx
    top, bottom = (y1 - colour_k.cy) * z / colour_k.fy, (y2 - colour_k.cy) * z / colour_k.fy
    u = np.arange(WIDTH) + 0.5
    v = np.arange(HEIGHT) + 0.5
    # a point seen by the depth camera at X_d lies at X_c = X_d + baseline in the colour frame
    xc = (u[None, :] - depth_k.cx) * z / depth_k.fx + baseline
    yc = (v[:, None] - depth_k.cy) * z / depth_k.fy
    hit = (xc >= left) & (xc <= right) & (yc >= top) & (yc <= bottom)
    return np.where(hit, z, 5.0).astype(np.float32)


@pytest.mark.parametrize("device", DEVICES)
def test_depth_from_another_camera_is_registered_with_the_extrinsic(device):
    """A depth camera 6 cm to the side sees the object shifted by fx * 0.06 / z pixels; with
    the extrinsic its depth is moved into the colour view and the object is placed where the
    colour camera sees it, within 1% of the depth."""
    colour_k = Intrinsics(620.0, 620.0, 321.0, 239.0)
    depth_k = Intrinsics(580.0, 585.0, 316.0, 244.0)
    box, z, baseline = (280, 180, 320, 300), 1.2, 0.06  # narrower than the shift
    depth = _offset_scene(colour_k, depth_k, baseline, box, z)
    extrinsic = np.eye(4)
    extrinsic[0, 3] = baseline  # depth -> colour: X_c = X_d + baseline
    lifter = DepthLifter(device)
    dets = _detections([box])
    placed = lifter(
        dets, (WIDTH, HEIGHT), depth, depth_k, extrinsic=extrinsic, colour_intrinsics=colour_k
    )
    position, size = _expected(box, z, colour_k)
    assert placed.valid.all()
    np.testing.assert_allclose(placed.positions[0], position, atol=0.01 * z)
    np.testing.assert_allclose(placed.sizes[0, :2], size, rtol=0.05)
    # without the extrinsic the same box reads the wrong pixels: the wall behind
    naive = lifter(dets, (WIDTH, HEIGHT), depth, colour_k)
    assert naive.depth_near_far[0, 0] != pytest.approx(z, rel=0.01)
    with pytest.raises(InputError, match="colour_intrinsics"):
        lifter(dets, (WIDTH, HEIGHT), depth, depth_k, extrinsic=extrinsic)
    bad = extrinsic.copy()
    bad[3, 0] = 1.0
    with pytest.raises(InputError, match="last row"):
        lifter(dets, (WIDTH, HEIGHT), depth, depth_k, extrinsic=bad, colour_intrinsics=colour_k)


@pytest.mark.gpu
def test_gpu_registration_equals_the_cpu_one():
    """A rotated and shifted depth camera: the GPU's registered statistics are the CPU's."""
    rng = np.random.default_rng(5)
    depth = (rng.random((HEIGHT, WIDTH)) * 4000 + 300).astype(np.uint16)
    depth[rng.random(depth.shape) < 0.1] = 0
    angle = 0.05
    extrinsic = np.eye(4)
    extrinsic[:3, :3] = [
        [np.cos(angle), 0, np.sin(angle)],
        [0, 1, 0],
        [-np.sin(angle), 0, np.cos(angle)],
    ]
    extrinsic[:3, 3] = [0.05, -0.01, 0.002]
    xy = rng.uniform(0, 560, (60, 2))
    dets = _detections(np.concatenate([xy, xy + rng.uniform(8, 160, (60, 2))], axis=1))
    colour_k = Intrinsics(620.0, 620.0, 321.0, 239.0)
    args = ((WIDTH, HEIGHT), depth, K)
    moved = {"extrinsic": extrinsic, "colour_intrinsics": colour_k}
    cpu = DepthLifter("cpu")(dets, *args, **moved)
    gpu = DepthLifter("cuda")(dets, *args, **moved)
    assert cpu.valid.any()
    np.testing.assert_array_equal(gpu.pixels, cpu.pixels)
    np.testing.assert_array_equal(gpu.depth_near_far, cpu.depth_near_far)


def test_detect_rgbd_places_the_detectors_own_detections():
    pytest.importorskip("onnxruntime")
    coco_model()  # the sample model, or a skip with the reason
    from trtpipe.detector import Detector
    from trtpipe.samples import sample_images, sample_model

    det = Detector(sample_model(), backend="onnxruntime", device="cpu", conf=0.2)
    colour = next(image for _, image in sample_images() if image.ndim == 3)
    h, w = colour.shape[:2]
    depth = np.full((h // 2, w // 2), 1500, np.uint16)
    k = Intrinsics(250.0, 250.0, w / 4, h / 4)
    placed = det.detect_rgbd(colour, depth, k)
    want = DepthLifter()(det(colour), (w, h), depth, k)
    assert len(placed) == len(want) > 0
    np.testing.assert_array_equal(placed.positions, want.positions)
