"""Stats totals from the hourly counters: Mailgun's ``/stats/total`` body for a domain, a tag or
the whole account."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mailwright.events.counters import EVENT_STATS, stats_entry
from mailwright.events.period import StatsQuery, floor, next_bucket, rfc2822
from mailwright.store import Store, queries

DAY = 86400


async def totals(
    store: Store, query: StatsQuery, *, domain: str | None, tag: str = "", test: bool = False
) -> list[dict[str, Any]]:
    """One stats entry per bucket of ``query``; ``domain`` None sums every domain. All
    traffic, or with ``test`` (a test-environment credential) test-mode traffic only."""
    step = 3600 if query.resolution == "hour" else DAY
    start = int(query.start.timestamp())
    end = int(next_bucket(query.end, query.resolution).timestamp())
    stats = [stat for event in query.events for stat in EVENT_STATS[event]]
    async with store.read() as conn:
        rows = await queries.sum_counters(
            conn, domain=domain, tag=tag, stats=stats, start=start, end=end, step=step, test=test
        )
    buckets: dict[datetime, dict[str, int]] = {}
    for bucket, stat, count in rows:
        moment = floor(datetime.fromtimestamp(bucket, UTC), query.resolution)
        counts = buckets.setdefault(moment, {})
        counts[stat] = counts.get(stat, 0) + count
    return [
        stats_entry(rfc2822(moment), query.events, buckets.get(moment, {}))
        for moment in query.buckets()
    ]


def stats_body(
    query: StatsQuery, entries: list[dict[str, Any]], description: str = ""
) -> dict[str, Any]:
    return {
        "description": description,
        "start": rfc2822(query.start),
        "end": rfc2822(query.end),
        "resolution": query.resolution,
        "stats": entries,
    }
