"""Stored templates and their versions: every SQL statement the templates API needs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import schema

T = schema.templates
V = schema.template_versions


def _ordered(conn: AsyncConnection, column: Any) -> ColumnElement[str]:
    # Byte order on both databases, so a page cursor means the same thing everywhere.
    return column.collate("C") if conn.dialect.name == "postgresql" else column  # type: ignore[no-any-return]


async def _page(
    conn: AsyncConnection,
    query: Select[Any],
    order: ColumnElement[str],
    *,
    limit: int,
    after: str | None,
    before: str | None,
    descending: bool,
) -> list[dict[str, Any]]:
    if after is not None:
        query = query.where(order > after)
    if before is not None:
        query = query.where(order < before)
    query = query.order_by(order.desc() if descending else order).limit(limit)
    rows = [dict(r._mapping) for r in await conn.execute(query)]
    return rows[::-1] if descending else rows


async def insert_template(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(T.insert(), [row])


async def get_template(conn: AsyncConnection, domain: str, name: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(T).where(T.c.domain == domain, T.c.name == name))).first()
    return None if row is None else dict(row._mapping)


async def select_templates(
    conn: AsyncConnection,
    domain: str,
    *,
    limit: int,
    after: str | None = None,
    before: str | None = None,
    descending: bool = False,
) -> list[dict[str, Any]]:
    """One page in name order; ``after``/``before`` are exclusive name cursors."""
    query = select(T).where(T.c.domain == domain)
    return await _page(
        conn,
        query,
        _ordered(conn, T.c.name),
        limit=limit,
        after=after,
        before=before,
        descending=descending,
    )


async def update_template(conn: AsyncConnection, template_id: str, description: str) -> None:
    await conn.execute(update(T).where(T.c.id == template_id).values(description=description))


async def delete_template(conn: AsyncConnection, template_id: str) -> None:
    await conn.execute(delete(V).where(V.c.template_id == template_id))
    await conn.execute(delete(T).where(T.c.id == template_id))


async def delete_templates(conn: AsyncConnection, domain: str) -> int:
    ids = select(T.c.id).where(T.c.domain == domain).scalar_subquery()
    await conn.execute(delete(V).where(V.c.template_id.in_(ids)))
    return int((await conn.execute(delete(T).where(T.c.domain == domain))).rowcount)


async def insert_version(conn: AsyncConnection, row: dict[str, Any]) -> None:
    if row["active"]:
        await deactivate_versions(conn, row["template_id"])
    await conn.execute(V.insert(), [row])


async def get_version(
    conn: AsyncConnection, template_id: str, tag: str | None
) -> dict[str, Any] | None:
    """The version tagged ``tag``, or the active one when ``tag`` is None."""
    query = select(V).where(V.c.template_id == template_id)
    query = query.where(V.c.active.is_(True) if tag is None else V.c.tag == tag)
    row = (await conn.execute(query.limit(1))).first()
    return None if row is None else dict(row._mapping)


async def count_versions(conn: AsyncConnection, template_id: str) -> int:
    query = select(func.count()).select_from(V).where(V.c.template_id == template_id)
    return int((await conn.execute(query)).scalar_one())


async def select_versions(
    conn: AsyncConnection,
    template_id: str,
    *,
    limit: int,
    after: str | None = None,
    before: str | None = None,
    descending: bool = False,
) -> list[dict[str, Any]]:
    """One page in tag order; ``after``/``before`` are exclusive tag cursors."""
    query = select(V).where(V.c.template_id == template_id)
    return await _page(
        conn,
        query,
        _ordered(conn, V.c.tag),
        limit=limit,
        after=after,
        before=before,
        descending=descending,
    )


async def deactivate_versions(conn: AsyncConnection, template_id: str) -> None:
    await conn.execute(update(V).where(V.c.template_id == template_id).values(active=False))


async def update_version(conn: AsyncConnection, version_id: str, values: dict[str, Any]) -> None:
    await conn.execute(update(V).where(V.c.id == version_id).values(**values))


async def delete_version(conn: AsyncConnection, version_id: str) -> None:
    await conn.execute(delete(V).where(V.c.id == version_id))
