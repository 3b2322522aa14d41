"""DNS blocklist results (``blocklist_results``): the latest answer per (target, zone)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import schema
from mailwright.store.records import BlocklistRow

T = schema.blocklist_results


async def list_results(conn: AsyncConnection, *, status: str | None = None) -> list[BlocklistRow]:
    query = select(T).order_by(T.c.kind, T.c.target, T.c.zone)
    if status is not None:
        query = query.where(T.c.status == status)
    return [BlocklistRow.from_row(r) for r in await conn.execute(query)]


async def replace_results(conn: AsyncConnection, rows: Sequence[BlocklistRow]) -> None:
    """The whole table becomes ``rows``: targets and zones no longer checked drop out."""
    await conn.execute(delete(T))
    if rows:
        await conn.execute(
            insert(T),
            [
                {
                    "target": r.target,
                    "zone": r.zone,
                    "kind": r.kind,
                    "status": r.status,
                    "codes": r.codes,
                    "reason": r.reason,
                    "checked_at": r.checked_at,
                    "listed_since": r.listed_since,
                }
                for r in rows
            ],
        )


async def last_checked(conn: AsyncConnection) -> float | None:
    value = (await conn.execute(select(func.max(T.c.checked_at)))).scalar_one()
    return None if value is None else float(value)
