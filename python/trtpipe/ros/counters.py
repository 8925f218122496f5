"""What the detector node counts besides the per-stage latencies of the performance monitor."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from trtpipe.ros.sequence_gaps import WAITING


@dataclass
class NodeCounters:
    received: int = 0
    published: int = 0
    inference_errors: int = 0
    consecutive_failures: int = 0
    reloads: int = 0
    cpu_fallbacks: int = 0
    deadline_missed_input: int = 0  # QoS requested-deadline-missed events of the subscription
    deadline_missed_output: int = 0  # QoS offered-deadline-missed events of the publisher
    incompatible_qos: Counter[str] = field(default_factory=Counter)  # by policy name
    liveliness_lost: int = 0  # input publishers that stopped asserting liveliness
    messages_lost: int = 0  # samples the middleware reports as lost before delivery
    # whether gaps in the publishers' sequence numbers are counted (dropped.sequence_gap)
    sequence_gap_counter: str = WAITING
    last_error: str = ""
    errors_since_report: int = 0
    rejected_since_report: int = 0
