"""Uptime as read back: availability per node and role over windows, per hour, and the
success rate of each HTTP endpoint. Read by ``/metrics``, ``mailwright status`` and the
dashboard."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import Store, uptime
from mailwright.store.uptime import CheckRow
from mailwright.uptime.availability import Check, WindowCounts, hourly, window_availability

DAY = 86400.0
WINDOWS = (("24h", DAY), ("7d", 7 * DAY), ("30d", 30 * DAY))


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleUptime:
    node: str
    role: str
    availability: dict[str, float | None]  # window name ("24h") -> share of it up
    checks: int  # in the first window
    failed: int  # of those
    last: CheckRow | None  # the newest check


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointRate:
    method: str
    route: str
    requests: int
    errors: int  # 5xx answers

    @property
    def success(self) -> float:
        return 1.0 if not self.requests else 1 - self.errors / self.requests


def _check(row: CheckRow | None) -> Check | None:
    return None if row is None else Check(row.checked_at, row.interval, row.is_ok)


async def role_uptime(
    store: Store, now: float, windows: Sequence[tuple[str, float]] = WINDOWS[:1]
) -> list[RoleUptime]:
    """Every node and role with a check in the longest window, by node then role."""
    async with store.read() as conn:
        sums = {name: await uptime.window(conn, now - seconds) for name, seconds in windows}
        longest = max(windows, key=lambda w: w[1])[0]
        found = []
        for node, role in sorted(sums[longest]):
            found.append(await _role(conn, node, role, sums, windows, now))
    return found


async def _role(
    conn: AsyncConnection,
    node: str,
    role: str,
    sums: dict[str, dict[tuple[str, str], uptime.WindowRow]],
    windows: Sequence[tuple[str, float]],
    now: float,
) -> RoleUptime:
    last = await uptime.last_check(conn, node, role)
    shares: dict[str, float | None] = {}
    for name, seconds in windows:
        start = now - seconds
        row = sums[name].get((node, role))
        counts = None if row is None else WindowCounts(row.vouched, row.first_at)
        before = await uptime.last_check(conn, node, role, before=start)
        shares[name] = window_availability(
            counts, before=_check(before), last=_check(last), start=start, end=now
        )
    first = sums[windows[0][0]].get((node, role))
    return RoleUptime(
        node=node,
        role=role,
        availability=shares,
        checks=0 if first is None else first.checks,
        failed=0 if first is None else first.failed,
        last=last,
    )


async def hourly_uptime(
    store: Store, now: float, hours: int = 24
) -> tuple[list[float], dict[tuple[str, str], list[float | None]]]:
    """The start of each of the last ``hours`` hours (the current one last), and each node and
    role's availability in them (None before its first check)."""
    current = int(now // 3600) * 3600.0
    starts = [current - 3600.0 * i for i in range(hours - 1, -1, -1)]
    async with store.read() as conn:
        rows = await uptime.checks_since(conn, starts[0])
        by_pair: dict[tuple[str, str], list[Check]] = {}
        for row in rows:
            by_pair.setdefault((row.node, row.role), []).append(
                Check(row.checked_at, row.interval, row.is_ok)
            )
        for (node, role), checks in by_pair.items():
            before = _check(await uptime.last_check(conn, node, role, before=starts[0]))
            if before is not None:
                checks.insert(0, before)
    return starts, {pair: hourly(checks, starts, now) for pair, checks in sorted(by_pair.items())}


async def endpoint_rates(store: Store, now: float, seconds: float = DAY) -> list[EndpointRate]:
    """Each endpoint's requests and 5xx answers in the window, every node together (whole
    hours: the window's first hour is counted whole); the worst success rate first."""
    async with store.read() as conn:
        rows = await uptime.endpoints_since(conn, now - seconds)
    rates = [
        EndpointRate(method=r.method, route=r.route, requests=r.requests, errors=r.errors)
        for r in rows
    ]
    return sorted(rates, key=lambda r: (r.success, -r.requests, r.route, r.method))
