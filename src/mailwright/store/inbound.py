"""SQL for received mail: store before the 250, claim with a lease, settle the outcome.

The claim follows ``queries.claim_due``: a row is due when queued, its time has come and no
live lease holds it; on PostgreSQL candidates are locked with SKIP LOCKED, so any number of
processors share the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import schema

_i = schema.inbound_messages


async def claim_received(
    conn: AsyncConnection, *, worker: str, now: float, lease: float, limit: int, skip_locked: bool
) -> list[dict[str, Any]]:
    candidates = (
        select(_i.c.id)
        .where(
            _i.c.status == "queued",
            _i.c.due_at <= now,
            or_(_i.c.claimed_until.is_(None), _i.c.claimed_until < now),
        )
        .order_by(_i.c.due_at, _i.c.id)
        .limit(limit)
    )
    if skip_locked:
        candidates = candidates.with_for_update(skip_locked=True)
    rows = await conn.execute(
        update(_i)
        .where(_i.c.id.in_(candidates.scalar_subquery()))
        .values(claimed_by=worker, claimed_until=now + lease, attempts=_i.c.attempts + 1)
        .returning(*_i.c)
    )
    return sorted((dict(r._mapping) for r in rows), key=lambda r: (r["due_at"], r["id"]))


async def settle_received(
    conn: AsyncConnection, updates: Sequence[dict[str, Any]], *, worker: str, now: float
) -> None:
    """Apply ``{b_id, b_status, b_due, b_outcome}`` to rows this worker still holds."""
    if not updates:
        return
    await conn.execute(
        update(_i)
        .where(_i.c.id == bindparam("b_id"), _i.c.claimed_by == worker, _i.c.status == "queued")
        .values(
            status=bindparam("b_status"),
            due_at=bindparam("b_due"),
            outcome=bindparam("b_outcome"),
            claimed_by=None,
            claimed_until=None,
            updated_at=now,
        ),
        list(updates),
    )


async def release_received(conn: AsyncConnection, *, worker: str) -> None:
    await conn.execute(
        update(_i)
        .where(_i.c.claimed_by == worker, _i.c.status == "queued")
        .values(claimed_by=None, claimed_until=None)
    )


async def next_received_due(conn: AsyncConnection) -> float | None:
    value = (
        await conn.execute(select(func.min(_i.c.due_at)).where(_i.c.status == "queued"))
    ).scalar_one()
    return None if value is None else float(value)


async def purge_received(conn: AsyncConnection, before: float) -> int:
    """Drop processed rows received before ``before`` (retention)."""
    result = await conn.execute(
        _i.delete().where(_i.c.status != "queued", _i.c.received_at < before)
    )
    return int(result.rowcount or 0)


async def delivery_origin(conn: AsyncConnection, delivery_id: int) -> dict[str, Any] | None:
    """``{message_key, domain, recipient}`` of a delivery (a bounce's VERP tag names it)."""
    d = schema.deliveries
    row = (
        await conn.execute(
            select(d.c.message_key, d.c.domain, d.c.recipient).where(d.c.id == delivery_id)
        )
    ).first()
    return None if row is None else dict(row._mapping)


async def message_recipients(conn: AsyncConnection, message_key: str) -> list[str]:
    d = schema.deliveries
    rows = await conn.execute(select(d.c.recipient).where(d.c.message_key == message_key))
    return [str(r[0]) for r in rows]


async def messages_by_message_id(conn: AsyncConnection, message_id: str) -> list[dict[str, Any]]:
    """``{id, domain}`` of the stored messages with this Message-Id (no angle brackets)."""
    m = schema.messages
    rows = await conn.execute(
        select(m.c.id, m.c.domain).where(m.c.message_id == message_id).limit(5)
    )
    return [dict(r._mapping) for r in rows]
