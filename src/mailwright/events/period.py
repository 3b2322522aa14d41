"""The Stats API's query: events, ``start``/``end``/``duration`` and ``resolution`` (pure).

Buckets are UTC hours, days or calendar months. ``end`` defaults to now and ``start`` to seven
days before ``end``; a ``duration`` (``24h``, ``7d``, ``1m`` for one month) counts back from
``end`` and overrides ``start``, as Mailgun documents. The answer covers every bucket from the
one holding ``start`` to the one holding ``end``, both included, zeros included.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mailwright.errors import InvalidInput
from mailwright.events.counters import STAT_EVENTS
from mailwright.events.timeparse import parse_time

RESOLUTIONS = ("hour", "day", "month")
MAX_BUCKETS = 10_000
DEFAULT_SPAN = timedelta(days=7)
_DURATION = re.compile(r"(\d{1,6})([hdm])")
_CLOCK_PART = re.compile(r"(\d{1,9}(?:\.\d{1,9})?)([dhms])")
_CLOCK_DURATION = re.compile(rf"(?:{_CLOCK_PART.pattern}){{1,4}}")
_CLOCK_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


@dataclass(frozen=True, slots=True)
class StatsQuery:
    events: tuple[str, ...]
    start: datetime  # start of the first bucket
    end: datetime  # start of the last bucket
    resolution: str

    def buckets(self) -> list[datetime]:
        found, moment = [], self.start
        while moment <= self.end:
            found.append(moment)
            moment = next_bucket(moment, self.resolution)
        return found


def floor(moment: datetime, resolution: str) -> datetime:
    if resolution == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    if resolution == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_bucket(moment: datetime, resolution: str) -> datetime:
    if resolution == "hour":
        return moment + timedelta(hours=1)
    if resolution == "day":
        return moment + timedelta(days=1)
    return _add_months(moment, 1)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    if year < 1:
        raise InvalidInput("'duration' reaches before year 1", field="duration")
    day = min(moment.day, _days_in_month(year, month + 1))
    return moment.replace(year=year, month=month + 1, day=day)


def _days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def rfc2822(moment: datetime) -> str:
    """Mailgun's stats time format: ``Tue, 14 Feb 2012 00:00:00 UTC``."""
    return moment.strftime("%a, %d %b %Y %H:%M:%S UTC")


def subtract_duration(end: datetime, text: str) -> datetime:
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise InvalidInput(
            "'duration' must be a number followed by h, d or m (hours, days, months), e.g. 7d",
            field="duration",
        )
    amount, unit = int(match.group(1)), match.group(2)
    try:
        if unit == "m":
            return _add_months(end, -amount)
        return end - (timedelta(hours=amount) if unit == "h" else timedelta(days=amount))
    except OverflowError:
        raise InvalidInput("'duration' is too long", field="duration") from None


def subtract_clock_duration(end: datetime, text: str) -> datetime:
    """Go's ``time.ParseDuration`` units, as Mailgun's bounce classification reads
    ``duration`` (``24h0m0s``, ``48h``, ``90m``), plus ``d`` for days (``30d``); unlike
    ``subtract_duration``, ``m`` is minutes."""
    if _CLOCK_DURATION.fullmatch(text.strip()) is None:
        raise InvalidInput(
            "'duration' must be numbers followed by d, h, m or s, e.g. 24h0m0s, 90m or 7d",
            field="duration",
        )
    seconds = sum(
        float(amount) * _CLOCK_UNITS[unit] for amount, unit in _CLOCK_PART.findall(text.strip())
    )
    try:
        return end - timedelta(seconds=seconds)
    except OverflowError:
        raise InvalidInput("'duration' is too long", field="duration") from None


def parse_events(values: Sequence[str]) -> tuple[str, ...]:
    """The repeated ``event`` parameter (comma-separated lists are taken too), each once."""
    events = [e.strip().lower() for value in values for e in value.split(",") if e.strip()]
    if not events:
        raise InvalidInput(
            "please provide at least one event: Missing mandatory parameter: event", field="event"
        )
    for event in events:
        if event not in STAT_EVENTS:
            raise InvalidInput(
                f"'event' parameter is invalid: '{event}', valid values: {', '.join(STAT_EVENTS)}",
                field="event",
            )
    return tuple(dict.fromkeys(events))


def _moment(params: Mapping[str, str], name: str, default: datetime) -> datetime:
    raw = params.get(name)
    if raw is None or raw.strip() == "":
        return default
    seconds = parse_time(raw, field=name)
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        moment = None
    if moment is None or not 1970 <= moment.year <= 9998:
        raise InvalidInput(f"Invalid value for '{name}': out of range", field=name)
    return moment


def parse_stats_query(params: Mapping[str, str], events: Sequence[str], now: float) -> StatsQuery:
    """``params`` are the single-valued query parameters; ``events`` every ``event`` value."""
    resolution = _resolution(params)
    return _period(params, parse_events(events), resolution, now)


def parse_period(
    params: Mapping[str, str],
    now: float,
    *,
    resolutions: Sequence[str] = RESOLUTIONS,
    back: Callable[[datetime, str], datetime] = subtract_duration,
) -> StatsQuery:
    """``start``, ``end``, ``duration`` and ``resolution`` alone, as for the stats totals; the
    query's ``events`` is empty (the Metrics API names metrics instead). ``resolutions`` are
    the ones allowed, ``back`` reads ``duration``."""
    return _period(params, (), _resolution(params, resolutions), now, back)


def _resolution(params: Mapping[str, str], allowed: Sequence[str] = RESOLUTIONS) -> str:
    resolution = (params.get("resolution") or "day").strip().lower()
    if resolution not in allowed:
        valid = ", ".join(f"'{r}'" for r in reversed(allowed))
        raise InvalidInput(
            f"'resolution' parameter is invalid, valid values: {valid}", field="resolution"
        )
    return resolution


def _period(
    params: Mapping[str, str],
    events: tuple[str, ...],
    resolution: str,
    now: float,
    back: Callable[[datetime, str], datetime] = subtract_duration,
) -> StatsQuery:
    end = _moment(params, "end", datetime.fromtimestamp(now, UTC))
    duration = params.get("duration")
    start = back(end, duration) if duration else _moment(params, "start", end - DEFAULT_SPAN)
    if start > end:
        raise InvalidInput("'start' must not be after 'end'", field="start")
    query = StatsQuery(events, floor(start, resolution), floor(end, resolution), resolution)
    if _bucket_count(query) > MAX_BUCKETS:
        raise InvalidInput(
            f"the period spans more than {MAX_BUCKETS} buckets of one {resolution}: "
            "shorten 'start'/'duration' or choose a coarser 'resolution'",
            field="resolution",
        )
    return query


def _bucket_count(query: StatsQuery) -> int:
    span = query.end - query.start
    if query.resolution == "hour":
        return int(span.total_seconds() // 3600) + 1
    if query.resolution == "day":
        return span.days + 1
    return (query.end.year - query.start.year) * 12 + query.end.month - query.start.month + 1
