"""From a policy's actions to velocity commands that are safe to send to a robot.

:class:`ActionMapping` says which action component drives which ``geometry_msgs/Twist`` field,
with what scale. :class:`SafeCommander` turns the newest action (a vector, or a chunk of T steps
played back at the control rate) into the command to publish *now*, and publishes zero — never
the last command again — when:

- no instruction has been received (``no_instruction``);
- the e-stop is engaged (``estop``);
- the last inference failed (``inference_error``), until a new action arrives;
- the newest action is older than ``stale_after_ms``, or its chunk has been played out
  (``stale``; an action vector holds until then, a chunk (T, D) plays one step per tick);
- there is no action yet (``no_action``);
- the action holds NaN or inf (``non_finite_action``).

Whatever the model outputs, a command never exceeds ``max_linear`` / ``max_angular`` (m/s,
rad/s, per axis) and changes by at most ``max_linear_accel`` / ``max_angular_accel`` per second
from the previous command, except that stopping is immediate: a zero command is never
rate-limited. Every zero carries its reason, counted in :attr:`SafeCommander.stops`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from trtpipe.arguments import finite_real
from trtpipe.errors import InputError

#: the Twist fields, in the order of :attr:`Command.values`
TWIST_FIELDS = ("linear.x", "linear.y", "linear.z", "angular.x", "angular.y", "angular.z")


@dataclass(frozen=True)
class ActionMapping:
    """``fields[k]`` is the Twist field action component ``k`` drives ("" to leave it unused),
    scaled by ``scales[k]`` (default 1)."""

    fields: tuple[str, ...] = ("linear.x", "angular.z")
    scales: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        unknown = [f for f in self.fields if f and f not in TWIST_FIELDS]
        if unknown:
            raise InputError(f"fields: expected Twist fields {TWIST_FIELDS} or '', given {unknown}")
        used = [f for f in self.fields if f]
        if len(set(used)) != len(used):
            raise InputError(f"fields: expected each Twist field at most once, given {used}")
        if self.scales and len(self.scales) != len(self.fields):
            raise InputError(
                f"scales: expected one per field ({len(self.fields)}), given {len(self.scales)}"
            )
        for scale in self.scales:
            finite_real("scales", scale)

    def twist(self, action: np.ndarray) -> np.ndarray:
        """The six Twist values an action vector asks for (unscaled components beyond
        ``fields`` are ignored; missing ones leave their fields at 0)."""
        out = np.zeros(6, np.float64)
        scales = self.scales or (1.0,) * len(self.fields)
        for k, (name, scale) in enumerate(zip(self.fields, scales, strict=True)):
            if name and k < action.shape[-1]:
                out[TWIST_FIELDS.index(name)] = float(action[k]) * scale
        return out


@dataclass(frozen=True)
class Limits:
    """Per-axis speed limits and acceleration limits of the commands."""

    max_linear: float = 0.5  # m/s
    max_angular: float = 1.0  # rad/s
    max_linear_accel: float = 1.0  # m/s^2
    max_angular_accel: float = 2.0  # rad/s^2

    def __post_init__(self) -> None:
        for name in ("max_linear", "max_angular", "max_linear_accel", "max_angular_accel"):
            value = getattr(self, name)
            if finite_real(name, value) < 0:
                raise InputError(f"{name}: expected a finite number >= 0, given {value!r}")


@dataclass(frozen=True)
class Command:
    """What to publish now: six Twist values, and why it is zero (None when it is not)."""

    values: np.ndarray  # (6,) linear x y z, angular x y z
    stop_reason: str | None = None

    @property
    def is_zero(self) -> bool:
        return not np.any(self.values)


@dataclass
class _Newest:
    actions: np.ndarray  # (T, D): T steps of D components
    chunk: bool  # played one step per tick (else one vector, held until stale)
    received: float  # seconds, the commander's clock


@dataclass
class SafeCommander:
    """The command to publish at each control tick (see the module's docstring).

    ``control_rate_hz``: ticks per second (an action chunk plays one step per tick).
    ``stale_after_ms``: the age at which an action no longer commands. Thread-safe: actions,
    instructions and the e-stop may come from other threads than the ticks.
    """

    mapping: ActionMapping = field(default_factory=ActionMapping)
    limits: Limits = field(default_factory=Limits)
    control_rate_hz: float = 50.0
    stale_after_ms: float = 500.0
    stops: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if finite_real("control_rate_hz", self.control_rate_hz) <= 0:
            raise InputError(f"control_rate_hz: expected > 0, given {self.control_rate_hz!r}")
        if finite_real("stale_after_ms", self.stale_after_ms) <= 0:
            raise InputError(f"stale_after_ms: expected > 0, given {self.stale_after_ms!r}")
        self._lock = threading.Lock()
        self._newest: _Newest | None = None
        self._instruction = False
        self._estop = False
        self._failed = False
        self._last = np.zeros(6, np.float64)
        self._last_time: float | None = None

    # -- what comes in -------------------------------------------------------------------------

    def set_instruction(self, present: bool) -> None:
        """Whether an instruction is in force (an empty one is none)."""
        with self._lock:
            self._instruction = bool(present)

    def set_estop(self, engaged: bool) -> None:
        with self._lock:
            self._estop = bool(engaged)

    def action(self, actions: Sequence[float] | np.ndarray, now: float) -> None:
        """A new action (D,) or chunk (T, D) from the model, received at ``now`` (seconds)."""
        now = finite_real("now", now)
        try:
            array = np.asarray(actions, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"actions: expected numbers, given {actions!r:.80}") from exc
        chunk = array.ndim == 2
        if array.ndim == 1:
            array = array[None, :]
        if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
            raise InputError(f"actions: expected (D,) or (T, D), given shape {array.shape}")
        with self._lock:
            self._newest = _Newest(array, chunk, now)
            self._failed = False

    def inference_failed(self) -> None:
        """The last inference failed: zero until the next action."""
        with self._lock:
            self._failed = True

    # -- what goes out -------------------------------------------------------------------------

    def command(self, now: float) -> Command:
        """The command for the tick at ``now`` (seconds, the clock of :meth:`action`)."""
        now = finite_real("now", now)  # one NaN tick would make every later command NaN
        with self._lock:
            command = self._give(now, None)
        assert command is not None
        return command

    def changed_command(self, now: float, sent: np.ndarray) -> Command | None:
        """The command for ``now`` if it differs from ``sent`` (the six values last sent), else
        None, with nothing counted or remembered: a new action's command, sent at once between
        ticks, under the same rules and limits as a tick's."""
        now = finite_real("now", now)
        with self._lock:
            return self._give(now, sent)

    def stopped(self, now: float) -> None:
        """A zero command was sent at ``now`` besides :meth:`command` (at a start, a transition,
        the e-stop): the next command's acceleration is limited from it."""
        now = finite_real("now", now)
        with self._lock:
            self._last = np.zeros(6, np.float64)
            self._last_time = now

    def _give(self, now: float, unless: np.ndarray | None) -> Command | None:
        reason, wanted = self._wanted(now)
        # stopping is never rate-limited
        values = np.zeros(6, np.float64) if reason is not None else self._limited(wanted, now)
        if unless is not None and np.array_equal(values, unless):
            return None
        if reason is not None:
            self.stops[reason] += 1
        self._last, self._last_time = values, now
        return Command(values.copy(), reason)

    def _wanted(self, now: float) -> tuple[str | None, np.ndarray]:
        zero = np.zeros(6, np.float64)
        if self._estop:
            return "estop", zero
        if not self._instruction:
            return "no_instruction", zero
        if self._failed:
            return "inference_error", zero
        newest = self._newest
        if newest is None:
            return "no_action", zero
        age = now - newest.received
        step = int(max(age, 0.0) * self.control_rate_hz + 1e-9) if newest.chunk else 0
        if age * 1e3 > self.stale_after_ms or step >= newest.actions.shape[0]:
            return "stale", zero
        action = newest.actions[step]
        if not np.all(np.isfinite(action)):
            return "non_finite_action", zero
        wanted = self.mapping.twist(action)
        if not np.all(np.isfinite(wanted)):  # a huge value times a scale
            return "non_finite_action", zero
        return None, wanted

    def _limited(self, wanted: np.ndarray, now: float) -> np.ndarray:
        lim = self.limits
        speed = np.array([lim.max_linear] * 3 + [lim.max_angular] * 3)
        out = np.clip(wanted, -speed, speed)
        if self._last_time is not None:
            dt = max(now - self._last_time, 0.0)
            step = np.array([lim.max_linear_accel] * 3 + [lim.max_angular_accel] * 3) * dt
            out = np.clip(out, self._last - step, self._last + step)
        return out
