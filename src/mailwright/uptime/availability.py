"""Availability arithmetic (pure): the share of a window that ok health checks vouch for.

Each running role checks itself every *interval* seconds and records the result. An ok check
at ``t`` vouches for ``[t, t + interval)``, cut short by the next check of the same node and
role. Everything else in the window counts as down: failed checks, and gaps where no check
was written at all (the process was not running, the loop was stuck, or the database could
not take the row)::

    availability = seconds vouched for by ok checks / seconds observed

The observed span starts at the window's start when the node and role had a check before it,
else at its first check (a node added an hour ago is not down for the 23 hours before), and
ends now. A node and role with no check in the window and none before it has no figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Check:
    at: float
    interval: float
    is_ok: bool


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """One node and role's checks inside a window, summed by the database."""

    vouched: float  # the sum of the intervals of the ok checks
    first_at: float  # the first check in the window


def ratio(up: float, span_start: float, end: float) -> float:
    """``up / (end - span_start)``, within [0, 1]; 1 for an empty span."""
    span = end - span_start
    if span <= 0:
        return 1.0
    return min(1.0, max(0.0, up / span))


def window_availability(
    counts: WindowCounts | None,
    *,
    before: Check | None,
    last: Check | None,
    start: float,
    end: float,
) -> float | None:
    """Availability over ``[start, end)`` from the database's sums.

    ``before`` is the last check before ``start`` (its ok interval reaching into the window
    counts), ``last`` the newest check (its ok interval reaching past ``end`` does not)."""
    if before is None and counts is None:
        return None
    up = 0.0 if counts is None else counts.vouched
    if before is not None and before.is_ok:
        carry_end = before.at + before.interval
        if counts is not None:
            carry_end = min(carry_end, counts.first_at)
        up += max(0.0, min(carry_end, end) - start)
    if counts is not None and last is not None and last.is_ok and last.at >= start:
        up -= max(0.0, last.at + last.interval - end)
    span_start = start if before is not None else (counts.first_at if counts else start)
    return ratio(up, span_start, end)


def segments(checks: Sequence[Check]) -> list[tuple[float, float]]:
    """The ``[from, until)`` spans the ok ``checks`` (oldest first) vouch for: each from its
    check until the next check or its interval later, whichever comes first."""
    found = []
    for i, check in enumerate(checks):
        if not check.is_ok:
            continue
        until = check.at + check.interval
        if i + 1 < len(checks):
            until = min(until, checks[i + 1].at)
        if until > check.at:
            found.append((check.at, until))
    return found


def vouched(checks: Sequence[Check], start: float, end: float) -> float:
    """Seconds of ``[start, end)`` the ok ``checks`` (oldest first) vouch for."""
    return sum(max(0.0, min(b, end) - max(a, start)) for a, b in segments(checks))


def hourly(checks: Sequence[Check], hours: Sequence[float], end: float) -> list[float | None]:
    """Availability of each hour starting at ``hours`` (ascending; one node and role's
    ``checks``, oldest first, including the last one before the first hour); None for an hour
    wholly before the first check."""
    if not checks:
        return [None for _ in hours]
    first = checks[0].at
    up = dict.fromkeys(hours, 0.0)
    for a, b in segments(checks):
        hour = int(a // 3600) * 3600.0
        while hour < b:
            if hour in up:
                up[hour] += max(0.0, min(b, hour + 3600) - max(a, hour))
            hour += 3600
    found: list[float | None] = []
    for hour in hours:
        span_start, span_end = max(hour, first), min(hour + 3600, end)
        found.append(None if span_start >= span_end else ratio(up[hour], span_start, span_end))
    return found
