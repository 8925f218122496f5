"""SafeCommander: a model's actions become bounded velocity commands, and every reason to stop
gives zero (never the last command again), counted by reason."""

from __future__ import annotations

import numpy as np
import pytest

from trtpipe.action_safety import ActionMapping, Limits, SafeCommander
from trtpipe.errors import InputError

FAST = Limits(max_linear=0.5, max_angular=1.0, max_linear_accel=100.0, max_angular_accel=100.0)


def _ready(**kwargs) -> SafeCommander:
    commander = SafeCommander(limits=kwargs.pop("limits", FAST), **kwargs)
    commander.set_instruction(True)
    return commander


def test_an_action_drives_its_mapped_fields_within_the_limits():
    commander = _ready(mapping=ActionMapping(("linear.x", "", "angular.z"), (1.0, 1.0, -2.0)))
    commander.action([0.3, 99.0, 0.2], now=0.0)
    values = commander.command(0.0).values
    assert values.tolist() == pytest.approx([0.3, 0, 0, 0, 0, -0.4])
    commander.action([5.0, 0.0, -5.0], now=0.1)  # far beyond the limits
    values = commander.command(0.1).values
    assert values[0] == pytest.approx(0.5) and values[5] == pytest.approx(1.0)


def test_every_reason_to_stop_gives_zero_with_its_reason():
    commander = SafeCommander(limits=FAST, stale_after_ms=200)
    assert commander.command(0.0).stop_reason == "no_instruction"
    commander.set_instruction(True)
    assert commander.command(0.0).stop_reason == "no_action"
    commander.action([0.2, 0.1], now=0.0)
    assert commander.command(0.05).stop_reason is None
    assert commander.command(0.25).stop_reason == "stale"  # older than 200 ms
    commander.action([0.2, 0.1], now=1.0)
    commander.set_estop(True)
    stopped = commander.command(1.0)
    assert stopped.stop_reason == "estop" and stopped.is_zero
    commander.set_estop(False)
    assert not commander.command(1.01).is_zero
    commander.inference_failed()
    assert commander.command(1.02).stop_reason == "inference_error"
    commander.action([0.2, 0.1], now=1.03)  # a new action clears the failure
    assert commander.command(1.03).stop_reason is None
    for bad in ([np.nan, 0.0], [0.0, np.inf], [1e308, 0.0]):
        commander.action(bad, now=2.0)
        command = commander.command(2.0)
        if command.stop_reason is None:  # a huge finite value is clamped, never passed raw
            assert np.all(np.abs(command.values) <= [0.5] * 3 + [1.0] * 3)
        else:
            assert command.stop_reason == "non_finite_action" and command.is_zero
    assert commander.stops["estop"] == 1 and commander.stops["stale"] == 1
    commander.set_instruction(False)
    assert commander.command(2.0).stop_reason == "no_instruction"


def test_a_chunk_plays_one_step_per_tick_then_stops():
    commander = _ready(control_rate_hz=10.0, stale_after_ms=10_000)
    chunk = [[0.1, 0.0], [0.2, 0.0], [0.3, 0.0]]
    commander.action(chunk, now=0.0)
    played = [commander.command(t).values[0] for t in (0.0, 0.1, 0.2)]
    assert played == pytest.approx([0.1, 0.2, 0.3])
    assert commander.command(0.3).stop_reason == "stale"  # played out: zero, not the last step


def test_acceleration_is_limited_but_stopping_is_immediate():
    limits = Limits(max_linear=1.0, max_angular=1.0, max_linear_accel=1.0, max_angular_accel=1.0)
    commander = _ready(limits=limits, stale_after_ms=10_000)
    commander.command(0.0)  # zero: no action yet
    commander.action([1.0, 0.0], now=0.0)
    speeds = [commander.command(t).values[0] for t in (0.1, 0.2, 0.3)]
    assert speeds == pytest.approx([0.1, 0.2, 0.3])  # 1 m/s^2
    commander.set_estop(True)
    assert commander.command(0.31).is_zero  # at once


def test_a_new_actions_command_between_ticks_follows_the_same_rules():
    """changed_command: what a tick would give now, where it differs from what was last sent;
    a command equal to it is neither counted nor remembered."""
    limits = Limits(max_linear=1.0, max_angular=1.0, max_linear_accel=1.0, max_angular_accel=1.0)
    commander = _ready(limits=limits, stale_after_ms=10_000)
    sent = commander.command(0.0).values  # zero: no action yet
    assert commander.changed_command(0.01, sent) is None  # still zero: nothing to send
    assert commander.stops["no_action"] == 1
    commander.action([1.0, 0.0], now=0.1)
    first = commander.changed_command(0.1, sent)
    assert first is not None and first.values[0] == pytest.approx(0.1)  # 1 m/s^2 from the tick
    assert commander.command(0.2).values[0] == pytest.approx(0.2)  # the ticks go on from it
    commander.action([np.nan, 0.0], now=0.25)
    stop = commander.changed_command(0.25, np.array([0.2, 0, 0, 0, 0, 0]))
    assert stop is not None and stop.is_zero and stop.stop_reason == "non_finite_action"
    assert commander.changed_command(0.26, stop.values) is None
    assert commander.stops["non_finite_action"] == 1


def test_a_zero_sent_besides_the_ticks_limits_the_next_acceleration():
    limits = Limits(max_linear=1.0, max_angular=1.0, max_linear_accel=1.0, max_angular_accel=1.0)
    commander = _ready(limits=limits, stale_after_ms=10_000)
    commander.action([1.0, 0.0], now=5.0)
    assert commander.command(5.0).values[0] == pytest.approx(1.0)  # nothing before: no limit
    commander.stopped(6.0)  # e.g. a lifecycle transition published zero
    commander.action([1.0, 0.0], now=6.0)
    assert commander.command(6.1).values[0] == pytest.approx(0.1)


def test_bad_settings_raise_input_errors():
    with pytest.raises(InputError, match="fields"):
        ActionMapping(("linear.q",))
    with pytest.raises(InputError, match="at most once"):
        ActionMapping(("linear.x", "linear.x"))
    with pytest.raises(InputError, match="scales"):
        ActionMapping(("linear.x",), (1.0, 2.0))
    with pytest.raises(InputError, match="max_linear"):
        Limits(max_linear=float("nan"))
    with pytest.raises(InputError, match="control_rate_hz"):
        SafeCommander(control_rate_hz=0)
    with pytest.raises(InputError, match="actions"):
        SafeCommander().action(np.zeros((2, 2, 2)), now=0.0)
    with pytest.raises(InputError, match="actions"):
        SafeCommander().action([], now=0.0)  # no component: nothing to command
    with pytest.raises(InputError, match="actions"):
        SafeCommander().action(["fast"], now=0.0)
    with pytest.raises(InputError, match="control_rate_hz"):
        SafeCommander(control_rate_hz="50")
    with pytest.raises(InputError, match="max_angular"):
        Limits(max_angular="1")
    with pytest.raises(InputError, match="scales"):
        ActionMapping(("linear.x",), ("2",))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "1.0", None])
def test_a_clock_that_is_not_a_finite_number_is_refused_and_leaves_the_commands_sane(bad):
    commander = _ready(stale_after_ms=500)
    commander.action([0.3, 0.5], now=0.0)
    for call in (
        lambda: commander.command(bad),
        lambda: commander.changed_command(bad, np.zeros(6)),
        lambda: commander.stopped(bad),
        lambda: commander.action([0.3, 0.5], now=bad),
    ):
        with pytest.raises(InputError, match="now"):
            call()
    # the refused calls left no trace: the action stamped at 0.0 still commands, then goes stale
    assert commander.command(0.1).values.tolist() == pytest.approx([0.3, 0, 0, 0, 0, 0.5])
    late = commander.command(3600.0)
    assert late.is_zero and late.stop_reason == "stale"
