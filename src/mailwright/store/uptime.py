"""SQL for uptime: health-check rows per node and role, and HTTP request counts per endpoint.

Reads stay bounded by time: every scan starts from ``checked_at`` or ``hour`` (each indexed),
and the one-row look-ups (the last check of a node and role, before a time) walk the primary
key (node, role, checked_at) backwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import schema
from mailwright.store.upsert import Upsert, plan_upserts

C = schema.uptime_checks
E = schema.endpoint_requests

ENDPOINT_REQUESTS = Upsert(
    E, ("node", "method", "route", "hour"), (("requests", "add"), ("errors", "add"))
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckRow:
    node: str
    role: str
    checked_at: float
    is_ok: bool
    latency_ms: float
    interval: float
    detail: str

    def to_row(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "role": self.role,
            "checked_at": self.checked_at,
            "is_ok": self.is_ok,
            "latency_ms": self.latency_ms,
            "interval": self.interval,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowRow:
    """One node and role's checks in a window."""

    checks: int
    failed: int
    vouched: float  # the sum of the ok checks' intervals
    first_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointRow:
    method: str
    route: str
    requests: int
    errors: int


def _check(row: Any) -> CheckRow:
    return CheckRow(
        node=str(row.node),
        role=str(row.role),
        checked_at=float(row.checked_at),
        is_ok=bool(row.is_ok),
        latency_ms=float(row.latency_ms),
        interval=float(row.interval),
        detail=str(row.detail),
    )


async def record(
    conn: AsyncConnection,
    checks: Sequence[CheckRow],
    endpoints: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Check rows inserted and endpoint counts (node, method, route, hour, requests, errors)
    added to the stored ones, in the caller's transaction."""
    if checks:
        # A write whose commit was lost with its connection may be tried again: rows already
        # stored are skipped (the same node, role and time).
        statement = (
            postgresql.insert(C) if conn.dialect.name == "postgresql" else sqlite.insert(C)
        ).on_conflict_do_nothing()
        await conn.execute(statement, [c.to_row() for c in checks])
    if endpoints:
        for sql, values in plan_upserts([(ENDPOINT_REQUESTS, endpoints)], conn.dialect):
            await conn.exec_driver_sql(sql, values)


async def prune(conn: AsyncConnection, before: float) -> None:
    await conn.execute(delete(C).where(C.c.checked_at < before))
    await conn.execute(delete(E).where(E.c.hour < int(before // 3600) * 3600))


async def window(conn: AsyncConnection, start: float) -> dict[tuple[str, str], WindowRow]:
    """Per (node, role): the checks from ``start`` on."""
    rows = await conn.execute(
        select(
            C.c.node,
            C.c.role,
            func.count(),
            func.sum(case((C.c.is_ok, 0), else_=1)),
            func.sum(case((C.c.is_ok, C.c.interval), else_=0.0)),
            func.min(C.c.checked_at),
        )
        .where(C.c.checked_at >= start)
        .group_by(C.c.node, C.c.role)
    )
    return {
        (str(r[0]), str(r[1])): WindowRow(
            checks=int(r[2]), failed=int(r[3] or 0), vouched=float(r[4] or 0), first_at=float(r[5])
        )
        for r in rows
    }


async def last_check(
    conn: AsyncConnection, node: str, role: str, *, before: float | None = None
) -> CheckRow | None:
    """The newest check of ``node`` and ``role`` (older than ``before`` when given)."""
    query = select(C).where(C.c.node == node, C.c.role == role)
    if before is not None:
        query = query.where(C.c.checked_at < before)
    row = (await conn.execute(query.order_by(C.c.checked_at.desc()).limit(1))).first()
    return None if row is None else _check(row)


async def checks_since(conn: AsyncConnection, start: float) -> list[CheckRow]:
    """Every check from ``start`` on, oldest first per node and role (for hourly charts)."""
    query = select(C).where(C.c.checked_at >= start).order_by(C.c.node, C.c.role, C.c.checked_at)
    return [_check(r) for r in await conn.execute(query)]


async def endpoints_since(conn: AsyncConnection, since: float) -> list[EndpointRow]:
    """Requests and 5xx answers per endpoint, every node together, in the hours from
    ``since``'s hour on."""
    hour = int(since // 3600) * 3600
    rows = await conn.execute(
        select(E.c.method, E.c.route, func.sum(E.c.requests), func.sum(E.c.errors))
        .where(E.c.hour >= hour)
        .group_by(E.c.method, E.c.route)
    )
    return [
        EndpointRow(method=str(r[0]), route=str(r[1]), requests=int(r[2]), errors=int(r[3]))
        for r in rows
    ]
