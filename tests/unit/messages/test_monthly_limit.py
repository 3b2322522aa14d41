"""The custom monthly limit's pure parts: calendar months in UTC, the refusal rule, the
``limit`` parameter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailwright.errors import InvalidInput
from mailwright.messages.monthly_limit import (
    LimitSetting,
    is_disabled,
    month_start,
    next_month,
    parse_limit,
    refusal,
)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        (at(2025, 1, 31, 23, 59, 59), at(2025, 1, 1), at(2025, 2, 1)),
        (at(2025, 2, 1), at(2025, 2, 1), at(2025, 3, 1)),
        (at(2024, 2, 29, 12), at(2024, 2, 1), at(2024, 3, 1)),  # leap year
        (at(2025, 12, 31, 23), at(2025, 12, 1), at(2026, 1, 1)),
    ],
)
def test_calendar_months_in_utc(now: float, start: float, end: float) -> None:
    assert (month_start(now), next_month(now)) == (start, end)


def test_a_send_fits_up_to_the_limit_exactly() -> None:
    now = at(2025, 3, 10)
    setting = LimitSetting(10)
    assert refusal(setting, used=7, count=3, now=now) is None
    assert refusal(setting, used=7, count=4, now=now) == (
        "4 recipients would exceed the account's custom monthly message limit of 10 "
        "(7 sent this month, 3 left)"
    )
    assert refusal(setting, used=10, count=1, now=now) == (
        "the account's custom monthly message limit of 10 is reached (10 sent this month); "
        "sending is disabled until PUT /v5/accounts/limit/custom/enable or "
        "Tue, 01 Apr 2025 00:00:00 GMT"
    )
    assert not is_disabled(setting, 9, month_start(now))
    assert is_disabled(setting, 10, month_start(now))


def test_re_enabled_for_this_month_only() -> None:
    march, april = at(2025, 3, 10), at(2025, 4, 2)
    setting = LimitSetting(10, enabled_month=int(month_start(march)))
    assert refusal(setting, used=50, count=5, now=march) is None
    assert not is_disabled(setting, 50, month_start(march))
    assert refusal(setting, used=10, count=1, now=april) is not None
    assert LimitSetting.from_text(setting.to_text()) == setting


@pytest.mark.parametrize("raw", ["1", "25", " 300 ", str(10**12)])
def test_limits_accepted(raw: str) -> None:
    assert parse_limit(raw) == int(raw)


@pytest.mark.parametrize("raw", [None, "", "0", "-3", "2.5", "1e6", "x", "٣", str(10**12 + 1)])
def test_limits_refused(raw: str | None) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_limit(raw)
    assert refused.value.field == "limit"
