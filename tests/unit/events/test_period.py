"""The Stats API's period: events, start/end/duration, resolution and the buckets they make."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailwright.errors import InvalidInput
from mailwright.events.period import (
    floor,
    next_bucket,
    parse_events,
    parse_stats_query,
    rfc2822,
    subtract_clock_duration,
    subtract_duration,
)

NOW = datetime(2024, 3, 31, 15, 42, 7, tzinfo=UTC).timestamp()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def query(**params: str):
    return parse_stats_query(params, ["accepted"], NOW)


def test_defaults_are_seven_days_by_day() -> None:
    q = query()
    assert q.resolution == "day"
    assert (q.start, q.end) == (utc(2024, 3, 24), utc(2024, 3, 31))
    assert len(q.buckets()) == 8


@pytest.mark.parametrize(
    ("params", "start", "end", "buckets"),
    [
        ({"duration": "24h", "resolution": "hour"}, utc(2024, 3, 30, 15), utc(2024, 3, 31, 15), 25),
        ({"duration": "7d"}, utc(2024, 3, 24), utc(2024, 3, 31), 8),
        ({"duration": "1m", "resolution": "month"}, utc(2024, 2, 1), utc(2024, 3, 1), 2),
        # One month before 31 March is 29 February (2024 is a leap year).
        ({"duration": "1m"}, utc(2024, 2, 29), utc(2024, 3, 31), 32),
        # duration wins over start, counting back from end.
        (
            {"duration": "2d", "start": "0", "end": "Fri, 01 Mar 2024 12:00:00 +0000"},
            utc(2024, 2, 28),
            utc(2024, 3, 1),
            3,
        ),
        (
            {"start": "1706745600", "end": "1709251200", "resolution": "month"},
            utc(2024, 2, 1),
            utc(2024, 3, 1),
            2,
        ),
        # A zone other than UTC is converted; a date without one is UTC.
        (
            {"start": "Mon, 25 Mar 2024 01:30:00 +0200", "end": "Mon, 25 Mar 2024 05:00:00"},
            utc(2024, 3, 24),
            utc(2024, 3, 25),
            2,
        ),
        ({"resolution": "HOUR", "duration": "0h"}, utc(2024, 3, 31, 15), utc(2024, 3, 31, 15), 1),
    ],
)
def test_periods(params: dict, start: datetime, end: datetime, buckets: int) -> None:
    q = query(**params)
    assert (q.start, q.end) == (start, end)
    assert len(q.buckets()) == buckets
    assert q.buckets()[0] == start
    assert q.buckets()[-1] == end


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"resolution": "week"}, "resolution"),
        ({"duration": "7"}, "duration"),
        ({"duration": "-1d"}, "duration"),
        ({"duration": "1y"}, "duration"),
        ({"duration": "999999m"}, "duration"),
        ({"start": "soon"}, "start"),
        ({"end": "nan"}, "end"),
        ({"start": "1711900000", "end": "1711800000"}, "start"),
        ({"start": "0", "resolution": "hour"}, "resolution"),
    ],
)
def test_bad_periods(params: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        query(**params)
    assert caught.value.field == field
    assert field in caught.value.message


@pytest.mark.parametrize(
    ("values", "events"),
    [
        (["accepted"], ("accepted",)),
        (["accepted", "Delivered", "accepted"], ("accepted", "delivered")),
        (["failed,opened", " clicked "], ("failed", "opened", "clicked")),
    ],
)
def test_events(values: list[str], events: tuple[str, ...]) -> None:
    assert parse_events(values) == events


@pytest.mark.parametrize("values", [[], [""], [" , "]])
def test_event_is_required(values: list[str]) -> None:
    with pytest.raises(InvalidInput, match="Missing mandatory parameter: event"):
        parse_events(values)


def test_unknown_event() -> None:
    with pytest.raises(InvalidInput, match="'rejected'"):
        parse_events(["rejected"])


def test_buckets_and_format() -> None:
    moment = utc(2024, 12, 31, 23, 59, 59)
    assert floor(moment, "hour") == utc(2024, 12, 31, 23)
    assert floor(moment, "day") == utc(2024, 12, 31)
    assert floor(moment, "month") == utc(2024, 12, 1)
    assert next_bucket(utc(2024, 12, 1), "month") == utc(2025, 1, 1)
    assert next_bucket(utc(2024, 12, 31, 23), "hour") == utc(2025, 1, 1)
    assert rfc2822(utc(2012, 2, 14)) == "Tue, 14 Feb 2012 00:00:00 UTC"
    assert subtract_duration(utc(2024, 5, 31), "3m") == utc(2024, 2, 29)
    assert subtract_duration(utc(2024, 1, 15), "13m") == utc(2022, 12, 15)


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("24h0m0s", 86400),
        ("48h", 2 * 86400),
        ("90m", 90 * 60),  # minutes, not months
        ("30s", 30),
        ("7d", 7 * 86400),
        ("1h30m", 5400),
        ("1.5h", 5400),
    ],
)
def test_clock_durations(text: str, back: int) -> None:
    end = utc(2024, 3, 31, 12)
    assert (end - subtract_clock_duration(end, text)).total_seconds() == back


@pytest.mark.parametrize("text", ["", "7", "1w", "h", "1h 2m", "99999999999d", "999999999d"])
def test_bad_clock_durations(text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        subtract_clock_duration(utc(2024, 3, 31), text)
    assert raised.value.field == "duration"
