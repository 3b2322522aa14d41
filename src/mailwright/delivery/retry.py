"""When to try a delivery again after a temporary failure, and when to give up (pure).

The shape is procrastinate's ``RetryStrategy`` and KumoMTA's ``delay_for_attempt``: a fixed list
of early delays, then growth by ``multiplier`` from the last of them, capped at ``max_delay``;
once ``give_up_after`` has passed since the first try there is no next attempt, and the worker
fails the delivery permanently with Mailgun's reason ``old``.

Our default (Mailgun does not document its message schedule): 10m, 10m, 15m, 30m, 1h, 2h, 4h,
then every 4h, giving up 5 days after the first try (about 35 attempts). RFC 5321 4.5.4.1 asks
for retry intervals of "at least 30 minutes" but also says variable strategies are beneficial;
like Postfix (``minimal_backoff_time`` 300s) we retry sooner at first because most temporary
failures (greylisting, a busy server) clear within minutes, and back off to hours after that.
The give-up time follows RFC 5321 4.5.4.1: "at least 4-5 days".

Optional jitter spreads retries of a whole site that failed at once; its randomness is passed in.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")

DEFAULT_DELAYS = tuple(timedelta(minutes=m) for m in (10, 10, 15, 30, 60, 120, 240))


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"15m"``, ``"4h"``, ``"5d"``, ``"1w"`` or combinations like ``"1h30m"``."""
    compact = text.strip().lower()
    if not compact or _DURATION.sub("", compact):
        raise ValueError(f"Invalid duration {text!r}: expected e.g. 90s, 15m, 4h, 5d")
    seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(compact))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling: ``timedelta(hours=4)`` -> ``"4h"``."""
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    delays: tuple[timedelta, ...] = DEFAULT_DELAYS  # after failed attempt 1, 2, ...
    multiplier: float = 1.0  # growth per attempt beyond ``delays``, from the last delay
    max_delay: timedelta = timedelta(hours=4)  # cap on any single delay
    give_up_after: timedelta = timedelta(days=5)  # since the first try (RFC 5321 4.5.4.1)
    jitter: float = 0.0  # fraction: 0.1 spreads each delay over +-10%

    def __post_init__(self) -> None:
        if not self.delays or any(d <= timedelta(0) for d in self.delays):
            raise ValueError("delays must be a non-empty list of positive durations")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")
        if self.max_delay <= timedelta(0) or self.give_up_after <= timedelta(0):
            raise ValueError("max and give_up must be positive")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    def delay_for(self, attempts: int, rand: float = 0.5) -> timedelta:
        """The wait after ``attempts`` failed attempts (1 = the first try failed).

        ``delays[attempts - 1]`` while the list lasts, then
        ``delays[-1] * multiplier ** (attempts - len(delays))``; capped at ``max_delay``, then
        scaled by ``1 + jitter * (2 * rand - 1)`` for ``rand`` in [0, 1).
        """
        n = max(attempts, 1)
        base = self.delays[min(n, len(self.delays)) - 1]
        growth = n - len(self.delays)
        if base >= self.max_delay or (
            # Compare logarithms: the power itself may not fit in a float or a timedelta.
            growth > 0 and growth * math.log(self.multiplier) >= math.log(self.max_delay / base)
        ):
            base = self.max_delay
        elif growth > 0:
            base *= self.multiplier**growth
        return base * (1 + self.jitter * (2 * rand - 1))

    def next_attempt_at(
        self, attempts: int, first_try: datetime, now: datetime, rand: float = 0.5
    ) -> datetime | None:
        """``now + delay_for(attempts)``, but no later than ``first_try + give_up_after``, so the
        last attempt happens at the deadline; None (give up, reason ``old``) once it has passed.
        """
        deadline = first_try + self.give_up_after
        if now >= deadline:
            return None
        return min(now + self.delay_for(attempts, rand), deadline)

    @classmethod
    def parse(cls, text: str) -> RetrySchedule:
        """Read a setting such as ``"10m,10m,15m,30m,1h,2h,4h;max=4h;give_up=5d"``.

        Options after the delays: ``max``, ``give_up``, ``multiplier`` and ``jitter``; an omitted
        option keeps its default, an unknown one is an error.
        """
        head, *options = (part.strip() for part in text.split(";"))
        delays = tuple(parse_duration(d) for d in head.split(","))
        values: dict[str, str] = {}
        for option in options:
            key, sep, value = option.partition("=")
            key = key.strip()
            if not sep or key not in _OPTIONS or key in values:
                raise ValueError(f"Invalid retry schedule option {option!r} in {text!r}")
            values[key] = value.strip()
        default = cls()
        return cls(
            delays=delays,
            multiplier=_number(values, "multiplier", default.multiplier),
            max_delay=_duration(values, "max", default.max_delay),
            give_up_after=_duration(values, "give_up", default.give_up_after),
            jitter=_number(values, "jitter", default.jitter),
        )

    def __str__(self) -> str:
        text = ",".join(format_duration(d) for d in self.delays)
        text += f";max={format_duration(self.max_delay)}"
        text += f";give_up={format_duration(self.give_up_after)}"
        if self.multiplier != 1:
            text += f";multiplier={self.multiplier:g}"
        if self.jitter:
            text += f";jitter={self.jitter:g}"
        return text


_OPTIONS = ("max", "give_up", "multiplier", "jitter")


def _duration(values: dict[str, str], key: str, default: timedelta) -> timedelta:
    return parse_duration(values[key]) if key in values else default


def _number(values: dict[str, str], key: str, default: float) -> float:
    if key not in values:
        return default
    try:
        number = float(values[key])
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"Invalid retry schedule {key}={values[key]!r}: expected a number")
    return number
