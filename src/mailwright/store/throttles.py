"""Shared per-site token buckets: the one statement through which worker processes lease a
share of a destination site's rate (``delivery/shared_throttle.py``).

A row per site holds the bucket's balance and when it was last refilled. A lease refills and
takes in one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` (the same SQL on SQLite and
PostgreSQL), so the row is locked only for that statement.
"""

from __future__ import annotations

from sqlalchemy import Double, case, literal
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import schema

T = schema.site_throttles


async def lease_tokens(
    conn: AsyncConnection,
    site: str,
    *,
    count: int,
    per_second: float,
    burst: float,
    now: float,
) -> float:
    """Take ``count`` tokens from ``site``'s bucket; returns the balance after (negative when
    some of them are reserved for later).

    balance = min(burst, tokens + max(0, now - updated_at) * per_second) - count, and
    updated_at = max(updated_at, now): a host whose clock is behind refills nothing and cannot
    move the clock back, so clock skew between hosts adds at most skew * per_second once.
    """
    now_ = literal(now, Double)
    refilled = T.c.tokens + case(
        (now_ > T.c.updated_at, (now_ - T.c.updated_at) * per_second), else_=0.0
    )
    capped = case((refilled > burst, literal(burst, Double)), else_=refilled)
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(T).values(site=site, tokens=burst - count, updated_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=[T.c.site],
        set_={
            "tokens": capped - count,
            "updated_at": case((T.c.updated_at > now_, T.c.updated_at), else_=now_),
        },
    )
    return float((await conn.execute(statement.returning(T.c.tokens))).scalar_one())
