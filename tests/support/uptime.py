"""A known uptime history written straight to the tables, for pages, metrics and status."""

from __future__ import annotations

from mailwright.store import Store, uptime
from mailwright.store.uptime import CheckRow

NODE = "node-known"
# The last hour of checks every 30 s, with 10 minutes written by nobody (a gap) and two failed
# checks: (3600 - 600 - 2 * 30) / 3600 of the hour is vouched for.
AVAILABILITY = (3600 - 600 - 60) / 3600
FAILED_DETAIL = "queue: cannot be read"
MESSAGES = "/v3/{domain}/messages"


async def write_history(store: Store, now: float, *, is_newest_ok: bool = True) -> None:
    checks = []
    for k in range(120):
        if 40 <= k < 60:
            continue  # the gap
        is_ok = k not in (100, 118) and (is_newest_ok or k != 119)
        checks.append(
            CheckRow(
                node=NODE,
                role="api",
                checked_at=now - 3600 + 30 * k,
                is_ok=is_ok,
                latency_ms=2.5,
                interval=30.0,
                detail="" if is_ok else FAILED_DETAIL,
            )
        )
    hour = int(now // 3600) * 3600
    counts = [
        {
            "node": NODE,
            "method": "POST",
            "route": MESSAGES,
            "hour": hour,
            "requests": 150,
            "errors": 2,
        },
        {
            "node": NODE,
            "method": "POST",
            "route": MESSAGES,
            "hour": hour - 3600,
            "requests": 50,
            "errors": 1,
        },
        {
            "node": NODE,
            "method": "GET",
            "route": "/v3/domains",
            "hour": hour,
            "requests": 40,
            "errors": 0,
        },
    ]

    async def write(conn: object) -> None:
        await uptime.record(conn, checks, counts)  # type: ignore[arg-type]

    await store.write(write)
