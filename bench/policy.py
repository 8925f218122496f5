"""The policy path's own cost, the node's image → command latency, and the control loop's
regularity.

    eval "$(scripts/ros-env.sh)"   # the node case needs rclpy
    python -m bench.policy [--repeats N] [--backend B] [--device D] [--seconds S]
                           [--inline-act-max-ms 0,2]

- ``Policy.act`` (preprocessing the image, the instruction's tokens, binding state, reading
  the action) against ``engine.infer`` on the same, ready inputs: the difference of the medians
  is what trtpipe adds to the model's own time (``feeds``: building the inputs alone).
- The ROS node (when rclpy is importable), in this process on one SingleThreadedExecutor per
  node as ``trtpipe-ros`` spins it, the publisher and subscriber in a second node (DDS and
  rclpy's (de)serialisation both ways), once for each ``--inline-act-max-ms`` (0: every image
  goes to the inference thread; above 0: a model that fast runs in the image's callback):

  * latency: with the instruction received, images stream at 30 Hz, each a different uniform
    grey; the test model's linear.x is grey / 255 plus a constant, so each ``cmd_vel`` Twist
    names the image whose action it carries. The latency of an image is from its publishing
    to the first Twist carrying its action (p50, p99), and less the model's own time:
    ``engine.infer`` on the same inputs, timed in the same run after the stream.
  * jitter: the same image again and again at 30 Hz (the inference runs, the command does not
    change), so ``cmd_vel`` comes from the 50 Hz ticks alone: the intervals between commands
    as received (p50, p99, worst).

The model is the test suite's two-input VLA model (tests/onnx_models.py): image 32×32 + 8
tokens + mask + 2 joint positions -> (linear, angular). The node's limits are opened wide
(speed 10, acceleration 1e6) so a Twist carries its action unclamped.
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

INSTRUCTION = "go left"
JOINTS = [0.1, 0.2]
LEVELS = 200  # grey levels 1..200 name the images of the latency stream
CAMERA_HZ = 30.0


def median_us(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e6)
    return statistics.median(times)


def grey(level: int) -> np.ndarray:
    return np.full((32, 32, 3), level, np.uint8)


def image_latencies(
    sent: list[tuple[float, int]], received: list[tuple[float, float]], base: float
) -> list[float]:
    """Seconds from each image's publishing to the first Twist carrying its action.

    ``sent``: (time, grey level) of each image; ``received``: (time, linear.x) of each Twist;
    ``base``: linear.x of a black image, so a Twist's level is (linear.x - base) * 255. A Twist
    belongs to the newest image of its level published before it; images whose action never
    came (replaced by a newer one while the model ran) count for nothing."""
    latencies = []
    answered: set[int] = set()  # indices into sent
    newest: dict[int, int] = {}  # level -> index of its newest image published so far
    i = 0
    for at, x in received:
        while i < len(sent) and sent[i][0] <= at:
            newest[sent[i][1]] = i
            i += 1
        level = round((x - base) * 255)
        index = newest.get(level)
        if 1 <= level <= LEVELS and index is not None and index not in answered:
            answered.add(index)
            latencies.append(at - sent[index][0])
    return latencies


def node_case(
    policy: Policy, model: Path, tokenizer: Path, args: argparse.Namespace, inline_ms: float
) -> None:
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
            Parameter("backend", value=args.backend),
            Parameter("device", value=args.device),
            Parameter("image_qos", value="default"),
            Parameter("control_rate_hz", value=50.0),
            Parameter("max_linear", value=10.0),
            Parameter("max_angular", value=10.0),
            Parameter("max_linear_accel", value=1e6),
            Parameter("max_angular_accel", value=1e6),
            Parameter("inline_act_max_ms", value=inline_ms),
        ],
    )
    peer = rclpy.create_node("policy_bench_peer", context=context)
    received: list[tuple[float, float]] = []
    peer.create_subscription(
        Twist, "cmd_vel", lambda m: received.append((time.perf_counter(), m.linear.x)), 100
    )
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
    messages = {
        level: Image(height=32, width=32, encoding="rgb8", step=96, data=grey(level).tobytes())
        for level in range(LEVELS + 1)
    }
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (
        node._instruction == INSTRUCTION and "joint_states.position" in node._state
    ):
        joints.publish(JointState(position=JOINTS))
        text.publish(String(data=INSTRUCTION))
        time.sleep(0.05)
    base = float(policy.act(grey(0), INSTRUCTION, {"joints": JOINTS}, "rgb8")[0])

    def stream(levels) -> list[tuple[float, int]]:
        sent = []
        period, next_at = 1 / CAMERA_HZ, time.perf_counter()
        end = next_at + args.seconds
        count = 0
        while next_at < end:
            level = levels(count)
            now = time.perf_counter()
            images.publish(messages[level])
            sent.append((now, level))
            count += 1
            next_at += period
            time.sleep(max(next_at - time.perf_counter(), 0.0))
        time.sleep(0.2)  # the last actions' commands come in
        return sent

    node._latency_ms.clear()
    sent = stream(lambda i: 1 + i % LEVELS)
    latency_ms = np.array(image_latencies(sent, list(received), base)) * 1e3
    inferences = node.inferences
    in_node_ms = np.array(node._latency_ms)  # an image's arrival in the node -> its command sent
    start = len(received)
    stream(lambda i: 128)
    arrivals = [t for t, _ in received[start:]][10:]  # the first change and a settling
    node.trigger_deactivate()  # the loops stop: the engine is the bench's alone
    feeds = node.policy.feeds(grey(128), INSTRUCTION, {"joints": JOINTS}, "rgb8")
    for _ in range(20):
        node.policy.engine.infer(feeds)
    infer_ms = median_us(lambda: node.policy.engine.infer(feeds), args.repeats) / 1e3
    gaps = np.diff(arrivals) * 1e3
    p50, p99 = np.percentile(latency_ms, [50, 99])
    where = "all on the inference thread" if inline_ms == 0 else f"inline_act_max_ms {inline_ms:g}"
    print(
        f"-- the node, {where}: {node.inline_inferences} of its {node.inferences} inferences "
        "ran in the image's callback"
    )
    print(
        f"node image -> cmd_vel: {len(latency_ms)} of {len(sent)} images ({inferences} "
        f"inferences), latency p50 {p50:.3f} ms, p99 {p99:.3f} ms; engine.infer on the same "
        f"inputs {infer_ms:.3f} ms; the node's own (latency - infer) p50 {p50 - infer_ms:.3f} ms, "
        f"p99 {p99 - infer_ms:.3f} ms"
    )
    q50, q99 = np.percentile(in_node_ms, [50, 99])
    print(
        f"in the node, an image's arrival -> its command sent: p50 {q50:.3f} ms, p99 "
        f"{q99:.3f} ms; less engine.infer: p50 {q50 - infer_ms:.3f} ms"
    )
    print(
        f"node cmd_vel at 50 Hz over {args.seconds:g} s of a steady command: interval p50 "
        f"{np.percentile(gaps, 50):.2f} ms, p99 {np.percentile(gaps, 99):.2f} ms, worst "
        f"{gaps.max():.2f} ms ({len(gaps)} intervals)"
    )
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
    parser.add_argument(
        "--inline-act-max-ms",
        default="0,2",
        help="the node's inline_act_max_ms, one node case each, comma-separated (0: every image "
        "on the inference thread; 2: the node's default)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = write_vla_model(Path(tmp) / "vla.onnx")
        tokenizer = write_vla_tokenizer(Path(tmp) / "tokenizer.json")
        policy = Policy(model, tokenizer, backend=args.backend, device=args.device)
        image = grey(128)
        state = {"joints": JOINTS}
        feeds = policy.feeds(image, INSTRUCTION, state, "rgb8")
        for _ in range(20):
            policy.act(image, INSTRUCTION, state, "rgb8")
            policy.engine.infer(feeds)
        acts, builds, infers = [], [], []
        rounds = 5  # interleaved, so all see the same machine state
        for _ in range(rounds):
            acts.append(
                median_us(lambda: policy.act(image, INSTRUCTION, state, "rgb8"), args.repeats // 5)
            )
            builds.append(
                median_us(
                    lambda: policy.feeds(image, INSTRUCTION, state, "rgb8"), args.repeats // 5
                )
            )
            infers.append(median_us(lambda: policy.engine.infer(feeds), args.repeats // 5))
        act, build, infer = (statistics.median(v) for v in (acts, builds, infers))
        print(
            f"{policy.engine.backend} on {policy.engine.device}: Policy.act p50 {act:.1f} us "
            f"(building its inputs {build:.1f} us), engine.infer alone {infer:.1f} us, "
            f"trtpipe's own {act - infer:.1f} us"
        )
        try:
            import rclpy  # noqa: F401
        except ImportError:
            print("no rclpy: the node case is skipped")
            return
        for inline_ms in args.inline_act_max_ms.split(","):
            node_case(policy, model, tokenizer, args, float(inline_ms))


if __name__ == "__main__":
    main()
