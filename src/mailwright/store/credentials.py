"""SMTP credentials: every SQL statement the credentials API and submission need."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import schema

C = schema.smtp_credentials


async def insert_credential(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(C.insert(), [row])


async def get_credential(conn: AsyncConnection, login: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(C).where(C.c.login == login))).first()
    return None if row is None else dict(row._mapping)


async def count_credentials(conn: AsyncConnection, domain: str) -> int:
    query = select(func.count()).select_from(C).where(C.c.domain == domain)
    return int((await conn.execute(query)).scalar_one())


async def select_credentials(
    conn: AsyncConnection, domain: str, *, skip: int, limit: int
) -> list[dict[str, Any]]:
    """One page in login order, without the password hashes."""
    query = (
        select(C.c.login, C.c.domain, C.c.created_at, C.c.updated_at)
        .where(C.c.domain == domain)
        .order_by(C.c.login)
        .offset(skip)
        .limit(limit)
    )
    return [dict(r._mapping) for r in await conn.execute(query)]


async def update_password(
    conn: AsyncConnection, login: str, password_hash: str, now: float
) -> bool:
    result = await conn.execute(
        update(C).where(C.c.login == login).values(password_hash=password_hash, updated_at=now)
    )
    return bool(result.rowcount)


async def delete_credential(conn: AsyncConnection, login: str) -> bool:
    return bool((await conn.execute(delete(C).where(C.c.login == login))).rowcount)


async def delete_credentials(conn: AsyncConnection, domain: str) -> int:
    return int((await conn.execute(delete(C).where(C.c.domain == domain))).rowcount)
