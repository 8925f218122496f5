"""Messages a publisher sent that never reached a subscription, counted from the publishers'
sequence numbers: the counter against known message infos, then the nodes with real rclpy
(every message arrives: no gap; a stalled executor behind a keep-last-1 queue: the overwritten
messages; a publisher in another process whose large best-effort frames do not arrive: the
frames lost in transport)."""

from __future__ import annotations

import os
import textwrap
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from trtpipe.ros import sequence_gaps
from trtpipe.ros.large_frames import PROFILE_ENV
from trtpipe.ros.sequence_gaps import (
    MAX_PUBLISHERS,
    NO_MESSAGE_INFO,
    NO_NUMBERS,
    ON,
    UNSUPPORTED,
    WAITING,
    SequenceGaps,
)

from .ros_harness import (
    Graph,
    ScriptedDetector,
    detector_node,
    diagnostics_now,
    drops,
    factory_of,
    image_msg,
    run_publisher,
    spin_until,
)


def info(seq: int | None, gid: bytes | None = b"A") -> dict[str, Any]:
    """A message info as rclpy hands it to a two-argument callback."""
    out: dict[str, Any] = {
        "source_timestamp": 1,
        "received_timestamp": 2,
        "publication_sequence_number": seq,
        "reception_sequence_number": None,
        "publisher_gid": None,
    }
    if gid is not None:
        out["publisher_gid"] = {"implementation_identifier": "rmw_test", "data": gid}
    return out


def count(infos: list[dict[str, Any]]) -> tuple[SequenceGaps, list[int], list[int]]:
    gaps_seen: list[int] = []
    gaps = SequenceGaps(on_gap=gaps_seen.append)
    return gaps, [gaps.observe(i) for i in infos], gaps_seen


def test_a_gap_counts_the_messages_skipped_and_the_first_message_is_the_baseline():
    gaps, per_message, seen = count([info(s) for s in (7, 8, 11, 12, 20)])
    assert per_message == [0, 0, 2, 0, 7]  # 9, 10 and 13..19 never came; 1..6 predate us
    assert seen == [2, 7]
    assert gaps.missing == 9
    assert gaps.state == ON


def test_each_publisher_is_counted_on_its_own():
    interleaved = [info(1, b"A"), info(1, b"B"), info(2, b"A"), info(3, b"B"), info(5, b"A")]
    gaps, per_message, _ = count(interleaved)
    assert per_message == [0, 0, 0, 1, 2]
    assert gaps.missing == 3


def test_a_restarted_publisher_is_no_loss():
    # the same id numbering from 1 again, then a new id (a new process): no gap either time
    gaps, per_message, seen = count([info(s) for s in (1, 2, 3, 1, 2)] + [info(1, b"C")])
    assert per_message == [0] * 6
    assert seen == []
    assert gaps.missing == 0
    # and counting goes on from the restart
    assert gaps.observe(info(4)) == 1


def test_without_publisher_ids_one_count_per_topic():
    gaps, per_message, _ = count([info(s, gid=None) for s in (1, 2, 4, 5)])
    assert per_message == [0, 0, 1, 0]
    assert gaps.state == ON


@pytest.mark.parametrize("missing", [None, UNSUPPORTED])
def test_without_sequence_numbers_nothing_is_counted_and_the_state_says_so(missing):
    gaps = SequenceGaps()
    assert gaps.state == WAITING
    assert [gaps.observe(info(missing)) for _ in range(3)] == [0, 0, 0]
    assert gaps.missing == 0
    assert gaps.state == NO_NUMBERS
    # an older rclpy's info: the timestamps only
    older = SequenceGaps()
    assert older.observe({"source_timestamp": 1, "received_timestamp": 2}) == 0
    assert older.state == NO_NUMBERS
    assert older.diagnostic_values("dropped.sequence_gap") == [
        ("dropped.sequence_gap", "0"),
        ("sequence_gap_counter", NO_NUMBERS),
    ]


def test_the_publishers_remembered_are_bounded():
    gaps = SequenceGaps()
    for n in range(MAX_PUBLISHERS + 10):
        gaps.observe(info(1, gid=n.to_bytes(16, "little")))
    assert len(gaps._last) == MAX_PUBLISHERS
    # a forgotten publisher starts again from its next message: no gap invented
    assert gaps.observe(info(5, gid=(0).to_bytes(16, "little"))) == 0


def test_wrap_counts_then_hands_over_the_message():
    pytest.importorskip("rclpy")
    from rclpy.subscription import Subscription

    handed: list[Any] = []
    gaps = SequenceGaps()
    callback = gaps.wrap(handed.append)
    callback("m1", info(1))
    callback("m2", info(3))
    assert handed == ["m1", "m2"]
    assert gaps.missing == 1
    # rclpy hands this callback the message info
    if sequence_gaps.message_info_callbacks():
        probe = Subscription.__new__(Subscription)
        probe.callback = callback
        assert probe._callback_type is Subscription.CallbackType.WithMessageInfo


def test_an_rclpy_without_message_info_callbacks_gets_the_callback_as_is(monkeypatch):
    monkeypatch.setattr(sequence_gaps, "message_info_callbacks", lambda: False)
    gaps = SequenceGaps()

    def callback(msg: Any) -> None:
        pass

    assert gaps.wrap(callback) is callback
    assert gaps.state == NO_MESSAGE_INFO


# -- the detector node, real rclpy -------------------------------------------------------------

CAMERA = textwrap.dedent(
    """
    import sys, time
    import rclpy
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    pairs, side = (int(v) for v in sys.argv[1:3])
    rclpy.init()
    node = rclpy.create_node("gappy_camera")
    pub = node.create_publisher(Image, sys.argv[3], qos_profile_sensor_data)
    small = Image(width=4, height=4, encoding="mono8", step=4, data=bytes(16))
    large = Image(width=side, height=side, encoding="mono8", step=side, data=bytes(side * side))
    deadline = time.monotonic() + 20
    while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the reader side finishes matching too
    pub.publish(small)
    for i in range(pairs):  # 30 Hz, as a camera driver; small frames first and last
        time.sleep(1 / 30)
        pub.publish(large)
        time.sleep(1 / 30)
        pub.publish(small)
    time.sleep(1.0)
    node.destroy_node()
    rclpy.shutdown()
    """
)


def _diagnostic_values(node: Any) -> dict[str, str]:
    """The detector node's /diagnostics values."""
    runtime = node.runtime
    (values,) = diagnostics_now(runtime, "_diag_pub", runtime.publish_diagnostics).values()
    return values


@pytest.mark.ros
@pytest.mark.parametrize("serialized", [True, False], ids=["in_place", "deserialised"])
def test_every_message_arrives_no_gap_and_the_counter_is_on(ros_context, serialized):
    g = Graph(
        ros_context,
        factory_of(ScriptedDetector()),
        f"seq_all_{int(serialized)}",
        serialized_input=serialized,
    )
    try:
        values = _diagnostic_values(g.node)
        assert values["sequence_gap_counter"] == WAITING
        for i in range(20):
            g.send_and_wait(image_msg(np.full((4, 4), i, np.uint8), "mono8", 1_000 + i), i + 1)
        values = _diagnostic_values(g.node)
        assert values["sequence_gap_counter"] == ON
        assert "dropped.sequence_gap" not in values
        assert g.node.runtime.counters.received == 20
    finally:
        g.close()


@pytest.mark.ros
def test_messages_overwritten_in_a_stalled_subscriptions_queue_are_counted(ros_context):
    """sensor_data keeps the last message only: what the publisher sends while the executor
    does not take them is overwritten before the node sees it, and the gap counts it (the
    middleware's message-lost event does not: nothing was lost in transport)."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image

    node = detector_node(
        ros_context, factory_of(ScriptedDetector()), "seq_stall", qos="sensor_data"
    )
    peer = rclpy.create_node("seq_stall_camera", context=ros_context)
    pub = peer.create_publisher(Image, "seq_stall/image", 10)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)

    def received() -> int:
        return node.runtime.counters.received

    try:
        spin_until(executor, lambda: pub.get_subscription_count() > 0, 10, "the subscription")
        frame = image_msg(np.zeros((4, 4), np.uint8), "mono8", 1_000)
        pub.publish(frame)
        spin_until(executor, lambda: received() == 1, 10, "the first frame")
        for _ in range(5):  # the executor takes none of these
            pub.publish(frame)
        time.sleep(0.3)
        spin_until(executor, lambda: received() == 2, 10, "the newest frame")
        for _ in range(10):
            executor.spin_once(timeout_sec=0.02)
        assert received() == 2
        assert drops(node).get("sequence_gap") == 4
        values = _diagnostic_values(node)
        assert values["dropped.sequence_gap"] == "4"
        assert values["qos_messages_lost.input"] == "0"
        # what Fast DDS reports for a frame lost in fragments: 1, then its cap 2**31 - 1
        for change in (1, 2**31 - 1):
            node.runtime._on_message_lost(SimpleNamespace(total_count_change=change))
        assert node.runtime.counters.messages_lost == 1
    finally:
        executor.shutdown()
        node.destroy_node()
        peer.destroy_node()


@pytest.mark.ros
def test_large_best_effort_frames_lost_between_processes_are_counted(ros_context):
    """A camera in another process, without trtpipe's Fast DDS profile, sends small and
    2 MiB frames in turn, best effort: the large ones that do not arrive (measured here: most
    of them) are the gaps, and every frame sent is either received or counted."""
    from rclpy.executors import SingleThreadedExecutor

    pairs, side = 15, 1448  # 2 MiB mono8
    node = detector_node(ros_context, factory_of(ScriptedDetector()), "seq_wire", qos="sensor_data")
    # the camera as a user's: the default transports, not trtpipe's profile
    env = {
        k: v for k, v in os.environ.items() if k not in (PROFILE_ENV, "FASTDDS_BUILTIN_TRANSPORTS")
    }
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    try:
        run_publisher(executor, CAMERA, str(pairs), str(side), "seq_wire/image", env=env)
        received = node.runtime.counters.received
        lost = drops(node).get("sequence_gap", 0)
        assert received + lost == 2 * pairs + 1, (received, lost)
        assert lost >= 1, f"all {received} frames arrived: nothing to count"
        values = _diagnostic_values(node)
        assert values["dropped.sequence_gap"] == str(lost)
        # the middleware's own report of the same losses, where it makes one (Fast DDS also
        # reports each as 2**31 - 1 lost, which the node leaves out), is no larger
        assert int(values["qos_messages_lost.input"]) <= lost, values["qos_messages_lost.input"]
    finally:
        executor.shutdown()
        node.destroy_node()
