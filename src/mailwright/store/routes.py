"""Inbound routes: every SQL statement of ``/v3/routes`` and of the route processor.

Routes are read in evaluation order (priority, then age, then id) everywhere, so a page of
the API lists them as the processor runs them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import schema

R = schema.routes
_ORDER = (R.c.priority, R.c.created_at, R.c.id)


async def insert_route(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(R.insert(), [row])


async def get_route(conn: AsyncConnection, route_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(R).where(R.c.id == route_id))).first()
    return None if row is None else dict(row._mapping)


async def count_routes(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(R))).scalar_one())


async def select_routes(
    conn: AsyncConnection, *, skip: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    """Routes in evaluation order; all of them when ``limit`` is None."""
    query = select(R).order_by(*_ORDER).offset(skip)
    if limit is not None:
        query = query.limit(limit)
    return [dict(r._mapping) for r in await conn.execute(query)]


async def update_route(conn: AsyncConnection, route_id: str, values: dict[str, Any]) -> None:
    await conn.execute(update(R).where(R.c.id == route_id).values(**values))


async def delete_route(conn: AsyncConnection, route_id: str) -> bool:
    return bool((await conn.execute(delete(R).where(R.c.id == route_id))).rowcount)
