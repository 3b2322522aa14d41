"""SQL for queue health: what waits in each queue, per destination, and for how long.

Each figure is one aggregate over the queued rows only (``status = 'queued'``, the leading
column of every ``*_due`` index), so the cost follows the backlog, not the table's history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import schema

_d = schema.deliveries


@dataclass(frozen=True, slots=True, kw_only=True)
class DestinationRow:
    """Queued deliveries to one recipient domain."""

    destination: str
    queued: int
    due: int  # due now (the rest wait for a retry time or a scheduled send)
    deferred: int  # tried at least once
    oldest_created_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LastError:
    code: int | None
    message: str
    updated_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Backlog:
    """A queue's size and the time its oldest item became due (None when empty)."""

    queued: int
    deferred: int
    oldest_at: float | None


async def destinations(
    conn: AsyncConnection, *, now: float, limit: int
) -> tuple[list[DestinationRow], Backlog]:
    """The ``limit`` destinations with the most queued deliveries, largest first, and the
    totals over every destination (window sums over the groups: the same single pass)."""
    count = func.count()
    deferred = func.sum(case((_d.c.attempts > 0, 1), else_=0))
    oldest = func.min(_d.c.created_at)
    rows = (
        await conn.execute(
            select(
                _d.c.recipient_domain,
                count,
                func.sum(case((_d.c.due_at <= now, 1), else_=0)),
                deferred,
                oldest,
                func.sum(count).over(),
                func.sum(deferred).over(),
                func.min(oldest).over(),
            )
            .where(_d.c.status == "queued")
            .group_by(_d.c.recipient_domain)
            .order_by(count.desc(), _d.c.recipient_domain)
            .limit(limit)
        )
    ).all()
    found = [
        DestinationRow(
            destination=str(r[0]),
            queued=int(r[1]),
            due=int(r[2] or 0),
            deferred=int(r[3] or 0),
            oldest_created_at=float(r[4]),
        )
        for r in rows
    ]
    if not rows:
        return found, Backlog(queued=0, deferred=0, oldest_at=None)
    first = rows[0]
    return found, Backlog(queued=int(first[5]), deferred=int(first[6]), oldest_at=float(first[7]))


async def last_errors(conn: AsyncConnection, destinations: Sequence[str]) -> dict[str, LastError]:
    """The reply of the most recently updated deferred delivery of each destination.

    One pass over those destinations' deferred rows, no sort of them: PostgreSQL's
    ``DISTINCT ON``, and on SQLite the bare columns of a ``max()`` query, which come from the
    row holding the maximum (https://sqlite.org/lang_select.html#bare_columns)."""
    if not destinations:
        return {}
    where = (
        _d.c.status == "queued",
        _d.c.attempts > 0,
        _d.c.recipient_domain.in_(list(destinations)),
    )
    columns = (_d.c.recipient_domain, _d.c.last_code, _d.c.last_message)
    if conn.dialect.name == "postgresql":
        query = (
            select(*columns, _d.c.updated_at)
            .where(*where)
            .ext(distinct_on(_d.c.recipient_domain))
            .order_by(_d.c.recipient_domain, _d.c.updated_at.desc(), _d.c.id.desc())
        )
    else:
        query = select(*columns, func.max(_d.c.updated_at)).where(*where).group_by(columns[0])
    return {
        str(r[0]): LastError(
            code=None if r[1] is None else int(r[1]),
            message=str(r[2] or ""),
            updated_at=float(r[3]),
        )
        for r in await conn.execute(query)
    }


async def webhook_backlog(conn: AsyncConnection) -> Backlog:
    o = schema.webhook_outbox
    row = (
        await conn.execute(
            select(
                func.count(),
                func.sum(case((o.c.attempts > 0, 1), else_=0)),
                func.min(o.c.due_at),
            ).where(o.c.status == "queued")
        )
    ).one()
    return Backlog(queued=int(row[0]), deferred=int(row[1] or 0), oldest_at=_float(row[2]))


async def inbound_backlog(conn: AsyncConnection) -> Backlog:
    i = schema.inbound_messages
    row = (
        await conn.execute(
            select(
                func.count(),
                func.sum(case((i.c.attempts > 0, 1), else_=0)),
                func.min(i.c.received_at),
            ).where(i.c.status == "queued")
        )
    ).one()
    return Backlog(queued=int(row[0]), deferred=int(row[1] or 0), oldest_at=_float(row[2]))


async def settled_since(conn: AsyncConnection, since: float) -> dict[str, int]:
    """Delivered and permanently failed deliveries counted in the hours from ``since`` on
    (``stat_counters``, every domain, all messages)."""
    c = schema.stat_counters
    stats = {
        "delivered.smtp": "delivered",
        "delivered.http": "delivered",
        "delivered.optimized": "delivered",
        "failed.permanent.total": "failed",
    }
    hour = int(since // 3600) * 3600
    rows = await conn.execute(
        select(c.c.stat, func.sum(c.c.count))
        .where(c.c.tag == "", c.c.stat.in_(list(stats)), c.c.hour >= hour)
        .group_by(c.c.stat)
    )
    totals = {"delivered": 0, "failed": 0}
    for stat, count in rows:
        totals[stats[str(stat)]] += int(count or 0)
    return totals


async def can_read_queue(conn: AsyncConnection) -> None:
    """Raises unless the deliveries table answers a query (its index alone)."""
    await conn.execute(select(_d.c.id).where(_d.c.status == "queued").limit(1))


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
