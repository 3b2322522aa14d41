"""The group-commit writer: many concurrent writes commit together, a failing one alone fails."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import Store, schema


def key_values(i: int, secret_hash: str | None = None) -> dict:
    return {
        "id": f"k{i}",
        "secret_hash": secret_hash or f"h{i}",
        "description": "",
        "kind": "user",
        "role": "admin",
        "domain_name": None,
        "is_primary": False,
        "created_at": 0.0,
        "updated_at": 0.0,
        "expires_at": None,
        "is_disabled": False,
        "requestor": None,
        "user_name": None,
        "secret_hint": "x",
    }


async def count_keys(store: Store) -> int:
    async with store.read() as conn:
        query = select(func.count()).select_from(schema.api_keys)
        return int((await conn.execute(query)).scalar_one())


async def test_concurrent_writes_all_commit(store: Store) -> None:
    async def write(i: int) -> int:
        async def op(conn: AsyncConnection) -> int:
            await conn.execute(insert(schema.api_keys), [key_values(i)])
            return i

        return await store.write(op)

    results = await asyncio.gather(*(write(i) for i in range(300)))
    assert sorted(results) == list(range(300))
    assert await count_keys(store) == 300


async def test_a_failing_write_does_not_fail_its_group(store: Store) -> None:
    async def write(i: int, secret_hash: str) -> None:
        async def op(conn: AsyncConnection) -> None:
            await conn.execute(insert(schema.api_keys), [key_values(i, secret_hash)])

        await store.write(op)

    outcomes = await asyncio.gather(
        write(1, "same"), write(2, "same"), write(3, "c"), write(4, "d"), return_exceptions=True
    )
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1
    assert isinstance(errors[0], IntegrityError)
    assert await count_keys(store) == 3


async def test_a_failed_write_leaves_nothing(store: Store) -> None:
    async def op(conn: AsyncConnection) -> None:
        await conn.execute(insert(schema.api_keys), [key_values(1)])
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await store.write(op)
    assert await count_keys(store) == 0
