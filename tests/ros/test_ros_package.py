"""The ament package, its parameters file and the trtpipe-ros entry points."""

from __future__ import annotations

import ast
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from trtpipe.ros.params import DetectorParams

from .ros_harness import DOMAIN_ID, ROOT, node_process_env, run_trtpipe_ros

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
    assert len(scripts) == len(main.COMMANDS)  # one executable per command
    for script in scripts:
        target = script.split(" = ")[1]
        module, func = target.split(":")
        assert module == "trtpipe.ros.main" and callable(getattr(main, func))
    for launch in ("trtpipe.launch.py", "rgbd.launch.py", "policy.launch.py"):
        compile((PACKAGE / "launch" / launch).read_text(), launch, "exec")
    helper = PACKAGE / "trtpipe_ros" / "node_launch.py"
    compile(helper.read_text(), helper.name, "exec")


@pytest.mark.ros
def test_isaac_bridge_without_isaac_explains_and_exits_non_zero():
    done = run_trtpipe_ros("isaac-bridge")
    assert done.returncode == 3
    assert "isaac_ros_detectnet_interfaces is not importable" in done.stderr
    assert "Isaac ROS" in done.stderr


@pytest.mark.ros
def test_detector_with_a_missing_model_exits_non_zero_with_the_reason(tmp_path: Path):
    missing = tmp_path / "no-such-model.onnx"
    done = run_trtpipe_ros(
        "detector", "--ros-args", "-p", f"model:={missing}", "-p", "nvml_device:=-1"
    )
    assert done.returncode == 1, done.stderr
    assert "trtpipe-ros detector:" in done.stderr


@pytest.mark.ros
def test_lifecycle_process_stops_cleanly_on_sigint():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trtpipe.ros.main",
            "lifecycle",
            "--ros-args",
            "-p",
            "nvml_device:=-1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=node_process_env(),
    )
    watchdog = threading.Timer(60.0, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # nothing is loaded before configure: it comes up quickly
            if "trtpipe-ros lifecycle: spinning" in line:
                break
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
