"""The pool, preprocessing and depth bindings refuse bad objects and arguments with InputError:
objects whose __init__ never ran (made by ``Class.__new__(Class)``), integers that are not ints
or out of range, byte-swapped outputs. Zero-stride frames are processed like their contiguous
copies.

Every call on an uninitialised object runs in a child process, so a crash or a hang (what they
did before) fails the test instead of ending the test run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import trtpipe
from trtpipe import _core
from trtpipe.errors import InputError
from trtpipe.memory import DevicePool, HostPool, PinnedPool
from trtpipe.preprocess import Preprocessor, _image_layout, _output

KIB = 1024
CUDA_CLASSES = hasattr(_core, "DevicePool")
needs_cuda_classes = pytest.mark.skipif(
    not CUDA_CLASSES, reason="trtpipe._core was built without CUDA (no DevicePool/PinnedPool)"
)

# --- objects whose __init__ did not run ------------------------------------------------------

# What the child runs each call with: `obj` (made by __new__ alone) and these names.
_CHILD_SETUP = """
import numpy as np
from trtpipe import _core
opts = _core.PreprocessOptions(
    16, 16, "NCHW", "float32", "RGB", "letterbox", "bilinear", 114.0, 1 / 255, [0.0] * 3, [1.0] * 3
)
img = np.zeros((8, 10, 3), np.uint8)
out = np.zeros((1, 3, 16, 16), np.float32)
frame = (img, img.nbytes, 10, 8, 30, "rgb8", False, 0)
tensor = (out, [1, 3, 16, 16], list(out.strides), "float32", False, 0)
"""

# Every method and property of a pool, and how to call it with arguments that would be valid.
_POOL_CALLS = {
    "alloc": "obj.alloc(16, stream=1)",
    "allocate_array": "obj.allocate_array(16, [4], '<f4', 'f', 4, 2)",
    "stats_dict": "obj.stats_dict()",
    "reset_peak": "obj.reset_peak()",
    "reclaim": "obj.reclaim()",
    "block_table": "obj.block_table()",
    "arena_table": "obj.arena_table()",
    "options": "obj.options",
}
_BUFFER_CALLS = {
    name: f"obj.{name}"
    for name in (
        "ptr",
        "nbytes",
        "block_size",
        "shape",
        "typestr",
        "stream",
        "device",
        "fallback",
        "released",
    )
} | {"release": "obj.release(1)"}
_GPU_RUN_ARGS = "frame, tensor, 0, 0"

CALLS: dict[str, dict[str, str]] = {
    "HostPool": _POOL_CALLS | {"complete_fences": "obj.complete_fences()"},
    "DevicePool": _POOL_CALLS,
    "PinnedPool": _POOL_CALLS,
    "HostBuffer": _BUFFER_CALLS
    | {
        "__array__": "obj.__array__()",
        "device_ptr": "obj.device_ptr",
        "<buffer protocol>": "memoryview(obj)",
    },
    "DeviceBuffer": _BUFFER_CALLS
    | {
        "__cuda_array_interface__": "obj.__cuda_array_interface__",
        "__dlpack__": "obj.__dlpack__()",
        "__dlpack_device__": "obj.__dlpack_device__()",
    },
    "PreprocessOptions": {name: f"obj.{name}" for name in ("dst_w", "dst_h", "dtype", "layout")},
    "CpuPreprocessor": {"threads": "obj.threads", "run": "obj.run(frame, tensor, 0)"},
    "GpuPreprocessor": {
        **{name: f"obj.{name}" for name in ("device", "host_input", "integrated")},
        "last_host_choice": "obj.last_host_choice",
        "run": f"obj.run({_GPU_RUN_ARGS})",
        "measure_host_input": "obj.measure_host_input(frame, tensor, 0, 1)",
    },
}
# Not ours: pybind11's hook for other extension modules, which needs a C++ type_info capsule.
_NOT_CALLED = {"__init__", "__doc__", "__module__", "_pybind11_conduit_v1_"}
# Python 3.12's names of the buffer protocol (called as "<buffer protocol>" where a class has it)
_NOT_CALLED |= {"__buffer__", "__release_buffer__"}
_CUDA_ONLY = {"DevicePool", "PinnedPool", "DeviceBuffer"}


def _child_env() -> dict[str, str]:
    # The child imports the trtpipe under test, wherever this process found it.
    site = str(Path(trtpipe.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (site, env.get("PYTHONPATH")) if p)
    return env


# Each call on a fresh `obj`; a line before it and one with its outcome, so that a crash or a
# hang is pinned on the call that caused it.
_CHILD_LOOP = """
import json, sys
calls = json.loads(sys.argv[1])
for name, code in calls.items():
    print(json.dumps({"start": name}), flush=True)
    obj = eval(sys.argv[2])
    try:
        eval(code)
        result = {"type": None}
    except BaseException as exc:
        cause = exc.__cause__ or exc.__context__
        result = {"type": type(exc).__name__, "text": str(exc),
                  "cause": type(cause).__name__ if cause else None,
                  "cause_text": str(cause) if cause else None}
    print(json.dumps({"name": name, **result}), flush=True)
"""


def run_calls(make: str, calls: dict[str, str], timeout: float = 60) -> dict[str, dict]:
    """Runs each call on a fresh `obj = <make>` in one child process: {name: outcome}, the
    outcome's "type" the exception's class name (None: no exception). Fails naming the call
    that crashed or hung the child."""
    command = [sys.executable, "-c", _CHILD_SETUP + _CHILD_LOOP, json.dumps(calls), make]
    try:
        child = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=_child_env()
        )
        lines, ending = child.stdout, None
        if child.returncode != 0:
            ending = f"exit status {child.returncode}: {child.stderr[-500:]}"
    except subprocess.TimeoutExpired as hung:
        out = hung.stdout or ""
        lines = out.decode() if isinstance(out, bytes) else out
        ending = f"no answer in {timeout} s"
    results: dict[str, dict] = {}
    last_started = None
    for line in lines.splitlines():
        record = json.loads(line)
        if "start" in record:
            last_started = record["start"]
        else:
            results[record.pop("name")] = record
    if ending is not None:
        where = "before the first call" if last_started is None else repr(calls[last_started])
        pytest.fail(f"{make}: the child died or hung in {where} ({ending})")
    return results


def _assert_refused(results: dict[str, dict], class_name: str) -> None:
    refused = "expected an initialised object, given one whose __init__ did not run"
    for name, result in results.items():
        if result["type"] == "BufferError":  # the buffer protocol wraps the error it met
            result = {"type": result["cause"], "text": result["cause_text"]}
        assert result["type"] == "InputError", f"{class_name}.{name}: {result}"
        assert refused in result["text"] and class_name in result["text"], result["text"]


@pytest.mark.parametrize("class_name", sorted(CALLS))
def test_every_method_and_property_of_an_uninitialised_object_raises(class_name):
    if class_name in _CUDA_ONLY and not CUDA_CLASSES:
        pytest.skip(f"trtpipe._core was built without CUDA (no {class_name})")
    cls = getattr(_core, class_name)
    # Every attribute the class defines is called, so a method added later is checked too.
    defined = set(vars(cls)) - _NOT_CALLED - {"__weakref__", "__dict__"}
    assert defined <= set(CALLS[class_name]), f"add a call for {defined - set(CALLS[class_name])}"
    results = run_calls(f"_core.{class_name}.__new__(_core.{class_name})", CALLS[class_name])
    assert set(results) == set(CALLS[class_name])
    _assert_refused(results, class_name)


@pytest.mark.parametrize(
    "wrapper",
    [
        "HostPool",
        pytest.param("DevicePool", marks=needs_cuda_classes),
        pytest.param("PinnedPool", marks=needs_cuda_classes),
    ],
)
def test_python_pool_subclasses_made_by_new_alone_raise(wrapper):
    calls = {
        "stats": "obj.stats()",
        "capacity": "obj.capacity",
        "blocks": "obj.blocks()",
        "empty": "obj.empty(4)",
        "alloc": "obj.alloc(16)",
        "reclaim": "obj.reclaim()",
    }
    cls = f"__import__('trtpipe.memory').memory.{wrapper}"
    _assert_refused(run_calls(f"{cls}.__new__({cls})", calls), "Pool")


def test_uninitialised_objects_given_as_arguments_raise():
    calls = {"CpuPreprocessor": "_core.CpuPreprocessor(obj)"}
    results = run_calls("_core.PreprocessOptions.__new__(_core.PreprocessOptions)", calls)
    _assert_refused(results, "PreprocessOptions")


@needs_cuda_classes
def test_an_uninitialised_pool_given_to_the_gpu_preprocessor_raises():
    calls = {
        "pinned_pool": "_core.GpuPreprocessor(opts, 'auto', 0, obj, None)",
        "device_pool": "_core.GpuPreprocessor(opts, 'auto', 0, None, "
        "_core.DevicePool.__new__(_core.DevicePool))",
    }
    results = run_calls("_core.PinnedPool.__new__(_core.PinnedPool)", calls)
    _assert_refused({"pinned_pool": results["pinned_pool"]}, "PinnedPool")
    _assert_refused({"device_pool": results["device_pool"]}, "DevicePool")
    with pytest.raises(InputError, match=r"pinned_pool: expected None or a .*PinnedPool"):
        _core.GpuPreprocessor(_options(), "auto", 0, object(), None)


def test_init_called_after_new_still_works():
    pool = _core.HostPool.__new__(_core.HostPool)
    pool.__init__(4 * KIB)
    assert pool.alloc(16).nbytes == 16
    cpu = _core.CpuPreprocessor.__new__(_core.CpuPreprocessor)
    cpu.__init__(_options(), 1)
    assert cpu.threads == 1


def test_pybind11_refuses_a_subclass_whose_init_skips_the_base():
    # pybind11's own check, at construction: the case a plain subclass can reach by mistake.
    class Skips(_core.HostPool):
        def __init__(self) -> None:
            pass

    with pytest.raises(TypeError, match=r"__init__\(\) must be called"):
        Skips()


# --- integers: ints only, in range -----------------------------------------------------------

NOT_INTS = [10.7, "10", np.float32(10.7), True, None, [10]]
TOO_BIG = [2**70, -(2**70)]


def _options(w: int = 16, h: int = 16) -> object:
    return _core.PreprocessOptions(
        w,
        h,
        "NCHW",
        "float32",
        "RGB",
        "letterbox",
        "bilinear",
        114.0,
        1 / 255,
        [0.0] * 3,
        [1.0] * 3,
    )


def _cpu_run_args(**change: object) -> list[object]:
    """(frame view, output view, batch index), as _core's host runs take them."""
    img = np.zeros((8, 10, 3), np.uint8)
    out = np.zeros((1, 3, 16, 16), np.float32)
    args = {
        "data": img,
        "size": img.nbytes,
        "width": 10,
        "height": 8,
        "step": 30,
        "encoding": "rgb8",
        "out": out,
        "shape": [1, 3, 16, 16],
        "strides": list(out.strides),
        "dtype": "float32",
        "batch_index": 0,
    } | change
    frame = [args[k] for k in ("data", "size", "width", "height", "step", "encoding")]
    tensor = [args[k] for k in ("out", "shape", "strides", "dtype")]
    return [(*frame, False, 0), (*tensor, False, 0), args["batch_index"]]


def _host_pool() -> HostPool:
    return HostPool(64 * KIB)


# (field the message names, call taking the bad value); each also runs with a good value.
INT_FIELDS = {
    "initial_bytes": lambda v: _core.HostPool(v),
    "max_bytes": lambda v: _core.HostPool(KIB, v),
    "grow_bytes": lambda v: _core.HostPool(KIB, 2 * KIB, v),
    "nbytes": lambda v: _host_pool().alloc(v),
    "nbytes ": lambda v: _host_pool().allocate_array(v, [1], "|u1", "B", 1, 1),
    "shape[1]": lambda v: _host_pool().allocate_array(0, [1, v], "|u1", "B", 1, 1),
    "itemsize": lambda v: _host_pool().allocate_array(4, [4], "|u1", "B", v, 1),
    "dl_code": lambda v: _host_pool().allocate_array(4, [4], "|u1", "B", 1, v),
    "src_w": lambda v: _core.letterbox_params(v, 8, 16, 16),
    "dst_h": lambda v: _core.letterbox_params(10, 8, 16, v),
    "dst_w": lambda v: _options(v, 16),
    "threads ": lambda v: _core.CpuPreprocessor(_options(), v),
    "size": lambda v: _core.CpuPreprocessor(_options(), 1).run(*_cpu_run_args(size=v)),
    "width": lambda v: _core.CpuPreprocessor(_options(), 1).run(*_cpu_run_args(width=v)),
    "height": lambda v: _core.preprocess_cpu_reference(_options(), *_cpu_run_args(height=v)),
    "step": lambda v: _core.CpuPreprocessor(_options(), 1).run(*_cpu_run_args(step=v)),
    "batch_index": lambda v: _core.CpuPreprocessor(_options(), 1).run(
        *_cpu_run_args(batch_index=v)
    ),
    "shape[3]": lambda v: _core.CpuPreprocessor(_options(), 1).run(
        *_cpu_run_args(shape=[1, 3, 16, v])
    ),
    "strides[0]": lambda v: _core.preprocess_cpu_reference(
        _options(), *_cpu_run_args(strides=[v, 1024, 64, 4])
    ),
    "data": lambda v: _core.CpuPreprocessor(_options(), 1).run(*_cpu_run_args(data=v)),
    # trtpipe's Python API: the same fields, checked before _core
    "size[0]": lambda v: Preprocessor(size=(v, 16), device="cpu"),
    "batch": lambda v: Preprocessor(size=(16, 16), device="cpu").empty(v),
    "width ": lambda v: _preprocess_raw(width=v),
    "height ": lambda v: _preprocess_raw(height=v),
    "step ": lambda v: _preprocess_raw(step=v),
    "batch_index ": lambda v: _preprocess_raw(batch_index=v),
}


def _preprocess_raw(**change: object) -> object:
    pre = Preprocessor(size=(16, 16), device="cpu")
    args: dict[str, object] = {"width": 10, "height": 8, "step": 30, "batch_index": 0} | change
    return pre(bytes(8 * 30), pre.empty(1), "rgb8", **args)


@pytest.mark.parametrize("value", NOT_INTS + TOO_BIG, ids=repr)
@pytest.mark.parametrize("field", sorted(INT_FIELDS), ids=str.strip)
def test_a_non_int_or_out_of_range_integer_raises_input_error_naming_the_field(field, value):
    named = field.strip()
    if field == "step " and value is None:
        pytest.skip("step=None is Preprocessor's default: rows packed")
    if named == "batch" and value == 2**70:
        pytest.skip("NumPy itself refuses an axis of 2**70 (ValueError)")
    if named == "size[0]" and value in TOO_BIG:
        named = "dst_w"  # an int: passed on to _core, which names its own field
    with pytest.raises(InputError, match=rf"^{re.escape(named)}: expected"):
        INT_FIELDS[field](value)


@pytest.mark.parametrize(
    ("field", "good"),
    [
        ("nbytes", np.int64(16)),
        ("initial_bytes", np.uint32(KIB)),
        ("size[0]", np.int16(16)),
        ("batch_index ", np.int64(0)),
        ("width ", np.uint8(10)),
    ],
    ids=str,
)
def test_numpy_integers_and_full_unsigned_ranges_are_accepted(field, good):
    INT_FIELDS[field](good)


@pytest.mark.parametrize(
    ("field", "call"),
    [
        ("initial_bytes", lambda: _core.HostPool(-1)),
        ("nbytes", lambda: _host_pool().alloc(-1)),
        ("nbytes", lambda: _host_pool().allocate_array(-1, [1], "|u1", "B", 1, 1)),
        ("shape[0]", lambda: _host_pool().allocate_array(0, [-1], "|u1", "B", 1, 1)),
        ("itemsize", lambda: _host_pool().allocate_array(0, [0], "|u1", "B", 0, 1)),
        ("dl_code", lambda: _host_pool().allocate_array(1, [1], "|u1", "B", 1, 256)),
        ("data", lambda: _core.CpuPreprocessor(_options(), 1).run(*_cpu_run_args(data=2**64))),
        ("size", lambda: _core.CpuPreprocessor(_options(), 1).run(*_cpu_run_args(size=-1))),
        ("initial_bytes", lambda: _core.HostPool(2**63)),
    ],
)
def test_negative_sizes_and_values_past_the_type_raise_input_error(field, call):
    with pytest.raises(InputError, match=rf"^{re.escape(field)}: expected"):
        call()


def test_an_address_takes_the_whole_unsigned_64_bit_range():
    # 2**64 - 1 converts (a host run then refuses an address without its array, before anything
    # is read); 2**64 does not
    with pytest.raises(InputError, match="frame: expected a NumPy array for host memory"):
        _core.CpuPreprocessor(_options(), 1).run(*_cpu_run_args(data=2**64 - 1, size=0))
    with pytest.raises(InputError, match=r"^data: expected 0 <= data <= 18446744073709551615"):
        _core.CpuPreprocessor(_options(), 1).run(*_cpu_run_args(data=2**64, size=0))


def test_gpu_pool_device_must_be_an_int():
    for value in (0.5, "0", True):
        with pytest.raises(InputError, match="device: expected an int"):
            DevicePool(KIB, device=value)
        with pytest.raises(InputError, match="device: expected an int"):
            PinnedPool(KIB, device=value)


@needs_cuda_classes
@pytest.mark.parametrize("value", [0.5, "0", 2**40], ids=repr)
def test_native_gpu_classes_check_their_integers_before_touching_cuda(value):
    with pytest.raises(InputError, match=r"^device: expected"):
        _core.DevicePool(KIB, 0, 0, True, value)
    with pytest.raises(InputError, match=r"^device: expected"):
        _core.PinnedPool(KIB, 0, 0, True, value)
    with pytest.raises(InputError, match=r"^device: expected"):
        _core.GpuPreprocessor(_options(), "auto", value, None, None)
    with pytest.raises(InputError, match=r"^max_bytes: expected"):
        _core.PinnedPool(KIB, -1 if isinstance(value, int) else value, 0, True, 0)


# --- allocate_array exports exactly the block it allocated -----------------------------------


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (
            (1, [1000], "<f8", "d", 8, 2),
            r"nbytes: expected the product of shape and itemsize \(8000",
        ),
        ((8, [2**62, 4], "<f8", "d", 8, 2), r"nbytes: .*over 2\*\*63-1"),
        ((32, [4], "<f8", "B", 8, 2), "format: expected a NumPy type character of 8 byte"),
        ((32, [4], "<f8", "Zd", 8, 5), "format: expected"),
        ((32, [4], "<f4", "d", 8, 2), "typestr: expected an array-interface typestr of 8"),
        ((32, [4], "f8", "d", 8, 2), "typestr: expected"),
        ((32, 4, "<f8", "d", 8, 2), r"shape: expected a list or tuple of ints, given int 4"),
    ],
)
def test_allocate_array_refuses_layouts_that_are_not_its_block(args, match):
    with pytest.raises(InputError, match=match):
        _host_pool().allocate_array(*args)


def test_allocate_array_layouts_trtpipe_writes_are_accepted():
    pool = _host_pool()
    for dtype in (np.bool_, np.uint8, np.int16, np.float16, np.int64, np.complex64, np.longdouble):
        buf = pool.empty((3, 5), dtype)
        view = np.asarray(buf)
        assert view.shape == (3, 5) and view.dtype == np.dtype(dtype)
        assert view.nbytes == buf.nbytes == 15 * np.dtype(dtype).itemsize
    assert np.asarray(pool.empty((0, 7), np.float32)).shape == (0, 7)


# --- preprocessing outputs and frame strides -------------------------------------------------


IMG = (np.arange(8 * 10 * 3) % 251).astype(np.uint8).reshape(8, 10, 3)


def test_a_byte_swapped_output_raises_input_error():
    swapped = ">f4" if sys.byteorder == "little" else "<f4"
    pre = Preprocessor(size=(16, 16), device="cpu")
    out = np.zeros(pre.output_shape(1), swapped)
    for run in (pre, pre.reference):
        with pytest.raises(
            InputError, match=rf"out: expected an array of native byte order.*{swapped}"
        ):
            run(IMG, out)
    # _core itself, given the array and the dtype name it has
    for call in (
        lambda: _core.CpuPreprocessor(_options(), 1).run(*_cpu_run_args(out=out)),
        lambda: _core.preprocess_cpu_reference(_options(), *_cpu_run_args(out=out)),
    ):
        with pytest.raises(InputError, match=r"out: expected an array of native byte order"):
            call()
    assert not out.any()


def test_a_byte_swapped_gpu_output_never_passes_as_float32():
    class Swapped:
        __cuda_array_interface__ = {  # noqa: RUF012
            "shape": (1, 3, 16, 16),
            "typestr": ">f4",
            "data": (1 << 20, False),
            "version": 3,
        }

    assert _output(Swapped()).dtype == "typestr >f4"  # _core's dtype check refuses it


def _contiguous_result(pre: Preprocessor, image: np.ndarray) -> np.ndarray:
    out = pre.empty(1)
    pre(np.ascontiguousarray(image), out)
    return out


@pytest.mark.parametrize(
    "image",
    [
        IMG[3][None],  # one row, row stride 0
        np.broadcast_to(IMG[3], (8, 10, 3)),  # eight rows aliasing one, row stride 0
        np.broadcast_to(IMG[3, :, 0], (8, 10)),  # mono8, row stride 0
        IMG[3, :, 0][None],  # one mono row, pixels 3 bytes apart
    ],
    ids=["img[None]", "broadcast_to", "broadcast_to mono", "mono[None]"],
)
def test_zero_row_stride_frames_are_processed_like_their_contiguous_copy(image):
    assert image.strides[0] == 0
    pre = Preprocessor(size=(16, 16), device="cpu")
    out = pre.empty(1)
    lb = pre(image, out)
    assert (lb.src_w, lb.src_h) == (image.shape[1], image.shape[0])
    np.testing.assert_array_equal(out, _contiguous_result(pre, image))
    ref = pre.empty(1)
    pre.reference(image, ref)
    np.testing.assert_array_equal(ref, out)


def test_one_row_frames_take_the_packed_step():
    pre = Preprocessor(size=(16, 16), device="cpu")
    pre(IMG[3][None], pre.empty(1), step=30)
    with pytest.raises(InputError, match=r"step: expected 30 \(the array's row stride\), given 0"):
        pre(IMG[3][None], pre.empty(1), step=0)


def test_a_gpu_frame_with_zero_row_stride_raises_a_clear_input_error():
    # A GPU array is never copied: rows sharing memory are refused, saying why.
    with pytest.raises(InputError, match=r"positive row stride, given 0 \(rows that share memory"):
        _image_layout((8, 10, 3), (0, 3, 1), None, None)
    assert _image_layout((1, 10, 3), (0, 3, 1), None, None) == (30, 10, 1, 30, "bgr8")


# The frame pipeline's and the engine's classes (CUDA builds), by their path in _core.
_STEP_CALLS = {"inputs": "obj.inputs", "outputs": "obj.outputs", "device": "obj.device"}
PIPELINE_CALLS: dict[str, dict[str, str]] = {
    "ModelStep": _STEP_CALLS,
    "GraphStep": _STEP_CALLS,
    "engine.ContextStep": {
        **_STEP_CALLS,
        "shape_sets": "obj.shape_sets",
        "device_pool": "obj.device_pool",
    },
    "FramePipeline": {
        "submit": "obj.submit(frame, 0, 0)",
        "submit_inputs": "obj.submit_inputs([], {}, 0, 0)",
        "submit_tensors": "obj.submit_tensors([], 0)",
        "wait": "obj.wait(0)",
        "ready": "obj.ready(0)",
        "result": "obj.result(0)",
        "wait_scanned": "obj.wait_scanned(0, 0.5, 10, False)",
        "wait_scanned_rows": "obj.wait_scanned_rows(0, 0.5, 10, False, [None])",
        "host_outputs": "obj.host_outputs(0)",
        **{
            name: f"obj.{name}"
            for name in (
                "outputs",
                "scanning",
                "scan_rows",
                "slots",
                "device",
                "stream",
                "pinned_pool",
                "stats",
            )
        },
    },
    "engine.EngineModel": {
        "io": "obj.io()",
        "profile_count": "obj.profile_count()",
        "profile": "obj.profile(0)",
    },
    "TimingEvent": {
        "record": "obj.record(0)",
        "query": "obj.query()",
        "elapsed_time": "obj.elapsed_time(obj)",
        "stage_times": "obj.stage_times(obj, obj)",
    },
}


@needs_cuda_classes
@pytest.mark.parametrize("path", sorted(PIPELINE_CALLS))
def test_uninitialised_pipeline_and_engine_objects_raise(path):
    cls = _core
    for part in path.split("."):
        cls = getattr(cls, part)
    defined = set(vars(cls)) - _NOT_CALLED - {"__weakref__", "__dict__"}
    assert defined <= set(PIPELINE_CALLS[path]), (
        f"add a call for {defined - set(PIPELINE_CALLS[path])}"
    )
    results = run_calls(f"_core.{path}.__new__(_core.{path})", PIPELINE_CALLS[path])
    assert set(results) == set(PIPELINE_CALLS[path])
    # inherited methods name the base class the object was taken as, its own the class
    own = path.rpartition(".")[2]
    inherited = {name: results.pop(name) for name in _STEP_CALLS if own.endswith("Step")}
    _assert_refused(inherited, "ModelStep")
    _assert_refused(results, own)


# trtpipe._core.depth's classes, by their path in _core; each also given as an argument.
_LIFT = (
    "_core.depth.lift_boxes(np.zeros((1, 4), np.float32), (8, 8), "
    "(np.ones((8, 8), np.uint16), 128, 8, 8, 16, '16UC1', False, 0), 0.0, [5.0, 5.0, 4.0, 4.0], "
)
DEPTH_CALLS: dict[str, dict[str, str]] = {
    "depth.DepthRule": {
        **{
            name: f"obj.{name}"
            for name in (
                "inner",
                "tolerance",
                "min_depth",
                "max_depth",
                "min_pixels",
                "near_quantile",
                "far_quantile",
            )
        },
        "<as the rule>": _LIFT + "obj, None)",
    },
    "depth.CpuBoxDepths": {"<as the runner>": _LIFT + "_core.depth.DepthRule(), obj)"},
    "depth.GpuBoxDepths": {
        "last_kernel_ms": "obj.last_kernel_ms",
        "<as the runner>": _LIFT + "_core.depth.DepthRule(), obj)",
    },
}


@pytest.mark.parametrize("path", sorted(DEPTH_CALLS))
def test_uninitialised_depth_objects_raise(path):
    if path == "depth.GpuBoxDepths" and not hasattr(_core.depth, "GpuBoxDepths"):
        pytest.skip("trtpipe._core was built without CUDA (no GpuBoxDepths)")
    cls = _core
    for part in path.split("."):
        cls = getattr(cls, part)
    defined = set(vars(cls)) - _NOT_CALLED - {"__weakref__", "__dict__"}
    assert defined <= set(DEPTH_CALLS[path]), f"add a call for {defined - set(DEPTH_CALLS[path])}"
    results = run_calls(f"_core.{path}.__new__(_core.{path})", DEPTH_CALLS[path])
    assert set(results) == set(DEPTH_CALLS[path])
    _assert_refused(results, path.rpartition(".")[2])


def test_views_of_the_wrong_shape_are_refused_by_name():
    cpu = _core.CpuPreprocessor(_options(), 1)
    frame, out, index = _cpu_run_args()
    with pytest.raises(InputError, match=r"frame: expected a LocatedFrame .*given 6 values"):
        cpu.run(frame[:6], out, index)
    with pytest.raises(InputError, match=r"out: expected a PreparedOutput .*given dict"):
        cpu.run(frame, {"address": 0}, index)
    with pytest.raises(InputError, match="encoding: expected a str, given int"):
        cpu.run((*frame[:5], 7, False, 0), out, index)
    with pytest.raises(InputError, match="on_device: expected True or False, given int"):
        cpu.run((*frame[:6], 1, 0), out, index)
    with pytest.raises(InputError, match="frame: expected host memory, given a GPU array"):
        cpu.run((frame[0].ctypes.data, *frame[1:6], True, 0), out, index)
    # a NumPy array is host memory, whatever the view says
    with pytest.raises(InputError, match="on_device: expected False for a NumPy array"):
        cpu.run((*frame[:6], True, 0), out, index)
    cpu.run(frame, out, index)  # the same views, whole, are taken
