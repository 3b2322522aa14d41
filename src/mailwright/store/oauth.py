"""OAuth 2.0: every SQL statement for clients, token signing keys and revoked tokens."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import schema

C = schema.oauth_clients
K = schema.oauth_signing_keys
R = schema.oauth_revoked_tokens

CHANNEL = "mailwright_oauth"


async def notify_changed(conn: AsyncConnection, what: str) -> None:
    """Tell every process's token cache to forget (PostgreSQL NOTIFY, sent at commit).
    SQLite serves one API process, which forgets locally."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_notify(CHANNEL, what)))


async def insert_client(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(C), [row])


async def get_client(conn: AsyncConnection, client_id: str) -> dict[str, Any] | None:
    """The whole row, secret hash included."""
    row = (await conn.execute(select(C).where(C.c.client_id == client_id))).first()
    return None if row is None else dict(row._mapping)


async def select_clients(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(select(C).order_by(C.c.created_at, C.c.client_id))
    return [dict(r._mapping) for r in rows]


async def delete_client(conn: AsyncConnection, client_id: str) -> bool:
    return bool((await conn.execute(delete(C).where(C.c.client_id == client_id))).rowcount)


async def insert_signing_key(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(K), [row])


async def select_signing_keys(conn: AsyncConnection, *, since: float) -> list[dict[str, Any]]:
    """Keys not retired, or retired after ``since``; newest first."""
    query = (
        select(K)
        .where(or_(K.c.retired_at.is_(None), K.c.retired_at > since))
        .order_by(K.c.created_at.desc(), K.c.kid)
    )
    return [dict(r._mapping) for r in await conn.execute(query)]


async def get_signing_key(conn: AsyncConnection, kid: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(K).where(K.c.kid == kid))).first()
    return None if row is None else dict(row._mapping)


async def retire_signing_keys(conn: AsyncConnection, *, except_kid: str, now: float) -> None:
    await conn.execute(
        update(K).where(K.c.kid != except_kid, K.c.retired_at.is_(None)).values(retired_at=now)
    )


async def delete_retired_keys(conn: AsyncConnection, *, before: float) -> None:
    await conn.execute(delete(K).where(K.c.retired_at.is_not(None), K.c.retired_at < before))


async def insert_revoked(conn: AsyncConnection, jti: str, expires_at: float) -> None:
    """Idempotent: revoking a token twice is not an error (RFC 7009 2.2)."""
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    await conn.execute(
        dialect_insert(R).on_conflict_do_nothing(index_elements=[R.c.jti]),
        [{"jti": jti, "expires_at": expires_at}],
    )


async def is_revoked(conn: AsyncConnection, jti: str) -> bool:
    return (await conn.execute(select(R.c.jti).where(R.c.jti == jti))).first() is not None


async def purge_revoked(conn: AsyncConnection, *, before: float) -> int:
    return int((await conn.execute(delete(R).where(R.c.expires_at < before))).rowcount)
