"""Per-recipient due times: o:time-zone-localize and o:deliverytime-optimize-period."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from mailwright.messages.schedule import (
    due_at,
    favourite_hour,
    localized,
    optimized,
    parse_local_time,
    zone_of,
)

# Monday 2026-03-02 12:30 UTC
BASE = datetime(2026, 3, 2, 12, 30, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("09:00", (9, 0)),
        ("9:00", (9, 0)),
        ("9:00AM", (9, 0)),
        ("9:00 pm", (21, 0)),
        ("12:15AM", (0, 15)),
        ("12:15PM", (12, 15)),
        ("23:59", (23, 59)),
        ("24:00", None),
        ("13:00PM", None),
        ("0:00AM", None),
        ("9:60", None),
        ("9", None),
        ("nine", None),
    ],
)
def test_parse_local_time(text: str, parsed: tuple[int, int] | None) -> None:
    assert parse_local_time(text) == parsed


@pytest.mark.parametrize(
    ("recipient", "zone"),
    [
        ("a@example.de", "Europe/Berlin"),
        ("a@mail.example.co.uk", "Europe/London"),
        ("a@example.JP", "Asia/Tokyo"),
        ("a@example.com", None),
        ("a@example.org", None),
    ],
)
def test_zone_from_cctld(recipient: str, zone: str | None) -> None:
    found = zone_of(recipient)
    assert (found.key if found else None) == zone


@pytest.mark.parametrize(
    ("recipient", "local", "expected"),
    [
        # Berlin is UTC+1 in March: 13:30 there now; 09:00 is tomorrow, 14:00 is today.
        ("a@example.de", (9, 0), datetime(2026, 3, 3, 8, 0, tzinfo=UTC)),
        ("a@example.de", (14, 0), datetime(2026, 3, 2, 13, 0, tzinfo=UTC)),
        # Tokyo is UTC+9: 21:30 there now; 22:00 is in half an hour.
        ("a@example.jp", (22, 0), datetime(2026, 3, 2, 13, 0, tzinfo=UTC)),
        # No country: UTC.
        ("a@example.com", (12, 30), datetime(2026, 3, 2, 12, 30, tzinfo=UTC)),
        ("a@example.com", (12, 0), datetime(2026, 3, 3, 12, 0, tzinfo=UTC)),
    ],
)
def test_localized_is_the_next_local_occurrence(
    recipient: str, local: tuple[int, int], expected: datetime
) -> None:
    assert localized(BASE, local, recipient) == expected.timestamp()


def test_localized_across_a_dst_change() -> None:
    # New York moves to UTC-4 on 2026-03-08; 09:00 local on the 8th is 13:00 UTC.
    base = datetime(2026, 3, 7, 20, 0, tzinfo=UTC).timestamp()
    due = datetime.fromtimestamp(
        localized(base, (9, 0), "a@example.us"), ZoneInfo("America/New_York")
    )
    assert (due.day, due.hour, due.minute) == (8, 9, 0)


def test_favourite_hour_is_the_most_frequent_then_the_earliest() -> None:
    at = [datetime(2026, 1, d, h, 5, tzinfo=UTC).timestamp() for d, h in [(1, 7), (2, 7), (3, 19)]]
    assert favourite_hour(at) == 7
    tie = [datetime(2026, 1, 1, h, tzinfo=UTC).timestamp() for h in (20, 6)]
    assert favourite_hour(tie) == 6
    assert favourite_hour([]) is None


@pytest.mark.parametrize(
    ("hour", "expected"),
    [
        (18, datetime(2026, 3, 2, 18, 0, tzinfo=UTC)),  # later today
        (7, datetime(2026, 3, 3, 7, 0, tzinfo=UTC)),  # tomorrow morning
        (12, BASE),  # the current hour: now
    ],
)
def test_optimized_uses_the_favourite_open_hour(hour: int, expected: object) -> None:
    target = expected.timestamp() if isinstance(expected, datetime) else expected
    assert optimized(BASE, 24, "a@example.com", hour) == target


def test_optimized_without_history_spreads_deterministically_within_the_period() -> None:
    dues = [optimized(BASE, 24, f"user{i}@example.com", None) for i in range(2000)]
    assert all(BASE <= d < BASE + 24 * 3600 for d in dues)
    assert dues == [optimized(BASE, 24, f"user{i}@example.com", None) for i in range(2000)]
    hours = {int((d - BASE) // 3600) for d in dues}
    assert hours == set(range(24))  # spread over the whole period


def test_due_at_options() -> None:
    assert due_at("a@example.com", BASE, {}) == BASE
    localize = {"time-zone-localize": "14:00"}
    assert due_at("a@example.de", BASE, localize) == localized(BASE, (14, 0), "a@example.de")
    both = localize | {"deliverytime-optimize-period": "24h"}
    assert due_at("a@example.de", BASE, both) == due_at("a@example.de", BASE, localize)
    optimize = {"deliverytime-optimize-period": "48h"}
    assert due_at("a@example.com", BASE, optimize, 18) == optimized(BASE, 48, "a@example.com", 18)
