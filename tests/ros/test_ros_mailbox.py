"""The one-slot mailbox: newest wins, every displaced item counted, close wakes the consumer."""

from __future__ import annotations

import threading

from trtpipe.ros.mailbox import LatestMailbox


def test_newest_item_wins_and_displacements_are_counted():
    box: LatestMailbox[int] = LatestMailbox()
    assert [box.put(i) for i in range(5)] == [False, True, True, True, True]
    assert box.displaced == 4
    assert box.take(timeout=0) == 4
    assert box.take(timeout=0) is None


def test_concurrent_producer_every_item_taken_or_displaced():
    box: LatestMailbox[int] = LatestMailbox()
    taken: list[int] = []
    n = 20_000

    def consume() -> None:
        while (item := box.take(timeout=2.0)) is not None:
            taken.append(item)
            if item == n - 1:
                return

    consumer = threading.Thread(target=consume)
    consumer.start()
    for i in range(n):
        box.put(i)
    consumer.join(5.0)
    assert not consumer.is_alive()
    assert taken == sorted(taken) and taken[-1] == n - 1
    assert len(taken) + box.displaced == n


def test_close_wakes_a_waiting_consumer():
    box: LatestMailbox[int] = LatestMailbox()
    result: list[object] = []
    consumer = threading.Thread(target=lambda: result.append(box.take()))
    consumer.start()
    box.close()
    consumer.join(2.0)
    assert result == [None]
    box.reopen()
    box.put(1)
    assert box.take(timeout=0) == 1
