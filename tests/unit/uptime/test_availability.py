"""Availability arithmetic: ok checks vouch for their interval; failures and gaps are down."""

from __future__ import annotations

import pytest

from mailwright.uptime import Check, WindowCounts, hourly, window_availability
from mailwright.uptime.availability import ratio, vouched

H = 3600.0
T0 = 1_800_000_000.0 - 1_800_000_000.0 % H  # an hour start


def every(interval: float, start: float, end: float, *, failed: tuple[float, ...] = ()) -> list:
    checks = []
    at = start
    while at < end:
        checks.append(Check(at, interval, at not in failed))
        at += interval
    return checks


@pytest.mark.parametrize(
    ("checks", "start", "end", "expected"),
    [
        pytest.param(every(30, T0, T0 + H), T0, T0 + H, H, id="every-check-ok"),
        pytest.param(every(30, T0, T0 + H, failed=(T0 + 60,)), T0, T0 + H, H - 30, id="one-fail"),
        # Checks stop after 20 minutes: the 40 minutes without one are down.
        pytest.param(every(30, T0, T0 + 1200), T0, T0 + H, 1200, id="gap-is-down"),
        # A check vouches only until the next one, even when that one comes early.
        pytest.param([Check(T0, 30, True), Check(T0 + 10, 30, False)], T0, T0 + H, 10, id="cut"),
        # Only the part inside the window counts.
        pytest.param([Check(T0 - 20, 30, True)], T0, T0 + H, 10, id="clipped"),
    ],
)
def test_vouched(checks: list, start: float, end: float, expected: float) -> None:
    assert vouched(checks, start, end) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("up", "span_start", "end", "expected"),
    [(50, 0, 100, 0.5), (150, 0, 100, 1.0), (-5, 0, 100, 0.0), (0, 100, 100, 1.0)],
)
def test_ratio_stays_within_zero_and_one(
    up: float, span_start: float, end: float, expected: float
) -> None:
    assert ratio(up, span_start, end) == expected


DAY = 86400.0
NOW = T0 + DAY
START = NOW - DAY


@pytest.mark.parametrize(
    ("counts", "before", "last", "expected"),
    [
        # 2880 ok checks of 30 s, the first at the window's start: up the whole day.
        pytest.param(
            WindowCounts(2880 * 30, START),
            Check(START - 30, 30, True),
            Check(NOW - 30, 30, True),
            1.0,
            id="all-day",
        ),
        # The process was down for the first 6 hours: the node existed before the window
        # (a check before it), so those hours count as down.
        pytest.param(
            WindowCounts(2160 * 30, START + 6 * H),
            Check(START - 3600, 30, True),
            Check(NOW - 30, 30, True),
            0.75,
            id="gap-at-start-is-down",
        ),
        # A node that started 6 hours ago is judged from its first check.
        pytest.param(
            WindowCounts(720 * 30, NOW - 6 * H),
            None,
            Check(NOW - 30, 30, True),
            1.0,
            id="new-node",
        ),
        # The newest check's interval reaching past now does not count.
        pytest.param(
            WindowCounts(2 * 30, NOW - 45),
            None,
            Check(NOW - 15, 30, True),
            1.0,
            id="overhang",
        ),
        # The process stopped 12 hours ago: down since, nothing written.
        pytest.param(
            WindowCounts(1440 * 30, START),
            Check(START - 30, 30, True),
            Check(NOW - 12 * H - 30, 30, True),
            0.5,
            id="stopped-half-way",
        ),
        # No check in the window but one before it: the whole window is down.
        pytest.param(
            None,
            Check(START - 100, 30, True),
            Check(START - 100, 30, True),
            0.0,
            id="silent-all-day",
        ),
        # The check just before the window vouches for the seconds before the first in it.
        pytest.param(
            WindowCounts(2879 * 30, START + 30),
            Check(START, 30, True),
            Check(NOW - 30, 30, True),
            1.0,
            id="carried-in",
        ),
        pytest.param(None, None, None, None, id="never-checked"),
    ],
)
def test_window_availability(
    counts: WindowCounts | None, before: Check | None, last: Check | None, expected: float | None
) -> None:
    found = window_availability(counts, before=before, last=last, start=START, end=NOW)
    assert found == (None if expected is None else pytest.approx(expected))


def test_hourly_counts_gaps_and_failures_per_hour() -> None:
    hours = [T0, T0 + H, T0 + 2 * H, T0 + 3 * H]
    checks = [
        *every(30, T0 + H, T0 + 2 * H),  # the second hour: all ok
        *every(30, T0 + 2 * H, T0 + 2.5 * H, failed=(T0 + 2 * H,)),  # the third: half, one failed
    ]
    found = hourly(checks, hours, end=T0 + 4 * H)
    assert found[0] is None  # before the first check
    assert found[1] == pytest.approx(1.0)
    assert found[2] == pytest.approx((1800 - 30) / 3600)
    assert found[3] == 0.0  # nothing written at all


def test_hourly_judges_the_current_hour_up_to_now() -> None:
    checks = every(30, T0, T0 + 600)
    assert hourly(checks, [T0], end=T0 + 600) == [pytest.approx(1.0)]
    assert hourly([], [T0], end=T0 + 600) == [None]
