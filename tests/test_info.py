"""trtpipe.info() must tell the truth; each claim is checked against an independent source."""

from __future__ import annotations

import ctypes
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import trtpipe
from trtpipe import _core


def test_version_matches_installed_metadata():
    assert trtpipe.__version__ == importlib.metadata.version("trtpipe")
    assert _core.build_info()["version"] == trtpipe.__version__


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not on PATH")
def test_cuda_version_matches_nvcc():
    # The build used the same toolchain as the one on PATH (the test script builds with it).
    if os.environ.get("TRTPIPE_EXPECT_CUDA") == "0":
        pytest.skip("this build was asked to be CPU-only")
    out = subprocess.run(["nvcc", "--version"], capture_output=True, text=True, check=True).stdout
    release = re.search(r"V(\d+\.\d+\.\d+)", out).group(1)
    report = trtpipe.info(backends=False)
    assert report.core_with_cuda
    assert report.cuda_version == release


def test_expected_cuda_mode():
    expected = os.environ.get("TRTPIPE_EXPECT_CUDA")
    if expected is None:
        pytest.skip("TRTPIPE_EXPECT_CUDA not set (scripts/test.sh sets it)")
    assert trtpipe.info(backends=False).core_with_cuda == (expected == "1")


def _cuobjdump() -> str | None:
    found = shutil.which("cuobjdump")
    if found:
        return found
    # The nvidia-cuda-cuobjdump wheel (a test extra) puts it under site-packages/nvidia/cu*/bin.
    for site in sys.path:
        for candidate in Path(site).glob("nvidia/cu*/bin/cuobjdump"):
            return str(candidate)
    return None


def test_reported_architectures_are_in_the_binary():
    report = trtpipe.info(backends=False)
    if not report.core_with_cuda:
        pytest.skip("CPU-only build")
    tool = _cuobjdump()
    if tool is None:
        pytest.skip("cuobjdump not found (pip install nvidia-cuda-cuobjdump)")
    so = _core.__file__
    elf = subprocess.run([tool, "--list-elf", so], capture_output=True, text=True).stdout
    ptx = subprocess.run([tool, "--list-ptx", so], capture_output=True, text=True).stdout
    in_elf = {int(m) for m in re.findall(r"\.sm_(\d+)a?\.cubin", elf)}
    in_ptx = {int(m) for m in re.findall(r"\.sm_(\d+)a?\.ptx", ptx)}
    for arch in report.cuda_architectures:
        number = int(re.match(r"\d+", arch).group(0))
        assert number in in_elf, f"no machine code for sm_{number} in {so}"
        if not arch.endswith("-real"):
            assert number in in_ptx, f"no PTX for compute_{number} in {so}"


def _driver_loadable() -> bool:
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


def test_gpu_report_matches_the_machine():
    report = trtpipe.info(backends=False)
    if not report.core_with_cuda:
        assert report.gpus == []
        assert "without CUDA" in report.no_gpu_reason
    elif not _driver_loadable():
        assert report.gpus == []
        assert report.driver_version == 0
        assert "driver" in report.no_gpu_reason
    elif shutil.which("nvidia-smi"):
        names = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        names = [name.strip() for name in names if name.strip()]
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is None:
            assert [gpu.name for gpu in report.gpus] == names
        for gpu in report.gpus:
            assert gpu.compute_capability[0] >= 5
            assert gpu.total_memory > 2**28
    if report.gpus:
        assert report.no_gpu_reason is None
    else:
        assert report.no_gpu_reason


def test_tensorrt_headers_match_the_header_file():
    report = trtpipe.info(backends=False)
    root = os.environ.get("TENSORRT_ROOT")
    if root is None:
        pytest.skip("TENSORRT_ROOT not set: nothing to compare against")
    header = next(Path(root).rglob("NvInferVersion.h"))
    text = header.read_text()
    parts = [
        re.search(rf"#define (?:NV_TENSORRT|TRT)_{part}(?:_ENTERPRISE)? +(\d+)", text).group(1)
        for part in ("MAJOR", "MINOR", "PATCH")
    ]
    assert report.tensorrt_headers == ".".join(parts)


def test_backends_report_what_imports():
    report = trtpipe.info()
    by_name = {backend.name: backend for backend in report.backends}
    assert set(by_name) == {"tensorrt", "onnxruntime", "torch"}
    for name in ("onnxruntime", "torch"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            assert not by_name[name].available
        else:
            assert by_name[name].available
            assert by_name[name].version == module.__version__
    if not by_name["tensorrt"].available:
        assert "searched" in by_name["tensorrt"].detail


def test_cli_json_agrees_with_info():
    out = subprocess.run(
        [sys.executable, "-m", "trtpipe", "info", "--json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(out)
    expected = trtpipe.info().to_dict()
    for key in ("version", "core_with_cuda", "cuda_version", "cuda_architectures"):
        assert data[key] == expected[key]
    assert [gpu["name"] for gpu in data["gpus"]] == [gpu["name"] for gpu in expected["gpus"]]
    assert [b["available"] for b in data["backends"]] == [
        b["available"] for b in expected["backends"]
    ]


def test_cli_table_is_readable():
    result = subprocess.run(["trtpipe", "info"], capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["trtpipe", trtpipe.__version__]
    assert any(line.startswith("GPU") for line in lines)
    assert any(line.startswith("backend onnxruntime") for line in lines)
