"""Dashboard logins: every SQL statement for users, sessions, failed-login counters, linked SSO
identities and SSO logins under way."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Double, case, delete, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import schema

U = schema.dashboard_users
S = schema.dashboard_sessions
F = schema.dashboard_login_failures
D = schema.dashboard_identities
L = schema.dashboard_sso_logins

_USER_COLUMNS = (U.c.id, U.c.username, U.c.totp_secret, U.c.created_at)


async def insert_user(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(U.insert(), [row])


async def get_user(conn: AsyncConnection, username: str) -> dict[str, Any] | None:
    """The whole row, password hash and TOTP secret included."""
    row = (await conn.execute(select(U).where(U.c.username == username))).first()
    return None if row is None else dict(row._mapping)


async def get_user_by_id(conn: AsyncConnection, user_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(U).where(U.c.id == user_id))).first()
    return None if row is None else dict(row._mapping)


async def select_users(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Every user in username order, without password hashes."""
    query = select(*_USER_COLUMNS).order_by(U.c.username)
    return [dict(r._mapping) for r in await conn.execute(query)]


async def delete_user(conn: AsyncConnection, username: str) -> bool:
    user = await get_user(conn, username)
    if user is None:
        return False
    await delete_user_sessions(conn, user["id"])
    await conn.execute(delete(D).where(D.c.user_id == user["id"]))
    await conn.execute(delete(F).where(F.c.username == username))
    return bool((await conn.execute(delete(U).where(U.c.id == user["id"]))).rowcount)


async def update_password(
    conn: AsyncConnection,
    username: str,
    password_hash: str,
    now: float,
    *,
    replacing: str | None = None,
) -> bool:
    """Set the hash; with ``replacing``, only while the stored hash is still that one (a
    rehash on login must not undo a password change made meanwhile)."""
    query = update(U).where(U.c.username == username)
    if replacing is not None:
        query = query.where(U.c.password_hash == replacing)
    result = await conn.execute(query.values(password_hash=password_hash, updated_at=now))
    return bool(result.rowcount)


async def update_totp_secret(
    conn: AsyncConnection, username: str, secret: str | None, now: float
) -> bool:
    result = await conn.execute(
        update(U)
        .where(U.c.username == username)
        .values(totp_secret=secret, totp_last_step=None, updated_at=now)
    )
    return bool(result.rowcount)


async def use_totp_step(conn: AsyncConnection, user_id: str, step: int) -> bool:
    """Record ``step`` as the newest TOTP time step used; False when it (or a later one) was
    used already. One conditional UPDATE, so two processes cannot both accept a code."""
    result = await conn.execute(
        update(U)
        .where(U.c.id == user_id, or_(U.c.totp_last_step.is_(None), U.c.totp_last_step < step))
        .values(totp_last_step=step)
    )
    return bool(result.rowcount)


async def get_login_failures(conn: AsyncConnection, username: str) -> tuple[int, float] | None:
    """``(failures, window_start)`` for ``username``, or None when it has none."""
    query = select(F.c.failures, F.c.window_start).where(F.c.username == username)
    row = (await conn.execute(query)).first()
    return None if row is None else (int(row.failures), float(row.window_start))


async def record_login_failure(
    conn: AsyncConnection, username: str, *, now: float, window: float
) -> int:
    """Count one failed login; a window older than ``window`` seconds starts over. Returns the
    failures in the current window. One upsert, so concurrent processes lose no count."""
    now_ = literal(now, Double)
    is_stale = F.c.window_start + window <= now_
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(F).values(username=username, failures=1, window_start=now)
    statement = statement.on_conflict_do_update(
        index_elements=[F.c.username],
        set_={
            "failures": case((is_stale, 1), else_=F.c.failures + 1),
            "window_start": case((is_stale, now_), else_=F.c.window_start),
        },
    )
    return int((await conn.execute(statement.returning(F.c.failures))).scalar_one())


async def clear_login_failures(conn: AsyncConnection, username: str) -> None:
    await conn.execute(delete(F).where(F.c.username == username))


async def insert_session(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(S.insert(), [row])


async def get_session(conn: AsyncConnection, token_hash: str) -> dict[str, Any] | None:
    """The session row joined with its user's ``username``, ``totp_secret`` and
    ``user_created_at``."""
    query = (
        select(S, U.c.username, U.c.totp_secret, U.c.created_at.label("user_created_at"))
        .join(U, U.c.id == S.c.user_id)
        .where(S.c.token_hash == token_hash)
    )
    row = (await conn.execute(query)).first()
    return None if row is None else dict(row._mapping)


async def extend_session(conn: AsyncConnection, token_hash: str, expires_at: float) -> None:
    await conn.execute(update(S).where(S.c.token_hash == token_hash).values(expires_at=expires_at))


async def mark_session_verified(conn: AsyncConnection, token_hash: str) -> None:
    await conn.execute(
        update(S).where(S.c.token_hash == token_hash).values(is_verified=True, totp_failures=0)
    )


async def record_totp_failure(conn: AsyncConnection, token_hash: str) -> int:
    """Count one wrong TOTP code on the session; returns the session's count (0 if gone)."""
    result = await conn.execute(
        update(S)
        .where(S.c.token_hash == token_hash)
        .values(totp_failures=S.c.totp_failures + 1)
        .returning(S.c.totp_failures)
    )
    return int(result.scalar_one_or_none() or 0)


async def replace_session_token(
    conn: AsyncConnection, token_hash: str, values: dict[str, Any]
) -> bool:
    """Move a session to a new token hash (and CSRF token and expiry)."""
    result = await conn.execute(update(S).where(S.c.token_hash == token_hash).values(**values))
    return bool(result.rowcount)


async def delete_session(conn: AsyncConnection, token_hash: str) -> None:
    await conn.execute(delete(S).where(S.c.token_hash == token_hash))


async def delete_user_sessions(conn: AsyncConnection, user_id: str) -> int:
    return int((await conn.execute(delete(S).where(S.c.user_id == user_id))).rowcount)


async def delete_expired_sessions(conn: AsyncConnection, now: float) -> int:
    return int((await conn.execute(delete(S).where(S.c.expires_at <= now))).rowcount)


async def get_identity_user(
    conn: AsyncConnection, issuer: str, subject: str
) -> dict[str, Any] | None:
    """The whole user row linked to ``(issuer, subject)``, or None."""
    query = (
        select(U).join(D, D.c.user_id == U.c.id).where(D.c.issuer == issuer, D.c.subject == subject)
    )
    row = (await conn.execute(query)).first()
    return None if row is None else dict(row._mapping)


async def get_user_identity(conn: AsyncConnection, issuer: str, user_id: str) -> str | None:
    """The subject the user is linked to at ``issuer``, or None."""
    query = select(D.c.subject).where(D.c.issuer == issuer, D.c.user_id == user_id)
    return (await conn.execute(query)).scalar_one_or_none()


async def select_identities(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Every linked identity (user_id, issuer, subject) in user, issuer, subject order."""
    query = select(D.c.user_id, D.c.issuer, D.c.subject).order_by(
        D.c.user_id, D.c.issuer, D.c.subject
    )
    return [dict(r._mapping) for r in await conn.execute(query)]


async def insert_identity(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(D.insert(), [row])


async def insert_sso_login(conn: AsyncConnection, row: dict[str, Any], now: float) -> None:
    """Store a login under way, deleting the expired ones on the way."""
    await conn.execute(delete(L).where(L.c.expires_at <= now))
    await conn.execute(L.insert(), [row])


async def take_sso_login(
    conn: AsyncConnection, state_hash: str, now: float
) -> dict[str, Any] | None:
    """Delete and return the live login of ``state_hash``: one DELETE .. RETURNING, so a state
    is used at most once even by two processes."""
    query = delete(L).where(L.c.state_hash == state_hash).returning(*L.c)
    row = (await conn.execute(query)).first()
    if row is None or row.expires_at <= now:
        return None
    return dict(row._mapping)
