"""IP warm-up: how many messages a new egress address may send on each day of its warm-up
(pure).

Receivers judge a new address by its first weeks: a schedule raises its daily volume step by
step (Mailgun's and SendGrid's advice: start at a few hundred a day, roughly double every few
days, reach full volume after about six weeks). ``WarmupSchedule.daily[d]`` is the number of
messages allowed on warm-up day ``d`` (whole days since the warm-up started, from 0); from
``len(daily)`` on the address is warm and unlimited. ``hourly_share`` spreads a day's volume:
in any warm-up hour (whole hours since the start) the address sends at most
``ceil(daily[day] * hourly_share)``, so a day's allowance is not spent in one burst.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

HOUR = 3600.0
DAY = 86400.0
UNLIMITED = 2**62  # allowance of a warm address: more than any day can send

_STEP = re.compile(r"\s*(\d+)\s*(?:x\s*(\d+))?\s*")
_HOURLY = re.compile(r"\s*hourly\s*=\s*(\d+(?:\.\d+)?)\s*%\s*")


@dataclass(frozen=True, slots=True)
class WarmupSchedule:
    daily: tuple[int, ...]
    hourly_share: float = 1.0  # of the day's limit, in any one hour; 1.0: no hourly limit

    @classmethod
    def parse(cls, text: str) -> WarmupSchedule:
        """``"200x2,500x2,1000;hourly=25%"``: 200 a day for two days, 500 for two days, then
        1000 for one day, at most a quarter of the day's limit in any hour; ``COUNTxDAYS``
        repeats a step, a bare count is one day; without ``hourly`` there is no hourly limit."""
        steps, _, option = text.partition(";")
        share = 1.0
        if option:
            match = _HOURLY.fullmatch(option)
            if match is None or not 0 < float(match.group(1)) <= 100:
                raise ValueError("expected ';hourly=P%' with P between 0 and 100 after the steps")
            share = float(match.group(1)) / 100
        daily: list[int] = []
        for item in steps.split(","):
            match = _STEP.fullmatch(item)
            if match is None or int(match.group(1)) <= 0 or match.group(2) == "0":
                raise ValueError(
                    "expected daily counts such as 200x2,500x2,1000 (COUNT or COUNTxDAYS)"
                )
            daily.extend([int(match.group(1))] * int(match.group(2) or 1))
        return cls(tuple(daily), share)

    @property
    def days(self) -> int:
        return len(self.daily)


# About six weeks from 200 a day to unlimited, doubling every few days at first and more
# slowly once the volume is large (Mailgun's published warm-up guidance has the same shape).
DEFAULT_SCHEDULE = WarmupSchedule.parse(
    "200x2,500x2,1000x2,2000x2,4000x2,8000x3,15000x3,25000x4,40000x4,60000x4,90000x4,"
    "130000x4,200000x4;hourly=25%"
)


def warmup_day(started_at: float, now: float) -> int:
    """Whole days since the warm-up started, from 0 (a clock before the start counts as 0)."""
    return max(0, int((now - started_at) // DAY))


def warmup_hour(started_at: float, now: float) -> int:
    """Whole hours since the warm-up started, from 0."""
    return max(0, int((now - started_at) // HOUR))


def daily_limit(schedule: WarmupSchedule, started_at: float, now: float) -> int:
    """The day's limit: ``daily[day]``, or ``UNLIMITED`` once the schedule has run out."""
    day = warmup_day(started_at, now)
    return schedule.daily[day] if day < schedule.days else UNLIMITED


def hourly_limit(schedule: WarmupSchedule, started_at: float, now: float) -> int:
    """``ceil(daily[day] * hourly_share)``, at least 1; ``UNLIMITED`` once warm."""
    limit = daily_limit(schedule, started_at, now)
    if limit == UNLIMITED:
        return UNLIMITED
    return max(1, math.ceil(limit * schedule.hourly_share - 1e-9))


def allowance(
    schedule: WarmupSchedule,
    started_at: float,
    now: float,
    sent_today: int,
    sent_this_hour: int = 0,
) -> int:
    """Messages the address may still send now:
    ``max(0, min(daily[day] - sent_today, hourly_limit - sent_this_hour))``; ``UNLIMITED``
    once warm."""
    limit = daily_limit(schedule, started_at, now)
    if limit == UNLIMITED:
        return UNLIMITED
    hourly = hourly_limit(schedule, started_at, now)
    return max(0, min(limit - sent_today, hourly - sent_this_hour))


def is_warm(schedule: WarmupSchedule, started_at: float, now: float) -> bool:
    return warmup_day(started_at, now) >= schedule.days
