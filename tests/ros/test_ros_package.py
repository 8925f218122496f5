"""The ament package, its parameters file and the trtpipe-ros entry points."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trtpipe.ros.params import DetectorParams

from .ros_harness import DOMAIN_ID, PREFIX, ROOT

PACKAGE = ROOT / "ros" / "trtpipe_ros"
PARAMS_YAML = PACKAGE / "config" / "params.yaml"


def test_params_yaml_lists_every_default():
    yaml = pytest.importorskip("yaml")
    values = yaml.safe_load(PARAMS_YAML.read_text())["/**"]["ros__parameters"]
    assert values == DetectorParams.defaults()


@pytest.mark.ros
def test_node_reads_the_params_file_through_ros():
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(
        args=["x", "--ros-args", "--params-file", str(PARAMS_YAML), "-p", "conf:=0.6"],
        context=context,
        domain_id=DOMAIN_ID,
    )
    try:
        node = rclpy.create_node("params_probe", context=context)
        params = DetectorParams.declare(node)
        assert params == DetectorParams(conf=0.6)
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_entry_points_resolve_to_trtpipe_ros_main():
    import trtpipe.ros.main as main

    tree = ast.parse((PACKAGE / "setup.py").read_text())
    scripts = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and " = " in node.value
    ]
    assert len(scripts) == 3
    for script in scripts:
        target = script.split(" = ")[1]
        module, func = target.split(":")
        assert module == "trtpipe.ros.main" and callable(getattr(main, func))
    compile((PACKAGE / "launch" / "trtpipe.launch.py").read_text(), "trtpipe.launch.py", "exec")


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    site = PREFIX / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    if site.is_dir():
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            filter(None, [str(PREFIX / "lib"), env.get("LD_LIBRARY_PATH")])
        )
        env["AMENT_PREFIX_PATH"] = os.pathsep.join([str(PREFIX), sys.prefix])
    return subprocess.run(
        [sys.executable, "-m", "trtpipe.ros.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.mark.ros
def test_isaac_bridge_without_isaac_explains_and_exits_non_zero():
    done = _run("isaac-bridge")
    assert done.returncode == 3
    assert "isaac_ros_detectnet_interfaces is not importable" in done.stderr
    assert "Isaac ROS" in done.stderr


@pytest.mark.ros
def test_detector_with_a_missing_model_exits_non_zero_with_the_reason(tmp_path: Path):
    missing = tmp_path / "no-such-model.onnx"
    done = _run("detector", "--ros-args", "-p", f"model:={missing}", "-p", "nvml_device:=-1")
    assert done.returncode == 1, done.stderr
    assert "trtpipe-ros detector:" in done.stderr
