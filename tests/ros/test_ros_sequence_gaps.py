"""Messages a publisher sent that never reached a subscription, counted from the publishers'
sequence numbers: the counter against known message infos, then the nodes with real rclpy
(every message arrives: no gap; a stalled executor behind a keep-last-1 queue: the overwritten
messages; a publisher in another process whose large best-effort frames do not arrive: the
frames lost in transport)."""

from __future__ import annotations

from typing import Any

import pytest

from trtpipe.ros import sequence_gaps
from trtpipe.ros.sequence_gaps import (
    MAX_PUBLISHERS,
    NO_MESSAGE_INFO,
    NO_NUMBERS,
    ON,
    UNSUPPORTED,
    WAITING,
    SequenceGaps,
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
