"""The warm-up schedule as a pure policy: parsing, and each day's allowance."""

from __future__ import annotations

import pytest

from mailwright.delivery.warmup import (
    DAY,
    DEFAULT_SCHEDULE,
    UNLIMITED,
    WarmupSchedule,
    allowance,
    is_warm,
    warmup_day,
)

START = 1_700_000_000.0
SCHEDULE = WarmupSchedule.parse("200x2,500,1000x3")


def test_parse_expands_repeated_steps() -> None:
    assert SCHEDULE.daily == (200, 200, 500, 1000, 1000, 1000)
    assert WarmupSchedule.parse(" 50 , 100 x 2 ").daily == (50, 100, 100)


@pytest.mark.parametrize("text", ["", "0", "200x0", "abc", "200x", "-5", "100,,200"])
def test_parse_refuses_bad_schedules(text: str) -> None:
    with pytest.raises(ValueError, match="COUNTxDAYS"):
        WarmupSchedule.parse(text)


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
    assert list(daily) == sorted(daily)
    assert 35 <= DEFAULT_SCHEDULE.days <= 49
