"""IP pools, domain egress assignments and warm-up state: every SQL statement they need."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import schema

P = schema.ip_pools
PI = schema.ip_pool_ips
DI = schema.domain_ips
DP = schema.domain_ip_pools
W = schema.ip_warmups


async def insert_ignore(
    conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], keys: list[str]
) -> None:
    """Insert ``rows``, skipping those whose ``keys`` already exist (the same SQL on both)."""
    if not rows:
        return
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(table).on_conflict_do_nothing(index_elements=keys)
    await conn.execute(statement, rows)


async def select_pools(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Every pool with its ``ips`` (sorted), in creation order."""
    pools = [dict(r._mapping) for r in await conn.execute(select(P).order_by(P.c.created_at))]
    members: dict[str, list[str]] = {}
    for pool_id, ip in await conn.execute(select(PI.c.pool_id, PI.c.ip).order_by(PI.c.ip)):
        members.setdefault(pool_id, []).append(ip)
    for pool in pools:
        pool["ips"] = members.get(pool["pool_id"], [])
    return pools


async def insert_pool(conn: AsyncConnection, row: dict[str, Any], ips: list[str]) -> None:
    await conn.execute(P.insert(), [row])
    if ips:
        await conn.execute(PI.insert(), [{"pool_id": row["pool_id"], "ip": ip} for ip in ips])


async def update_pool(conn: AsyncConnection, pool_id: str, values: dict[str, Any]) -> bool:
    if not values:
        found = await conn.execute(select(P.c.pool_id).where(P.c.pool_id == pool_id))
        return found.first() is not None
    result = await conn.execute(update(P).where(P.c.pool_id == pool_id).values(**values))
    return bool(result.rowcount)


async def add_pool_ips(conn: AsyncConnection, pool_id: str, ips: list[str]) -> None:
    await insert_ignore(conn, PI, [{"pool_id": pool_id, "ip": ip} for ip in ips], ["pool_id", "ip"])


async def remove_pool_ips(conn: AsyncConnection, pool_id: str, ips: list[str]) -> None:
    await conn.execute(delete(PI).where(PI.c.pool_id == pool_id, PI.c.ip.in_(ips)))


async def delete_pool(conn: AsyncConnection, pool_id: str) -> bool:
    # Children first: SQLite enforces no foreign keys unless asked to.
    await conn.execute(delete(PI).where(PI.c.pool_id == pool_id))
    await conn.execute(delete(DP).where(DP.c.pool_id == pool_id))
    return bool((await conn.execute(delete(P).where(P.c.pool_id == pool_id))).rowcount)


async def select_domain_ips(conn: AsyncConnection) -> list[tuple[str, str]]:
    """(domain, ip) for every direct assignment."""
    rows = await conn.execute(select(DI.c.domain, DI.c.ip).order_by(DI.c.domain, DI.c.ip))
    return [(r[0], r[1]) for r in rows]


async def select_domain_pools(conn: AsyncConnection) -> list[tuple[str, str]]:
    """(domain, pool_id) for every domain linked to a pool."""
    return [(r[0], r[1]) for r in await conn.execute(select(DP.c.domain, DP.c.pool_id))]


async def assign_ip(conn: AsyncConnection, domain: str, ip: str) -> None:
    await insert_ignore(conn, DI, [{"domain": domain, "ip": ip}], ["domain", "ip"])


async def unassign_ip(conn: AsyncConnection, domain: str, ip: str) -> bool:
    result = await conn.execute(delete(DI).where(DI.c.domain == domain, DI.c.ip == ip))
    return bool(result.rowcount)


async def link_pool(conn: AsyncConnection, domain: str, pool_id: str) -> None:
    await conn.execute(delete(DP).where(DP.c.domain == domain))
    await conn.execute(DP.insert(), [{"domain": domain, "pool_id": pool_id}])


async def unlink_pool(conn: AsyncConnection, domain: str) -> bool:
    return bool((await conn.execute(delete(DP).where(DP.c.domain == domain))).rowcount)


async def select_warmups(conn: AsyncConnection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in await conn.execute(select(W).order_by(W.c.ip))]


async def start_warmup(conn: AsyncConnection, ip: str, started_at: float) -> None:
    await conn.execute(delete(W).where(W.c.ip == ip))
    row = {"ip": ip, "started_at": started_at, "day": 0, "sent": 0, "hour": 0, "hour_sent": 0}
    await conn.execute(W.insert(), [row])


async def stop_warmup(conn: AsyncConnection, ip: str) -> bool:
    return bool((await conn.execute(delete(W).where(W.c.ip == ip))).rowcount)


async def count_warmup_sends(
    conn: AsyncConnection, ip: str, count: int, *, day: int, hour: int
) -> None:
    """Add ``count`` messages to the warming address's totals for ``day`` and ``hour``; a total
    still counting an earlier day or hour starts over at zero."""
    await conn.execute(update(W).where(W.c.ip == ip, W.c.day != day).values(day=day, sent=0))
    await conn.execute(
        update(W).where(W.c.ip == ip, W.c.hour != hour).values(hour=hour, hour_sent=0)
    )
    await conn.execute(
        update(W).where(W.c.ip == ip).values(sent=W.c.sent + count, hour_sent=W.c.hour_sent + count)
    )
