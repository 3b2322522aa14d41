"""Mailing lists and their members: every SQL statement of ``/v3/lists`` and of list sends.

Members are read in address order with a keyset cursor (``address > last``), never with
OFFSET, both for API paging and for ``stream_subscribed``, which a list send uses to expand
a list of any size in fixed-size chunks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import schema
from mailwright.store.engine import InsertRows

L = schema.mailing_lists
M = schema.list_members

_LIST_COLUMNS = (
    L.c.id,
    L.c.address,
    L.c.name,
    L.c.description,
    L.c.access_level,
    L.c.reply_preference,
    L.c.created_at,
)


def _with_count() -> Any:
    count = (
        select(func.count())
        .where(M.c.list_id == L.c.id)
        .correlate(L)
        .scalar_subquery()
        .label("members_count")
    )
    return select(*_LIST_COLUMNS, count)


async def get_list(conn: AsyncConnection, address: str) -> dict[str, Any] | None:
    row = (await conn.execute(_with_count().where(L.c.address == address))).first()
    return None if row is None else dict(row._mapping)


async def reply_preferences(conn: AsyncConnection) -> dict[str, str]:
    """Every list's address and reply preference."""
    rows = await conn.execute(select(L.c.address, L.c.reply_preference))
    return {r[0]: r[1] for r in rows}


async def find_lists(conn: AsyncConnection, addresses: Sequence[str]) -> list[dict[str, Any]]:
    if not addresses:
        return []
    rows = await conn.execute(select(*_LIST_COLUMNS).where(L.c.address.in_(addresses)))
    return [dict(r._mapping) for r in rows]


async def insert_list(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(L).values(**values))


async def update_list(conn: AsyncConnection, list_id: int, values: dict[str, Any]) -> None:
    await conn.execute(update(L).where(L.c.id == list_id).values(**values))


async def delete_list(conn: AsyncConnection, list_id: int) -> None:
    await conn.execute(delete(M).where(M.c.list_id == list_id))
    await conn.execute(delete(L).where(L.c.id == list_id))


async def page_lists(
    conn: AsyncConnection, *, limit: int, page: str, cursor: str | None
) -> list[dict[str, Any]]:
    """Lists in address order: ``first``/``last`` page, or ``next``/``prev`` from ``cursor``."""
    query = _paged(_with_count(), L.c.address, limit=limit, page=page, cursor=cursor)
    rows = [dict(r._mapping) for r in await conn.execute(query)]
    return rows[::-1] if page in ("prev", "last") else rows


def _paged(query: Any, column: Any, *, limit: int, page: str, cursor: str | None) -> Any:
    backwards = page in ("prev", "last")
    if cursor is not None and page == "next":
        query = query.where(column > cursor)
    elif cursor is not None and page == "prev":
        query = query.where(column < cursor)
    return query.order_by(column.desc() if backwards else column).limit(limit)


async def get_member(conn: AsyncConnection, list_id: int, address: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(select(M).where(M.c.list_id == list_id, M.c.address == address))
    ).first()
    return None if row is None else dict(row._mapping)


async def page_members(
    conn: AsyncConnection,
    list_id: int,
    *,
    subscribed: bool | None,
    limit: int,
    page: str,
    cursor: str | None,
) -> list[dict[str, Any]]:
    query = select(M).where(M.c.list_id == list_id)
    if subscribed is not None:
        query = query.where(M.c.subscribed == subscribed)
    query = _paged(query, M.c.address, limit=limit, page=page, cursor=cursor)
    rows = [dict(r._mapping) for r in await conn.execute(query)]
    return rows[::-1] if page in ("prev", "last") else rows


async def insert_members(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        # The driver's own executemany (as the accept path does).
        await InsertRows([(M, rows)])(conn)


async def merge_members(
    conn: AsyncConnection, rows: Sequence[dict[str, Any]], *, is_upsert: bool
) -> None:
    """Insert ``rows``; a member already there is updated (``is_upsert``) or left alone.

    ``INSERT ... ON CONFLICT`` (the same SQL on SQLite and PostgreSQL) costs the same however
    large the list is; looking existing members up first with ``address IN (...)`` did not on
    PostgreSQL (the parameters' type kept the address out of the index)."""
    if not rows:
        return
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(M)
    keys = [M.c.list_id, M.c.address]
    if is_upsert:
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=keys,
            set_={"name": excluded.name, "vars": excluded.vars, "subscribed": excluded.subscribed},
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    await conn.execute(statement, list(rows))


async def update_member(
    conn: AsyncConnection, list_id: int, address: str, values: dict[str, Any]
) -> None:
    await conn.execute(
        update(M).where(M.c.list_id == list_id, M.c.address == address).values(**values)
    )


async def delete_member(conn: AsyncConnection, list_id: int, address: str) -> int:
    result = await conn.execute(delete(M).where(M.c.list_id == list_id, M.c.address == address))
    return int(result.rowcount or 0)


async def unsubscribe_member(conn: AsyncConnection, list_address: str, address: str) -> bool:
    """Mark ``address`` unsubscribed from the list; False when either no longer exists."""
    list_id = (await conn.execute(select(L.c.id).where(L.c.address == list_address))).scalar()
    if list_id is None:
        return False
    result = await conn.execute(
        update(M).where(M.c.list_id == list_id, M.c.address == address).values(subscribed=False)
    )
    return bool(result.rowcount)


async def member_addresses(
    conn: AsyncConnection, list_id: int, *, after: str | None, limit: int
) -> list[str]:
    """Up to ``limit`` member addresses (subscribed or not) after ``after``, in address order:
    one keyset page."""
    query = select(M.c.address).where(M.c.list_id == list_id)
    if after is not None:
        query = query.where(M.c.address > after)
    rows = await conn.execute(query.order_by(M.c.address).limit(limit))
    return [r[0] for r in rows]


async def stream_subscribed(
    conn: AsyncConnection, list_id: int, *, chunk: int
) -> AsyncIterator[list[dict[str, Any]]]:
    """The list's subscribed members, ``chunk`` at a time, in address order (keyset paging:
    memory stays at one chunk whatever the list's size)."""
    last: str | None = None
    while True:
        query = select(M.c.address, M.c.name, M.c.vars).where(
            M.c.list_id == list_id, M.c.subscribed.is_(True)
        )
        if last is not None:
            query = query.where(M.c.address > last)
        rows = [
            dict(r._mapping) for r in await conn.execute(query.order_by(M.c.address).limit(chunk))
        ]
        if not rows:
            return
        yield rows
        last = rows[-1]["address"]
