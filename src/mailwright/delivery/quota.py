"""Sending quotas per domain, as pure arithmetic: which claimed deliveries go now, which wait.

A domain may send ``hourly`` deliveries per UTC hour and ``daily`` per UTC day (None: no
limit). Deliveries over the quota are held, never dropped: they stay queued, due when the
window that ran out ends (the next hour, or the next day when the daily quota is the one
used up), and are claimed again then.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

HOUR = 3600
DAY = 86400
Quota = tuple[int | None, int | None]  # (hourly, daily)


def windows(now: float) -> dict[str, int]:
    """The start of the UTC hour and day ``now`` falls in."""
    return {"hour": int(now // HOUR * HOUR), "day": int(now // DAY * DAY)}


@dataclass(frozen=True, slots=True)
class QuotaSplit:
    sent: Counter[str] = field(default_factory=Counter)  # domain -> deliveries going now
    held: dict[int, float] = field(default_factory=dict)  # delivery id -> new due_at


def split_by_quota(
    claimed: Sequence[tuple[int, str]],
    quotas: Mapping[str, Quota],
    usage: Mapping[tuple[str, str], int],
    now: float,
) -> QuotaSplit:
    """``claimed`` is (delivery id, sending domain) in claim order; ``usage`` maps
    (domain, "hour" | "day") to what the current windows already used.

    room = min(hourly - used this hour, daily - used today); the first ``room`` deliveries
    of a domain go, the rest are due at the end of the window that has no room left.
    """
    start = windows(now)
    split = QuotaSplit()
    for delivery_id, domain in claimed:
        hourly, daily = quotas.get(domain, (None, None))
        hour_room = _room(hourly, usage.get((domain, "hour"), 0), split.sent[domain])
        day_room = _room(daily, usage.get((domain, "day"), 0), split.sent[domain])
        if min(hour_room, day_room) > 0:
            split.sent[domain] += 1
        elif day_room <= 0:
            split.held[delivery_id] = float(start["day"] + DAY)
        else:
            split.held[delivery_id] = float(start["hour"] + HOUR)
    return split


def _room(limit: int | None, used: int, taken: int) -> float:
    return float("inf") if limit is None else limit - used - taken
