"""The warm-up schedule as a pure policy: parsing, and each day's allowance."""

from __future__ import annotations

import pytest

from mailwright.delivery.warmup import (
    DAY,
    DEFAULT_SCHEDULE,
    HOUR,
    UNLIMITED,
    WarmupSchedule,
    allowance,
    hourly_limit,
    is_warm,
    warmup_day,
    warmup_hour,
)

START = 1_700_000_000.0
SCHEDULE = WarmupSchedule.parse("200x2,500,1000x3")


HOURLY = WarmupSchedule.parse("100,1000x2;hourly=25%")


def test_parse_expands_repeated_steps() -> None:
    assert SCHEDULE.daily == (200, 200, 500, 1000, 1000, 1000)
    assert SCHEDULE.hourly_share == 1.0  # no hourly limit unless asked for
    assert WarmupSchedule.parse(" 50 , 100 x 2 ").daily == (50, 100, 100)
    assert WarmupSchedule((100, 1000, 1000), 0.25) == HOURLY
    assert WarmupSchedule.parse("10; hourly = 12.5 %").hourly_share == 0.125


@pytest.mark.parametrize("text", ["", "0", "200x0", "abc", "200x", "-5", "100,,200"])
def test_parse_refuses_bad_schedules(text: str) -> None:
    with pytest.raises(ValueError, match="COUNTxDAYS"):
        WarmupSchedule.parse(text)


@pytest.mark.parametrize("text", ["100;hourly=0%", "100;hourly=150%", "100;hourly=5", "100;x"])
def test_parse_refuses_bad_hourly_shares(text: str) -> None:
    with pytest.raises(ValueError, match="hourly"):
        WarmupSchedule.parse(text)


@pytest.mark.parametrize(
    ("elapsed", "sent_today", "sent_this_hour", "expected"),
    [
        (0.0, 0, 0, 25),  # a quarter of day 0's 100 in any hour
        (HOUR - 1, 20, 20, 5),
        (HOUR - 1, 25, 25, 0),  # this hour's share used up
        (HOUR, 25, 0, 25),  # the next hour has its own share
        (3 * HOUR, 90, 0, 10),  # the day's limit is the tighter one
        (23 * HOUR, 100, 0, 0),
        (DAY, 0, 0, 250),  # day 1: a quarter of 1000
        (3 * DAY, 10**9, 10**9, UNLIMITED),  # warm
    ],
)
def test_allowance_with_an_hourly_share(
    elapsed: float, sent_today: int, sent_this_hour: int, expected: int
) -> None:
    assert allowance(HOURLY, START, START + elapsed, sent_today, sent_this_hour) == expected


@pytest.mark.parametrize(
    ("daily", "share", "expected"), [(100, 0.25, 25), (10, 0.25, 3), (1, 0.01, 1)]
)
def test_hourly_limit_rounds_up_to_at_least_one(daily: int, share: float, expected: int) -> None:
    assert hourly_limit(WarmupSchedule((daily,), share), START, START) == expected
    assert warmup_hour(START, START + 2 * HOUR + 5) == 2


@pytest.mark.parametrize(
    ("elapsed", "sent_today", "expected"),
    [
        (0.0, 0, 200),  # the first day
        (DAY - 1, 150, 50),
        (DAY - 1, 200, 0),  # used up
        (DAY - 1, 250, 0),  # over (another process raced): never negative
        (DAY, 0, 200),  # day 2 repeats the step
        (2 * DAY, 100, 400),
        (3 * DAY + 5, 0, 1000),
        (5 * DAY, 999, 1),  # the last scheduled day
        (6 * DAY, 10**9, UNLIMITED),  # warm: no limit
        (-DAY, 0, 200),  # a clock behind the start counts as day 0
    ],
)
def test_allowance_by_day(elapsed: float, sent_today: int, expected: int) -> None:
    assert allowance(SCHEDULE, START, START + elapsed, sent_today) == expected


def test_warm_after_the_last_day() -> None:
    assert warmup_day(START, START + 6 * DAY - 1) == 5
    assert not is_warm(SCHEDULE, START, START + 6 * DAY - 1)
    assert is_warm(SCHEDULE, START, START + 6 * DAY)


def test_default_schedule_starts_small_and_rises_over_about_six_weeks() -> None:
    daily = DEFAULT_SCHEDULE.daily
    assert daily[0] == 200
    assert DEFAULT_SCHEDULE.hourly_share == 0.25
    assert list(daily) == sorted(daily)
    assert 35 <= DEFAULT_SCHEDULE.days <= 49
