"""The fused CUDA kernel against the CPU reference in _core (itself checked against NumPy and
OpenCV in test_preprocess.py), for every encoding, layout, dtype and input source.

Device arrays come from CuPy (PyTorch for the tensor-interop test); both are imported inside
the tests, so this module collects (and skips) on machines without them.
"""

from __future__ import annotations

import numpy as np
import pytest

import preprocess_oracle as oracle
from trtpipe.errors import InputError
from trtpipe.preprocess import ENCODINGS, Preprocessor

pytestmark = pytest.mark.gpu

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def cupy():
    return pytest.importorskip("cupy")


def frame(encoding: str, width: int, height: int, extra_step: int, seed: int):
    rng = np.random.default_rng(seed)
    row = width * oracle.BYTES_PER_PIXEL[encoding]
    rows = height * 3 // 2 if encoding == "nv12" else height
    step = row + extra_step
    return oracle.pack(rng.integers(0, 256, (rows, row), dtype=np.uint8), step), step


def options(**kwargs):
    base = dict(size=(72, 56), mean=MEAN, std=STD)
    base.update(kwargs)
    return base


def cpu_result(buf, width, height, step, encoding, batch=1, batch_index=0, **kwargs):
    pre = Preprocessor(device="cpu", **options(**kwargs))
    out = np.zeros(pre.output_shape(batch), dtype=pre.dtype)
    lb = pre(buf, out, encoding, width=width, height=height, step=step, batch_index=batch_index)
    return out, lb


def assert_matches(gpu: np.ndarray, cpu: np.ndarray) -> None:
    assert gpu.dtype == cpu.dtype
    if cpu.dtype == np.float16:
        # Both round a float32 that agrees to ~1e-7 to the nearest half: at most one ulp apart.
        ulp = np.spacing(np.abs(cpu)).astype(np.float32)
        diff = np.abs(gpu.astype(np.float32) - cpu.astype(np.float32))
        assert np.all(diff <= ulp), f"max diff {diff.max()} ulp {ulp[diff > ulp][:5]}"
        assert np.mean(gpu == cpu) > 0.999
    else:
        np.testing.assert_allclose(gpu, cpu, rtol=0, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_kernel_matches_cpu_reference(encoding, layout, dtype):
    cp = cupy()
    width, height = 94, 62
    buf, step = frame(encoding, width, height, extra_step=10, seed=ENCODINGS.index(encoding))
    kwargs = dict(layout=layout, dtype=dtype)
    want, want_lb = cpu_result(buf, width, height, step, encoding, batch=3, batch_index=1, **kwargs)
    pre = Preprocessor(device="cuda", **options(**kwargs))
    out = cp.zeros(pre.output_shape(3), dtype=dtype)
    lb = pre(cp.asarray(buf), out, encoding, width=width, height=height, step=step, batch_index=1)
    assert lb == want_lb
    assert_matches(cp.asnumpy(out), want)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("resize", ["letterbox", "stretch"])
@pytest.mark.parametrize("encoding", ["bgr8", "nv12", "yuyv", "mono8"])
@pytest.mark.parametrize(("src", "dst"), [((1920, 1080), (640, 640)), ((64, 48), (200, 90))])
def test_kernel_matches_cpu_reference_geometry(encoding, resize, interpolation, src, dst):
    cp = cupy()
    buf, step = frame(encoding, *src, extra_step=0, seed=7)
    kwargs = dict(size=dst, resize=resize, interpolation=interpolation, pad_value=0,
                  channel_order="BGR")  # fmt: skip
    want, _ = cpu_result(buf, *src, step, encoding, **kwargs)
    pre = Preprocessor(device="cuda", **options(**kwargs))
    out = cp.zeros(pre.output_shape(1), dtype=np.float32)
    pre(cp.asarray(buf), out, encoding, width=src[0], height=src[1], step=step)
    assert_matches(cp.asnumpy(out), want)


@pytest.mark.parametrize("host_input", ["auto", "mapped", "copy"])
@pytest.mark.parametrize("source", ["device_hwc", "device_bytes", "pinned", "pageable", "bytes"])
def test_every_source_gives_the_cpu_result(source, host_input):
    cp = cupy()
    import cupyx

    rng = np.random.default_rng(3)
    big = rng.integers(0, 256, size=(500, 700, 3), dtype=np.uint8)
    image = big[10:490, 20:660]  # 640x480 view with padded rows (step 2100)
    want, _ = cpu_result(image, None, None, None, None, dtype="float16")
    pre = Preprocessor(device="cuda", host_input=host_input, **options(dtype="float16"))
    out = cp.zeros(pre.output_shape(1), dtype=np.float16)
    if source == "device_hwc":
        src = cp.asarray(big)[10:490, 20:660]  # a strided device view: step honoured
        pre(src, out, "bgr8")
    elif source == "device_bytes":
        pre(cp.asarray(np.ascontiguousarray(image)).ravel(), out, "bgr8", width=640, height=480)
    elif source == "pinned":
        pinned = cupyx.empty_pinned(image.shape, np.uint8)
        pinned[...] = image
        pre(pinned, out)
    elif source == "pageable":
        pre(image, out)
    else:
        pre(np.ascontiguousarray(image).tobytes(), out, "bgr8", width=640, height=480)
    cp.cuda.runtime.deviceSynchronize()
    assert_matches(cp.asnumpy(out), want)
    if host_input == "auto" and source in ("pinned", "pageable", "bytes"):
        choice = pre.host_input_choice
        assert choice["faster"] in ("mapped", "copy")


def test_batch_slots_on_a_stream_without_synchronising_between_frames():
    """Pageable frames reuse the staging buffer: each frame must still land intact."""
    cp = cupy()
    rng = np.random.default_rng(11)
    frames = [rng.integers(0, 256, size=(360, 480, 3), dtype=np.uint8) for _ in range(4)]
    for host_input in ("mapped", "copy"):
        pre = Preprocessor(device="cuda", host_input=host_input, **options())
        out = cp.full(pre.output_shape(5), -3.0, dtype=np.float32)
        stream = cp.cuda.Stream(non_blocking=True)
        for slot, image in enumerate(frames):
            pre(image, out, batch_index=slot, stream=stream)
        stream.synchronize()
        got = cp.asnumpy(out)
        for slot, image in enumerate(frames):
            want, _ = cpu_result(image, None, None, None, None)
            assert_matches(got[slot : slot + 1], want)
        assert np.all(got[4] == -3.0)


def test_torch_tensors_and_dlpack_only_arrays_work():
    cp = cupy()
    torch = pytest.importorskip("torch")
    image = np.random.default_rng(5).integers(0, 256, size=(120, 160, 4), dtype=np.uint8)
    want, _ = cpu_result(image, None, None, None, None, layout="NHWC")
    pre = Preprocessor(device="cuda", **options(layout="NHWC"))
    out = torch.zeros(pre.output_shape(1), dtype=torch.float32, device="cuda")
    pre(torch.from_numpy(image).cuda(), out)
    torch.cuda.synchronize()
    assert_matches(out.cpu().numpy(), want)

    class DlpackOnly:
        def __init__(self, array):
            self._array = array

        def __dlpack__(self, **kwargs):
            return self._array.__dlpack__(**kwargs)

        def __dlpack_device__(self):
            return self._array.__dlpack_device__()

    out2 = cp.zeros(pre.output_shape(1), dtype=np.float32)
    pre(DlpackOnly(cp.asarray(image)), DlpackOnly(out2))
    cp.cuda.runtime.deviceSynchronize()
    assert_matches(cp.asnumpy(out2), want)


def test_empty_allocates_on_the_gpu_and_auto_follows_the_output():
    cp = cupy()
    image = np.random.default_rng(9).integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    pre = Preprocessor(**options())  # device="auto"
    assert pre.device == "cuda"
    gpu_out = pre.empty(2)
    assert hasattr(gpu_out, "__cuda_array_interface__")
    pre(image, gpu_out, batch_index=1)
    host_out = np.zeros(pre.output_shape(2), np.float32)
    pre(image, host_out, batch_index=1)  # a NumPy output takes the CPU path
    assert_matches(cp.asnumpy(cp.asarray(gpu_out))[1:], host_out[1:])


def test_gpu_bad_input_raises_input_error():
    cp = cupy()
    pre = Preprocessor(device="cuda", **options())
    image = np.zeros((48, 64, 3), np.uint8)
    with pytest.raises(InputError, match=r"out: expected a GPU array .* given a NumPy array"):
        pre(image, np.zeros(pre.output_shape(1), np.float32))
    with pytest.raises(InputError, match=r"out: expected dtype float32, given float16"):
        pre(image, cp.zeros(pre.output_shape(1), np.float16))
    with pytest.raises(InputError, match=r"out: expected dtype float32, given typestr <f8"):
        pre(image, cp.zeros(pre.output_shape(1), np.float64))
    with pytest.raises(InputError, match=r"image: expected a uint8 GPU array, given typestr"):
        pre(cp.zeros((48, 64, 3), np.float32), cp.zeros(pre.output_shape(1), np.float32))
    with pytest.raises(InputError, match=r"image: expected at least"):
        pre(cp.zeros(100, np.uint8), cp.zeros(pre.output_shape(1), np.float32), "rgb8",
            width=64, height=48)  # fmt: skip
    with pytest.raises(InputError, match=r"batch_index: expected 0..0"):
        pre(image, cp.zeros(pre.output_shape(1), np.float32), batch_index=1)
    cpu = Preprocessor(device="cpu", **options())
    with pytest.raises(InputError, match=r"out: expected a NumPy array for device='cpu'"):
        cpu(image, cp.zeros(pre.output_shape(1), np.float32))


def test_measure_host_input_times_both_paths():
    cp = cupy()
    image = np.random.default_rng(2).integers(0, 256, size=(1080, 1920, 3), dtype=np.uint8)
    pre = Preprocessor(device="cuda", size=(640, 640), dtype="float16")
    out = cp.zeros(pre.output_shape(1), np.float16)
    timing = pre.measure_host_input(image, out, iterations=5)
    assert timing["mapped_us"] > 0 and timing["copy_us"] > 0
    faster = "mapped" if timing["mapped_us"] <= timing["copy_us"] else "copy"
    assert timing["faster"] == faster
