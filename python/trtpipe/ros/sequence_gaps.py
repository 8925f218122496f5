"""Messages a publisher sent that never reached a subscription, from the publisher's numbers.

Where the middleware numbers each publisher's messages (rmw's message info:
``publication_sequence_number`` with the ``publisher_gid``; Fast DDS does), a jump from n to
n + k between two messages a subscription took means k - 1 messages of that publisher never
reached its callback: lost in transport (a best-effort sample that did not arrive, a frame too
large for the transport) or overwritten in the subscription's own queue (keep last ``depth``)
before the executor took them. Neither reaches the callback, so nothing else can count them; the
middleware's own message-lost event counts the first kind only, where it reports it at all.

Each publisher is counted from the first message of it that the subscription took (what it sent
before the two matched is not lost); a number that goes back (a publisher restarted under the
same id) starts its count again, and so does a new publisher id: neither is a loss. Where the
middleware gives no sequence numbers, or rclpy passes no message info to callbacks, nothing is
counted and :attr:`SequenceGaps.state` says so.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

ON = "on"
WAITING = "waiting for the first message"
NO_NUMBERS = "unavailable: the middleware reports no publication sequence numbers"
NO_MESSAGE_INFO = "unavailable: this rclpy passes no message info to subscription callbacks"

UNSUPPORTED = 2**64 - 1  # rmw's RMW_MESSAGE_INFO_SEQUENCE_NUMBER_UNSUPPORTED, where passed as is
MAX_PUBLISHERS = 64  # publishers remembered per subscription; the oldest seen is forgotten


def message_info_callbacks() -> bool:
    """Whether this rclpy passes ``(msg, info)`` to a callback that takes two arguments."""
    from rclpy.subscription import Subscription

    return hasattr(Subscription, "CallbackType")


class SequenceGaps:
    """Counts one subscription's messages that never reached it, per publisher.

    ``on_gap(n)`` is called with each gap's size as it is found; :attr:`missing` is the total.
    """

    def __init__(self, on_gap: Callable[[int], None] | None = None):
        self.missing = 0
        self.state = WAITING
        self._on_gap = on_gap
        self._last: OrderedDict[bytes | None, int] = OrderedDict()

    def observe(self, info: Mapping[str, Any]) -> int:
        """Takes one message's info; returns how many of its publisher's messages it skipped."""
        seq = info.get("publication_sequence_number")
        if seq is None or seq == UNSUPPORTED:
            if self.state == WAITING:
                self.state = NO_NUMBERS
            return 0
        self.state = ON
        gid = info.get("publisher_gid")
        publisher = bytes(gid["data"]) if gid else None  # without ids: one count per topic
        last = self._last.pop(publisher, None)
        self._last[publisher] = seq
        if len(self._last) > MAX_PUBLISHERS:
            self._last.popitem(last=False)
        if last is None or seq <= last:  # a new publisher, or one that started again
            return 0
        missing = seq - last - 1
        if missing:
            self.missing += missing
            if self._on_gap is not None:
                self._on_gap(missing)
        return missing

    def wrap(self, callback: Callable[[Any], None]) -> Callable[..., None]:
        """A subscription callback that counts gaps, then hands the message to ``callback``;
        ``callback`` itself where this rclpy passes no message info."""
        if not message_info_callbacks():
            self.state = NO_MESSAGE_INFO
            return callback

        def with_info(msg: Any, info: Mapping[str, Any]) -> None:
            self.observe(info)
            callback(msg)

        return with_info

    def diagnostic_values(
        self, count_key: str | None, state_key: str = "sequence_gap_counter"
    ) -> list[tuple[str, str]]:
        """The total under ``count_key`` (none: the node reports it elsewhere) and the state."""
        values = [(count_key, str(self.missing))] if count_key else []
        return [*values, (state_key, self.state)]
