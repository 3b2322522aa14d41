"""SQL of rate limits: leased request-window capacity, sending quotas and their usage, and the
account's custom monthly message limit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import queries, schema
from mailwright.store.sealed import setting_place
from mailwright.store.sealing import Keyring

Quota = tuple[int | None, int | None]  # (hourly, daily); None = no limit


def _insert_adding(conn: AsyncConnection, table: Table, keys: Sequence[str]) -> Any:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE SET used = used + excluded.used``."""
    dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    query = dialect.insert(table)
    return query.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={"used": table.c.used + query.excluded.used},
    )


# -- request windows ----------------------------------------------------------------------


async def lease_window(conn: AsyncConnection, scope: str, window_start: int, *, chunk: int) -> int:
    """Add ``chunk`` to the window's leased count in one atomic statement; returns the count
    leased before this call (the caller grants ``limit - before``, capped at ``chunk``)."""
    w = schema.rate_windows
    query = _insert_adding(conn, w, ("scope", "window_start")).returning(w.c.used)
    row = {"scope": scope, "window_start": window_start, "used": chunk}
    after = (await conn.execute(query, row)).scalar_one()
    return int(after) - chunk


async def purge_rate_windows(conn: AsyncConnection, before: float) -> None:
    w = schema.rate_windows
    await conn.execute(delete(w).where(w.c.window_start < before))


# -- sending quotas -----------------------------------------------------------------------


async def get_quota(conn: AsyncConnection, domain: str) -> Quota:
    q = schema.sending_quotas
    row = (await conn.execute(select(q.c.hourly, q.c.daily).where(q.c.domain == domain))).first()
    return (None, None) if row is None else (row[0], row[1])


async def put_quota(conn: AsyncConnection, domain: str, quota: Quota, *, now: float) -> None:
    q = schema.sending_quotas
    await conn.execute(delete(q).where(q.c.domain == domain))
    hourly, daily = quota
    if hourly is not None or daily is not None:
        values = {"domain": domain, "hourly": hourly, "daily": daily, "updated_at": now}
        await conn.execute(q.insert(), [values])


async def lock_quotas(conn: AsyncConnection, domains: Sequence[str]) -> dict[str, Quota]:
    """The quotas of ``domains`` that have one, locked until the transaction ends on
    PostgreSQL (in name order, so concurrent claimers cannot deadlock): workers that claim
    for the same limited domain take turns, and each sees the usage the other committed."""
    if not domains:
        return {}
    q = schema.sending_quotas
    query = (
        select(q.c.domain, q.c.hourly, q.c.daily)
        .where(q.c.domain.in_(sorted(set(domains))))
        .order_by(q.c.domain)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return {str(r[0]): (r[1], r[2]) for r in await conn.execute(query)}


async def usage_of(
    conn: AsyncConnection, domains: Sequence[str], windows: Mapping[str, int]
) -> dict[tuple[str, str], int]:
    """(domain, period) -> used, for the windows ``{"hour": start, "day": start}``."""
    if not domains:
        return {}
    u = schema.sending_usage
    pairs = [(period, start) for period, start in windows.items()]
    query = select(u.c.domain, u.c.period, u.c.used).where(
        u.c.domain.in_(list(domains)), tuple_(u.c.period, u.c.window_start).in_(pairs)
    )
    return {(str(r[0]), str(r[1])): int(r[2]) for r in await conn.execute(query)}


async def add_usage(
    conn: AsyncConnection, counts: Mapping[str, int], windows: Mapping[str, int]
) -> None:
    rows = [
        {"domain": domain, "period": period, "window_start": start, "used": n}
        for domain, n in sorted(counts.items())
        for period, start in windows.items()
        if n > 0
    ]
    if rows:
        keys = ("domain", "period", "window_start")
        await conn.execute(_insert_adding(conn, schema.sending_usage, keys), rows)


async def hold_deliveries(
    conn: AsyncConnection, due: Mapping[int, float], *, worker: str, now: float
) -> None:
    """Give claimed deliveries back, due at ``due[id]``; the claim did not count as an attempt."""
    if not due:
        return
    d = schema.deliveries
    await conn.execute(
        update(d)
        .where(d.c.id == bindparam("b_id"), d.c.claimed_by == worker)
        .values(
            due_at=bindparam("b_due"),
            claimed_by=None,
            claimed_until=None,
            attempts=d.c.attempts - 1,
            updated_at=now,
        ),
        [{"b_id": i, "b_due": at} for i, at in sorted(due.items())],
    )


async def purge_usage(conn: AsyncConnection, before: float) -> None:
    u = schema.sending_usage
    await conn.execute(delete(u).where(u.c.window_start < before))


# -- the account's custom monthly message limit --------------------------------------------

# A row of ``settings`` (sealed as every value there is): the limit's JSON.
MONTHLY_LIMIT = "custom_monthly_limit"


async def get_monthly_limit(
    conn: AsyncConnection, keyring: Keyring, *, lock: bool = False
) -> str | None:
    """The stored limit (JSON text), or None. With ``lock`` the row stays locked until the
    transaction ends on PostgreSQL: limited accepts in every process take turns, each seeing
    the counters the one before it committed."""
    s = schema.settings
    query = select(s.c.value).where(s.c.name == MONTHLY_LIMIT)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    value = (await conn.execute(query)).scalar_one_or_none()
    return None if value is None else keyring.open(str(value), setting_place(MONTHLY_LIMIT))


async def put_monthly_limit(
    conn: AsyncConnection, value: str, keyring: Keyring, *, now: float
) -> None:
    await queries.put_setting(conn, MONTHLY_LIMIT, value, keyring, now=now)


async def delete_monthly_limit(conn: AsyncConnection) -> bool:
    s = schema.settings
    return bool((await conn.execute(delete(s).where(s.c.name == MONTHLY_LIMIT))).rowcount)


async def counted_between(conn: AsyncConnection, stat: str, start: int, end: int) -> int:
    """The account-wide ``stat`` counter (every domain, tag "") over the hours from ``start``
    up to ``end`` (excluded); index ``ix_stat_counters_tag_hour``."""
    c = schema.stat_counters
    query = select(func.sum(c.c.count)).where(
        c.c.tag == "", c.c.hour >= start, c.c.hour < end, c.c.stat == stat
    )
    return int((await conn.execute(query)).scalar_one() or 0)
