"""Every DKIM key a domain has had (``dkim_keys``): insert, list, change state, retire; and
each domain's automatic rotation setting (``dkim_rotation``).

The domain's active keys are also copied onto its ``domains`` row (``activate``) so signing
reads them from the cached domain and needs no query of its own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import schema
from mailwright.store.records import DkimKeyRow, DkimRotationRow, DomainRow

T = schema.dkim_keys
R = schema.dkim_rotation


async def insert_key(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(T), [values])


async def list_keys(conn: AsyncConnection, domain_id: str) -> list[DkimKeyRow]:
    rows = await conn.execute(select(T).where(T.c.domain_id == domain_id).order_by(T.c.id))
    return [DkimKeyRow.from_row(r) for r in rows]


async def delete_pending(conn: AsyncConnection, domain_id: str, algorithm: str) -> None:
    await conn.execute(
        delete(T).where(
            T.c.domain_id == domain_id, T.c.algorithm == algorithm, T.c.state == "pending"
        )
    )


async def activate(conn: AsyncConnection, key: DkimKeyRow, *, now: float) -> bool:
    """Make the pending ``key`` the domain's active key of its algorithm: the one it replaces
    is retiring until ``now + key.grace_seconds``. False when the key is no longer pending."""
    made_active = await conn.execute(
        update(T)
        .where(T.c.id == key.id, T.c.state == "pending")
        .values(state="active", activated_at=now)
    )
    if not made_active.rowcount:
        return False
    await conn.execute(
        update(T)
        .where(
            T.c.domain_id == key.domain_id,
            T.c.algorithm == key.algorithm,
            T.c.state == "active",
            T.c.id != key.id,
        )
        .values(state="retiring", retire_at=now + key.grace_seconds)
    )
    D = schema.domains
    if key.algorithm == "rsa":
        mirror = {
            "dkim_selector": key.selector,
            "dkim_key_size": key.key_size or 2048,
            "dkim_private_key": key.private_key,
            "dkim_public_key": key.public_key,
        }
    else:
        mirror = {
            "dkim_ed25519_selector": key.selector,
            "dkim_ed25519_private_key": key.private_key,
            "dkim_ed25519_public_key": key.public_key,
        }
    await conn.execute(update(D).where(D.c.id == key.domain_id).values(**mirror))
    return True


async def retire_expired(conn: AsyncConnection, now: float) -> int:
    """Retiring keys past their ``retire_at`` become retired; their private keys are erased."""
    result = await conn.execute(
        update(T)
        .where(T.c.state == "retiring", T.c.retire_at <= now)
        .values(state="retired", private_key="")
    )
    return int(result.rowcount or 0)


async def retire_now(conn: AsyncConnection, key: DkimKeyRow, *, now: float) -> None:
    """Take ``key`` out of use at once (Mailgun's deactivate): retired, its private key
    erased; an active Ed25519 key also leaves the domain row, which then signs with RSA only."""
    await conn.execute(
        update(T).where(T.c.id == key.id).values(state="retired", retire_at=now, private_key="")
    )
    if key.state == "active" and key.algorithm == "ed25519":
        D = schema.domains
        await conn.execute(
            update(D)
            .where(D.c.id == key.domain_id)
            .values(
                dkim_ed25519_selector=None,
                dkim_ed25519_private_key=None,
                dkim_ed25519_public_key=None,
            )
        )


async def delete_key(conn: AsyncConnection, key_id: int) -> None:
    await conn.execute(delete(T).where(T.c.id == key_id))


async def list_all(
    conn: AsyncConnection, *, domain: str, selector: str, limit: int, skip: int
) -> tuple[int, list[tuple[str, DkimKeyRow]]]:
    """How many keys every domain has, and one page of them (signing domain, key) by domain
    name and selector; ``domain``/``selector`` filter when not empty."""
    D = schema.domains
    conditions = [D.c.id == T.c.domain_id]
    if domain:
        conditions.append(D.c.name == domain)
    if selector:
        conditions.append(T.c.selector == selector)
    total = await conn.scalar(select(func.count()).select_from(T).join(D, and_(*conditions)))
    rows = await conn.execute(
        select(D.c.name, T)
        .join(D, and_(*conditions))
        .order_by(D.c.name, T.c.selector, T.c.id)
        .limit(limit)
        .offset(skip)
    )
    return int(total or 0), [(r.name, DkimKeyRow.from_row(r)) for r in rows]


async def get_rotation(conn: AsyncConnection, domain_id: str) -> DkimRotationRow | None:
    row = (await conn.execute(select(R).where(R.c.domain_id == domain_id))).first()
    return None if row is None else DkimRotationRow.from_row(row)


async def set_rotation(
    conn: AsyncConnection, domain_id: str, *, is_enabled: bool, interval_seconds: float, now: float
) -> None:
    values = {"is_enabled": is_enabled, "interval_seconds": interval_seconds, "updated_at": now}
    changed = await conn.execute(update(R).where(R.c.domain_id == domain_id).values(**values))
    if not changed.rowcount:
        await conn.execute(insert(R), [{"domain_id": domain_id, **values}])


async def rotation_candidates(
    conn: AsyncConnection,
) -> list[tuple[DomainRow, DkimRotationRow | None]]:
    """The domains the rotation worker looks at, by name: rotation on, or a pending key made
    by a rotation (``is_activated_on_publish``) waiting for its record."""
    D = schema.domains
    waiting = select(T.c.domain_id).where(T.c.state == "pending", T.c.is_activated_on_publish)
    rows = await conn.execute(
        select(D, R.c.is_enabled, R.c.interval_seconds, R.c.updated_at)
        .outerjoin(R, R.c.domain_id == D.c.id)
        .where(or_(R.c.is_enabled, D.c.id.in_(waiting)))
        .order_by(D.c.name)
    )
    found = []
    for r in rows:
        setting = None
        if r.is_enabled is not None:
            setting = DkimRotationRow(
                domain_id=r.id,
                is_enabled=r.is_enabled,
                interval_seconds=r.interval_seconds,
                updated_at=r.updated_at,
            )
        found.append((DomainRow.from_row(r), setting))
    return found
