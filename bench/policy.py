"""The policy path's own cost, and the control loop's regularity.

    python -m bench.policy [--repeats N] [--backend B] [--device D] [--seconds S]

- ``Policy.act`` (preprocessing the image, tokenising the instruction, binding state, reading
  the action) against ``engine.infer`` on the same, ready inputs: the difference of the medians
  is what trtpipe adds to the model's own time.
- The ROS node (when rclpy is importable): ``cmd_vel`` at 50 Hz for ``seconds`` while images
  stream at 30 Hz, the intervals between commands as received (p50, p99, worst), and the
  image -> action latency the node reports.

The model is the test suite's two-input VLA model (tests/onnx_models.py): image 32×32 + 8
tokens + mask + 2 joint positions -> (linear, angular).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from onnx_models import write_vla_model, write_vla_tokenizer
from trtpipe.policy import Policy


def median_us(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e6)
    return statistics.median(times)


def node_jitter(model: Path, tokenizer: Path, backend: str, device: str, seconds: float) -> None:
    import rclpy
    from geometry_msgs.msg import Twist
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import String

    from trtpipe.ros.policy_node import PolicyNode

    context = rclpy.Context()
    rclpy.init(context=context)
    node = PolicyNode(
        "policy_bench",
        context=context,
        parameter_overrides=[
            Parameter("model", value=str(model)),
            Parameter("tokenizer", value=str(tokenizer)),
            Parameter("backend", value=backend),
            Parameter("device", value=device),
            Parameter("image_qos", value="default"),
        ],
    )
    peer = rclpy.create_node("policy_bench_peer", context=context)
    arrivals: list[float] = []
    peer.create_subscription(Twist, "cmd_vel", lambda m: arrivals.append(time.perf_counter()), 100)
    images = peer.create_publisher(Image, "image", 10)
    text = peer.create_publisher(String, "instruction", 10)
    joints = peer.create_publisher(JointState, "joint_states", 10)
    executors = []
    for each in (node, peer):  # one executor per node: the peer's work never delays the node
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(each)
        threading.Thread(target=executor.spin, daemon=True).start()
        executors.append(executor)
    node.trigger_configure()
    node.trigger_activate()
    frame = Image(height=32, width=32, encoding="rgb8", step=96, data=bytes(32 * 32 * 3))
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        joints.publish(JointState(position=[0.1, 0.2]))
        text.publish(String(data="go left"))
        images.publish(frame)
        time.sleep(1 / 30)
    gaps = np.diff(arrivals[10:]) * 1e3
    latency = list(node._latency_ms)
    print(
        f"node cmd_vel at 50 Hz over {seconds:g} s: interval p50 {np.percentile(gaps, 50):.2f} ms, "
        f"p99 {np.percentile(gaps, 99):.2f} ms, worst {gaps.max():.2f} ms; "
        f"image -> action p50 {np.percentile(latency, 50):.3f} ms ({len(latency)} actions)"
    )
    node.trigger_deactivate()
    for executor in executors:
        executor.shutdown()
    node.destroy_node()
    peer.destroy_node()
    rclpy.shutdown(context=context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=500)
    parser.add_argument("--backend", default="onnxruntime")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = write_vla_model(Path(tmp) / "vla.onnx")
        tokenizer = write_vla_tokenizer(Path(tmp) / "tokenizer.json")
        policy = Policy(model, tokenizer, backend=args.backend, device=args.device)
        image = np.full((32, 32, 3), 128, np.uint8)
        state = {"joints": [0.1, 0.2]}
        feeds = policy.feeds(image, "go left", state, "rgb8")
        for _ in range(20):
            policy.act(image, "go left", state, "rgb8")
            policy.engine.infer(feeds)
        acts, infers = [], []
        for _ in range(5):  # interleaved rounds, so both see the same machine state
            acts.append(
                median_us(lambda: policy.act(image, "go left", state, "rgb8"), args.repeats // 5)
            )
            infers.append(median_us(lambda: policy.engine.infer(feeds), args.repeats // 5))
        act, infer = statistics.median(acts), statistics.median(infers)
        print(
            f"{policy.engine.backend} on {policy.engine.device}: Policy.act p50 {act:.1f} us, "
            f"engine.infer alone {infer:.1f} us, trtpipe's own {act - infer:.1f} us"
        )
        try:
            import rclpy  # noqa: F401
        except ImportError:
            print("no rclpy: the node case is skipped")
            return
        node_jitter(model, tokenizer, args.backend, args.device, args.seconds)


if __name__ == "__main__":
    main()
