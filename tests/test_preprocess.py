"""The CPU reference in _core against independent formulations (NumPy, OpenCV), plus the
letterbox geometry and every bad input the entry point must refuse."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import preprocess_oracle as oracle
from trtpipe.errors import InputError
from trtpipe.preprocess import ENCODINGS, Letterbox, Preprocessor, letterbox_params

RNG = np.random.default_rng(20261201)
PACKED = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8")


def raw_frame(encoding: str, width: int, height: int, extra_step: int = 0, rng=RNG):
    """Random bytes of a frame and its step (rows padded by extra_step bytes)."""
    row = width * oracle.BYTES_PER_PIXEL[encoding]
    rows = height * 3 // 2 if encoding == "nv12" else height
    step = row + extra_step
    data = rng.integers(0, 256, size=(rows, row), dtype=np.uint8)
    return oracle.pack(data, step), step


def unnormalised(**kwargs) -> Preprocessor:
    kwargs.setdefault("layout", "NHWC")
    return Preprocessor(device="cpu", scale=1.0, **kwargs)


def run_raw(pre: Preprocessor, buf, width, height, step, encoding, batch=1, batch_index=0):
    out = pre.empty(batch)
    lb = pre(buf, out, encoding, width=width, height=height, step=step, batch_index=batch_index)
    return out, lb


# --- geometry -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "dst", "scale", "pad"),
    [
        ((1920, 1080), (640, 640), (1 / 3, 1 / 3), (0, 140)),
        ((640, 480), (640, 640), (1.0, 1.0), (0, 80)),
        ((480, 640), (640, 640), (1.0, 1.0), (80, 0)),
        ((100, 50), (64, 64), (0.64, 0.64), (0, 16)),
        ((1000, 500), (641, 641), (0.641, 321 / 500), (0, 160)),
        ((64, 64), (32, 16), (0.25, 0.25), (8, 0)),
    ],
)
def test_letterbox_params_known_answers(src, dst, scale, pad):
    lb = letterbox_params(*src, *dst)
    assert (lb.scale_x, lb.scale_y) == pytest.approx(scale)
    assert (lb.pad_x, lb.pad_y) == pad
    assert (lb.src_w, lb.src_h, lb.dst_w, lb.dst_h) == (*src, *dst)
    assert (lb.new_w, lb.new_h, lb.pad_x, lb.pad_y) == oracle.geometry(*src, *dst, "letterbox")


def test_stretch_params_fill_the_input():
    lb = letterbox_params(1920, 1080, 640, 640, mode="stretch")
    assert (lb.scale_x, lb.scale_y, lb.pad_x, lb.pad_y) == (1 / 3, 640 / 1080, 0, 0)
    with pytest.raises(InputError, match="mode: expected one of letterbox, stretch"):
        letterbox_params(10, 10, 5, 5, mode="crop")
    with pytest.raises(InputError, match="source size: expected width and height >= 1"):
        letterbox_params(0, 10, 5, 5)


def test_boxes_map_back_to_the_source_and_clip():
    lb = letterbox_params(1920, 1080, 640, 640)
    source = np.array([[30.0, 60.0, 900.0, 1000.0], [0.0, 0.0, 1920.0, 1080.0]])
    net = lb.to_network(source)
    np.testing.assert_allclose(net[0], [10.0, 160.0, 300.0, 473.33333], rtol=1e-6)
    np.testing.assert_allclose(lb.to_source(net), source, rtol=1e-9)
    # a box reaching into the padding clips to the image
    np.testing.assert_allclose(lb.to_source([[-5.0, 100.0, 650.0, 600.0]]), [[0, 0, 1920, 1080]])
    assert lb.to_source(np.zeros((0, 4), np.float32)).shape == (0, 4)
    with pytest.raises(InputError, match=r"boxes_xyxy: expected shape \(..., 4\)"):
        lb.to_source(np.zeros((3, 5)))


def test_letterbox_is_a_frozen_dataclass_with_the_agreed_fields():
    lb = letterbox_params(10, 20, 30, 30)
    assert isinstance(lb, Letterbox)
    fields = ("scale_x", "scale_y", "pad_x", "pad_y", "src_w", "src_h", "dst_w", "dst_h")
    assert tuple(Letterbox.__dataclass_fields__) == fields
    with pytest.raises(AttributeError):
        lb.pad_x = 3  # type: ignore[misc]


# --- CPU reference vs NumPy -----------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("resize", ["letterbox", "stretch"])
def test_cpu_matches_numpy_formulation(encoding, interpolation, resize):
    width, height = 38, 26
    buf, step = raw_frame(encoding, width, height, extra_step=7)
    pre = unnormalised(size=(48, 40), resize=resize, interpolation=interpolation, pad_value=114)
    out, lb = run_raw(pre, buf, width, height, step, encoding)
    rgb = oracle.decode(buf, width, height, step, encoding)
    want = oracle.preprocess(rgb, 48, 40, resize, interpolation, 114)
    np.testing.assert_allclose(out[0], want, atol=1.0)
    assert (lb.new_w, lb.new_h, lb.pad_x, lb.pad_y) == oracle.geometry(
        width, height, 48, 40, resize
    )


@pytest.mark.parametrize("src", [(1920, 1080), (64, 200), (7, 5), (1, 1), (640, 640)])
def test_cpu_geometry_matches_numpy_for_awkward_sizes(src):
    width, height = src
    img = RNG.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    out = unnormalised(size=(64, 48)).empty(1)
    unnormalised(size=(64, 48))(img, out, "rgb8")
    want = oracle.preprocess(img.astype(np.float64), 64, 48)
    np.testing.assert_allclose(out[0], want, atol=1.0)


def test_layouts_dtypes_and_channel_orders_agree():
    img = RNG.integers(0, 256, size=(30, 50, 3), dtype=np.uint8)
    ref = unnormalised(size=(32, 24))
    nhwc = ref.empty(1)
    ref(img, nhwc)
    for layout in ("NCHW", "NHWC"):
        for order in ("RGB", "BGR"):
            pre = unnormalised(size=(32, 24), layout=layout, channel_order=order)
            out = pre.empty(1)
            pre(img, out)
            got = out[0].transpose(1, 2, 0) if layout == "NCHW" else out[0]
            want = nhwc[0] if order == "RGB" else nhwc[0][..., ::-1]
            np.testing.assert_array_equal(got, want)


def test_normalisation_is_scale_then_mean_and_std_per_output_channel():
    img = RNG.integers(0, 256, size=(30, 50, 3), dtype=np.uint8)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    raw = unnormalised(size=(32, 32), layout="NCHW", channel_order="BGR")
    base = raw.empty(1)
    raw(img, base)
    pre = Preprocessor(
        size=(32, 32), channel_order="BGR", scale=1 / 255, mean=mean, std=std, device="cpu"
    )
    out = pre.empty(1)
    pre(img, out)
    want = (base[0] * np.float32(1 / 255) - np.array(mean, np.float32)[:, None, None]) / np.array(
        std, np.float32
    )[:, None, None]
    np.testing.assert_allclose(out[0], want, rtol=1e-6, atol=1e-6)


def test_float16_output_is_the_float32_result_rounded():
    img = RNG.integers(0, 256, size=(33, 47, 3), dtype=np.uint8)
    kwargs = dict(size=(40, 40), mean=(0.5, 0.4, 0.3), std=(0.01, 0.2, 3.0), device="cpu")
    f32, f16 = Preprocessor(**kwargs), Preprocessor(dtype="float16", **kwargs)
    a, b = f32.empty(1), f16.empty(1)
    f32(img, a)
    f16(img, b)
    assert b.dtype == np.float16
    np.testing.assert_array_equal(b, a.astype(np.float16))


@pytest.mark.parametrize(
    "scale", [1e-7, 3e-6, 1.0, 300.0], ids=["subnormal", "tiny", "1", "overflow"]
)
def test_float16_rounding_covers_subnormals_and_overflow(scale):
    img = RNG.integers(0, 256, size=(21, 37, 3), dtype=np.uint8)
    kwargs = dict(size=(24, 24), scale=scale, mean=(0.0, 1e-6 * scale, -0.5), device="cpu")
    f32, f16 = Preprocessor(**kwargs), Preprocessor(dtype="float16", **kwargs)
    a, b = f32.empty(1), f16.empty(1)
    f32(img, a)
    f16(img, b)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(b.view(np.uint16), a.astype(np.float16).view(np.uint16))


def test_batch_slot_writes_only_its_slot():
    img = RNG.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    pre = Preprocessor(size=(16, 16), device="cpu")
    single = pre.empty(1)
    pre(img, single)
    out = np.full(pre.output_shape(4), -7.0, np.float32)
    pre(img, out, batch_index=2)
    np.testing.assert_array_equal(out[2], single[0])
    for slot in (0, 1, 3):
        assert np.all(out[slot] == -7.0)


def test_array_views_with_padded_rows_are_read_in_place():
    big = RNG.integers(0, 256, size=(40, 70, 3), dtype=np.uint8)
    view = big[5:35, 10:60]  # rows 210 bytes apart, 150 bytes used
    pre = unnormalised(size=(32, 32))
    a, b = pre.empty(1), pre.empty(1)
    pre(view, a)
    pre(np.ascontiguousarray(view), b)
    np.testing.assert_array_equal(a, b)
    gray = RNG.integers(0, 256, size=(20, 30), dtype=np.uint8)
    pre(gray, a)  # a 2-D array is mono8
    np.testing.assert_allclose(
        a[0], oracle.preprocess(np.repeat(gray[..., None], 3, 2).astype(float), 32, 32), atol=1
    )


# --- CPU reference vs OpenCV ----------------------------------------------------------------

cv2 = pytest.importorskip("cv2")


def cv2_letterbox(rgb_u8: np.ndarray, dst_w: int, dst_h: int, pad: int, interp) -> np.ndarray:
    lb = letterbox_params(rgb_u8.shape[1], rgb_u8.shape[0], dst_w, dst_h)
    resized = cv2.resize(rgb_u8, (lb.new_w, lb.new_h), interpolation=interp)
    right, bottom = dst_w - lb.new_w - lb.pad_x, dst_h - lb.new_h - lb.pad_y
    return cv2.copyMakeBorder(
        resized, lb.pad_y, bottom, lb.pad_x, right, cv2.BORDER_CONSTANT, value=(pad, pad, pad)
    )


@pytest.mark.parametrize(
    ("src", "dst"), [((1920, 1080), (640, 640)), ((123, 77), (64, 64)), ((50, 90), (160, 128))]
)
def test_cpu_matches_opencv_letterbox(src, dst):
    width, height = src
    img = RNG.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    pre = unnormalised(size=dst, channel_order="BGR")
    out = pre.empty(1)
    pre(img, out, "bgr8")
    want = cv2_letterbox(img, *dst, 114, cv2.INTER_LINEAR)
    np.testing.assert_allclose(out[0], want, atol=1.0)


YUV_CODES = {
    "nv12": "COLOR_YUV2RGB_NV12",
    "uyvy": "COLOR_YUV2RGB_UYVY",
    "yuv422": "COLOR_YUV2RGB_UYVY",
    "yuyv": "COLOR_YUV2RGB_YUY2",
    "yuv422_yuy2": "COLOR_YUV2RGB_YUY2",
}


@pytest.mark.parametrize("encoding", sorted(YUV_CODES))
def test_yuv_conversion_is_opencvs_bt601(encoding):
    width, height = 64, 48
    if encoding == "nv12":
        yuv = RNG.integers(0, 256, size=(height * 3 // 2, width), dtype=np.uint8)
    else:
        yuv = RNG.integers(0, 256, size=(height, width, 2), dtype=np.uint8)
    rgb = cv2.cvtColor(yuv, getattr(cv2, YUV_CODES[encoding]))
    # no resampling: the output is the converted frame itself
    pre = unnormalised(size=(width, height), resize="stretch")
    out = pre.empty(1)
    pre(yuv, out, encoding)
    np.testing.assert_array_equal(out[0], rgb.astype(np.float32))
    # and through a letterbox resize
    pre = unnormalised(size=(40, 40))
    out = pre.empty(1)
    pre(yuv, out, encoding)
    np.testing.assert_allclose(out[0], cv2_letterbox(rgb, 40, 40, 114, cv2.INTER_LINEAR), atol=1)


# --- bad input ------------------------------------------------------------------------------


def bad(match: str):
    return pytest.raises(InputError, match=match)


def test_bad_frames_raise_input_error_naming_the_field():
    pre = Preprocessor(size=(16, 16), device="cpu")
    out = pre.empty(1)
    buf = bytes(10 * 8 * 3)
    with bad(r"encoding: expected one of rgb8, .*given 'rgb16'"):
        pre(buf, out, "rgb16", width=10, height=8)
    with bad(r"image: expected at least 240 bytes .* given 239"):
        pre(buf[:-1], out, "rgb8", width=10, height=8)
    with bad(r"image: expected at least 261 bytes \(8 rows 33 bytes apart .*given 240"):
        pre(buf, out, "rgb8", width=10, height=8, step=33)
    with bad(r"step: expected at least width x bytes per pixel = 30 bytes.*given 29"):
        pre(buf, out, "rgb8", width=10, height=8, step=29)
    with bad(r"width: expected an even width for yuv422 .*given 9"):
        pre(buf, out, "uyvy", width=9, height=8)
    with bad(r"width: expected an even width for yuv422_yuy2.*given 7"):
        pre(buf, out, "yuv422_yuy2", width=7, height=8)
    with bad(r"height: expected an even height for nv12.*given 7"):
        pre(buf, out, "nv12", width=10, height=7)
    with bad(r"width/height: expected each in 1..32768, given 0x8"):
        pre(buf, out, "rgb8", width=0, height=8)
    with bad(r"width: expected a value for a raw byte buffer, given None"):
        pre(buf, out, "rgb8", height=8)
    with bad(r"encoding: expected a value for a raw byte buffer"):
        pre(buf, out, width=10, height=8)
    with bad(r"image: expected dtype uint8, given float32"):
        pre(np.zeros((8, 10, 3), np.float32), out)
    with bad(r"image: expected 3 channel\(s\) per pixel for rgb8, given an array of shape"):
        pre(np.zeros((8, 10, 4), np.uint8), out, "rgb8")
    with bad(r"width/height: expected each in 1..32768, given 0x8"):
        pre(np.zeros((8, 0, 3), np.uint8), out)
    with bad(r"image: expected a NumPy array, bytes/memoryview or a GPU array"):
        pre([[1, 2, 3]], out)
    with bad(r"image: expected an \(H \* 3/2, W\) array for nv12"):
        pre(np.zeros((8, 10), np.uint8), out, "nv12")
    # an image array given as bytes of a smaller frame: its first rows are not that frame
    with bad(r"image: expected an array of 8 rows for a frame 8 high, given shape \(16, 20, 3\)"):
        pre(np.zeros((16, 20, 3), np.uint8), out, "rgb8", width=10, height=8)
    with bad(r"image: expected an array of 12 rows for a frame 8 high, given shape \(8, 10\)"):
        pre(np.zeros((8, 10), np.uint8), out, "nv12", width=10, height=8)
    assert pre(np.zeros((12, 10), np.uint8), out, "nv12", width=10, height=8).src_h == 8
    assert pre(np.zeros((8, 30), np.uint8), out, "rgb8", width=10, height=8).src_w == 10


def test_a_gpu_array_given_as_the_bytes_of_a_smaller_frame_is_refused():
    from trtpipe.preprocess import locate_frame

    class GpuImage:  # what a GPU array exports; the address is never read here
        @property
        def __cuda_array_interface__(self) -> dict:
            shape, data = (16, 20, 3), (1 << 20, False)
            return {"shape": shape, "typestr": "|u1", "data": data, "version": 3, "strides": None}

    with bad(r"image: expected an array of 8 rows for a frame 8 high, given shape \(16, 20, 3\)"):
        locate_frame(GpuImage(), "rgb8", 10, 8, None)
    frame, _ = locate_frame(GpuImage(), "rgb8", 20, 16, None)
    assert (frame.width, frame.height, frame.size, frame.on_device) == (20, 16, 960, True)


def test_bad_outputs_raise_input_error_naming_the_field():
    pre = Preprocessor(size=(16, 12), device="cpu")
    img = np.zeros((8, 10, 3), np.uint8)
    with bad(r"out: expected shape \(N, 3, 12, 16\) \(NCHW\), given \(1, 3, 12, 15\)"):
        pre(img, np.zeros((1, 3, 12, 15), np.float32))
    with bad(r"out: expected a 4-D NCHW tensor of shape \(N, 3, 12, 16\), given shape \(3, 12"):
        pre(img, np.zeros((3, 12, 16), np.float32))
    with bad(r"out: expected dtype float32, given float64"):
        pre(img, np.zeros((1, 3, 12, 16), np.float64))
    with bad(r"out: expected dtype float32, given float16"):
        pre(img, np.zeros((1, 3, 12, 16), np.float16))
    with bad(r"out: expected a C-contiguous tensor"):
        pre(img, np.zeros((1, 16, 12, 3), np.float32).transpose(0, 3, 2, 1))
    with bad(r"batch_index: expected 0..1 \(the output's batch size is 2\), given 2"):
        pre(img, np.zeros((2, 3, 12, 16), np.float32), batch_index=2)
    with bad(r"out: expected a writable array"):
        ro = np.zeros((1, 3, 12, 16), np.float32)
        ro.flags.writeable = False
        pre(img, ro)
    with bad(r"out: expected a NumPy array or a GPU array"):
        pre(img, [0.0])


def test_stream_handles_from_ints_torch_and_cupy_style_objects():
    from trtpipe.arrays import stream_handle

    class TorchLike:
        cuda_stream = 0x1234

    class CupyLike:
        ptr = 0x5678

    assert stream_handle(0) == 0
    assert stream_handle(None) == 0
    assert stream_handle(np.uint64(7)) == 7
    assert stream_handle(TorchLike()) == 0x1234
    assert stream_handle(CupyLike()) == 0x5678
    with bad(r"stream: expected a cudaStream_t as int, a torch.cuda.Stream or a CuPy stream"):
        stream_handle("default")


def test_bad_options_raise_input_error_naming_the_field():
    with bad(r"size: expected \(width, height\) each in 1..32768, given \(0, 640\)"):
        Preprocessor(size=(0, 640), device="cpu")
    with bad(r"layout: expected one of NCHW, NHWC, given 'CHW'"):
        Preprocessor(layout="CHW", device="cpu")
    with bad(r"dtype: expected one of float32, float16, given 'int8'"):
        Preprocessor(dtype="int8", device="cpu")
    with bad(r"dtype: expected one of float32, float16, given 'half-ish'"):
        Preprocessor(dtype="half-ish", device="cpu")
    assert Preprocessor(dtype=np.float16, device="cpu").empty(1).dtype == np.float16
    with bad(r"channel_order: expected one of RGB, BGR, given 'rgb'"):
        Preprocessor(channel_order="rgb", device="cpu")
    with bad(r"interpolation: expected one of bilinear, nearest, given 'cubic'"):
        Preprocessor(interpolation="cubic", device="cpu")
    with bad(r"std\[1\]: expected a finite non-zero number, given 0"):
        Preprocessor(std=(1, 0, 1), device="cpu")
    with bad(r"mean: expected 3 values"):
        Preprocessor(mean=(0.5,), device="cpu")
    with bad(r"pad_value: expected a number in 0..255, given 300"):
        Preprocessor(pad_value=300, device="cpu")
    with bad(r"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', given 'gpu'"):
        Preprocessor(device="gpu")
    with bad(r"host_input: expected 'auto', 'mapped' or 'copy', given 'dma'"):
        Preprocessor(host_input="dma", device="cpu")
    # values of the wrong kind are refused as such, not parsed, truncated or dumped
    with bad(r"size: expected \(width, height\), given 640"):
        Preprocessor(size=640, device="cpu")
    with bad(r"size\[0\]: expected an int, given float 640.5"):
        Preprocessor(size=(640.5, 640), device="cpu")
    with bad(r"pad_value: expected a finite real number, given str 'x'"):
        Preprocessor(pad_value="x", device="cpu")
    with bad(r"scale: expected a finite real number, given float nan"):
        Preprocessor(scale=float("nan"), device="cpu")
    with bad(r"mean: expected one number per channel, given 'abc'"):
        Preprocessor(mean="abc", device="cpu")
    with bad(r"mean: expected one number per channel, given 0.5"):
        Preprocessor(mean=0.5, device="cpu")
    with bad(r"std\[2\]: expected a finite real number, given str '1'"):
        Preprocessor(std=(1, 1, "1"), device="cpu")
    with bad(r"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', given int"):
        Preprocessor(device=0)


# --- fuzzing the entry point ----------------------------------------------------------------


FAULTS = ("none", "none", "none", "zero", "step", "short", "parity", "slot", "any")


@st.composite
def fuzz_case(draw):
    """A raw frame that is valid, or has one chosen fault (or anything at all, for "any")."""
    fault = draw(st.sampled_from(FAULTS))
    encoding = draw(st.sampled_from(ENCODINGS))
    bpp = oracle.BYTES_PER_PIXEL[encoding]
    subsampled = encoding in (*oracle.YUV422, "nv12")
    width, height = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    if subsampled:
        width += width % 2
    if encoding == "nv12":
        height += height % 2
    step = width * bpp + draw(st.integers(0, 9))
    batch = draw(st.integers(1, 3))
    batch_index = draw(st.integers(0, batch - 1))
    if fault == "zero":
        width, height = draw(st.sampled_from([(0, height), (width, 0), (0, 0)]))
    elif fault == "step":
        step = width * bpp - draw(st.integers(1, 3))
    elif fault == "parity" and subsampled:
        width += 1
    elif fault == "slot":
        batch_index = draw(st.sampled_from([-1, batch]))
    elif fault == "any":
        width, height = draw(st.integers(0, 24)), draw(st.integers(0, 24))
        step = width * bpp + draw(st.integers(-3, 9))
        batch_index = draw(st.integers(-1, 3))
    rows = height + height // 2 if encoding == "nv12" else height
    needed = max(step, 0) * max(rows - 1, 0) + width * bpp if rows else 0
    size = needed + draw(st.integers(0, 4))
    if fault in ("short", "any"):
        size = max(needed - draw(st.integers(1 if fault == "short" else -4, 4)), 0)
    options = dict(
        size=(draw(st.integers(1, 20)), draw(st.integers(1, 20))),
        layout=draw(st.sampled_from(["NCHW", "NHWC"])),
        dtype=draw(st.sampled_from(["float32", "float16"])),
        channel_order=draw(st.sampled_from(["RGB", "BGR"])),
        resize=draw(st.sampled_from(["letterbox", "stretch"])),
        interpolation=draw(st.sampled_from(["bilinear", "nearest"])),
        pad_value=draw(st.integers(0, 255)),
    )
    seed = draw(st.integers(0, 2**31))
    return encoding, width, height, step, size, options, batch, batch_index, seed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fuzz_case())
def test_fuzz_entry_point_raises_input_error_or_is_correct(case):
    encoding, width, height, step, size, options, batch, batch_index, seed = case
    buf = np.random.default_rng(seed).integers(0, 256, size=size, dtype=np.uint8)
    step_used = step or width * oracle.BYTES_PER_PIXEL[encoding]  # 0 means tightly packed
    pre = Preprocessor(device="cpu", scale=1.0, **options)
    out = np.full(pre.output_shape(batch), -1.0, dtype=options["dtype"])
    valid = (
        width >= 1
        and height >= 1
        and step_used >= width * oracle.BYTES_PER_PIXEL[encoding]
        and not (encoding in (*oracle.YUV422, "nv12") and width % 2)
        and not (encoding == "nv12" and height % 2)
        and 0 <= batch_index < batch
    )
    rows = height + height // 2 if encoding == "nv12" else height
    valid = valid and size >= step_used * (rows - 1) + width * oracle.BYTES_PER_PIXEL[encoding]
    event("valid" if valid else "invalid")
    try:
        lb = pre(buf, out, encoding, width=width, height=height, step=step, batch_index=batch_index)
    except InputError:
        assert not valid
        assert np.all(out == -1.0), "a refused frame must leave the output untouched"
        return
    assert valid
    padded = np.zeros(step_used * rows, np.uint8)
    padded[:size] = buf[: step_used * rows]
    dst_w, dst_h = options["size"]
    rgb = oracle.decode(padded, width, height, step_used, encoding)
    want = oracle.preprocess(
        rgb, dst_w, dst_h, options["resize"], options["interpolation"], options["pad_value"]
    )
    got = out[batch_index].astype(np.float64)
    if options["layout"] == "NCHW":
        got = got.transpose(1, 2, 0)
    if options["channel_order"] == "BGR":
        got = got[..., ::-1]
    tolerance = 1.0 + (0.25 if options["dtype"] == "float16" else 0.0)  # fp16 spacing at 255
    np.testing.assert_allclose(got, want, atol=tolerance)
    assert (lb.src_w, lb.src_h, lb.dst_w, lb.dst_h) == (width, height, dst_w, dst_h)


@st.composite
def array_case(draw):
    """An image array (often a view with padded rows) shaped for its encoding, or not."""
    encoding = draw(st.sampled_from([None, *ENCODINGS]))
    rows, cols = draw(st.integers(1, 18)), draw(st.integers(1, 18))
    if encoding in (*oracle.YUV422, "nv12"):
        cols += cols % 2
    if encoding == "nv12":
        rows = 3 * (rows + rows % 2) // 2
    if encoding is None:
        shape = draw(st.sampled_from([(rows, cols), (rows, cols, 3), (rows, cols, 4)]))
    elif encoding in ("mono8", "nv12"):
        shape = (rows, cols)
    else:
        shape = (rows, cols, 2 if encoding in oracle.YUV422 else oracle.BYTES_PER_PIXEL[encoding])
    if draw(st.integers(0, 3)) == 0:  # anything at all
        ndim = draw(st.sampled_from([1, 2, 3]))
        rows, cols = draw(st.integers(0, 18)), draw(st.integers(0, 18))
        shape = {1: (rows * cols,), 2: (rows, cols), 3: (rows, cols, draw(st.integers(1, 5)))}[ndim]
        encoding = draw(st.sampled_from([encoding, "rgb16"]))
    # a view into a larger array: rows (and sometimes pixels) further apart than packed
    row_gap, col_step = draw(st.integers(0, 5)), draw(st.sampled_from([1, 1, 1, 2, -1]))
    bad_out = draw(st.sampled_from([None, None, None, "float64", "float16", "shape"]))
    out_layout = draw(st.sampled_from(["NCHW", "NHWC"]))
    seed = draw(st.integers(0, 2**31))
    return shape, row_gap, col_step, encoding, bad_out, out_layout, seed


def expected_rgb(image: np.ndarray, encoding: str | None) -> np.ndarray | None:
    """The oracle's RGB for an (H, W[, C]) array read the way the contract describes, or None
    where the array cannot be read as that encoding."""
    if image.ndim not in (2, 3) or image.size == 0:
        return None
    channels = image.shape[2] if image.ndim == 3 else 1
    encoding = encoding or {1: "mono8", 3: "bgr8", 4: "bgra8"}.get(channels)
    if encoding not in oracle.BYTES_PER_PIXEL:
        return None
    packed = np.ascontiguousarray(image)
    if encoding == "nv12":
        if channels != 1 or packed.shape[0] % 3 or packed.shape[1] % 2:
            return None
        height, width = packed.shape[0] * 2 // 3, packed.shape[1]
        if height % 2:
            return None
    else:
        height, width = packed.shape[0], packed.shape[1]
        want = 2 if encoding in oracle.YUV422 else oracle.BYTES_PER_PIXEL[encoding]
        if channels != want or (encoding in oracle.YUV422 and width % 2):
            return None
    step = width * oracle.BYTES_PER_PIXEL[encoding]
    return oracle.decode(packed.reshape(-1), width, height, step, encoding)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(array_case())
def test_fuzz_arrays_views_and_outputs(case):
    shape, row_gap, col_step, encoding, bad_out, out_layout, seed = case
    wrong_shape = bad_out == "shape"
    out_dtype = bad_out if bad_out in ("float64", "float16") else "float32"
    rng = np.random.default_rng(seed)
    if len(shape) >= 2:
        base_shape = (shape[0], (shape[1] + row_gap) * abs(col_step), *shape[2:])
        base = rng.integers(0, 256, size=base_shape, dtype=np.uint8)
        image = base[:, ::col_step][:, : shape[1]]
    else:
        image = rng.integers(0, 256, size=shape, dtype=np.uint8)
    pre = Preprocessor(size=(12, 10), layout=out_layout, scale=1.0, device="cpu")
    out_shape = list(pre.output_shape(2))
    if wrong_shape:
        out_shape[-1] += 1
    out = np.full(out_shape, 7, dtype=out_dtype)
    rgb = expected_rgb(image, encoding)
    valid = rgb is not None and out_dtype == "float32" and not wrong_shape
    event("valid" if valid else "invalid")
    try:
        pre(image, out, encoding, batch_index=1)
    except InputError:
        assert not valid, "a readable array with a good output was refused"
        assert np.all(out == 7)
        return
    assert valid, "an unreadable array or a bad output was accepted"
    want = oracle.preprocess(rgb, 12, 10)
    got = out[1].transpose(1, 2, 0) if out_layout == "NCHW" else out[1]
    np.testing.assert_allclose(got, want, atol=1.0)
    assert np.all(out[0] == 7)


def test_pools_must_be_trtpipe_pools():
    with pytest.raises(InputError, match=r"pinned_pool: expected None or a trtpipe\.PinnedPool"):
        Preprocessor(device="cpu", pinned_pool=np.zeros(10, np.uint8))
    with pytest.raises(InputError, match=r"device_pool: expected None or a trtpipe\.DevicePool"):
        Preprocessor(device="cpu", device_pool=bytearray(10))
