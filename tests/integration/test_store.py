"""The group-commit writer: many concurrent writes commit together, a failing one alone fails."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import InsertRows, Store, queries, schema


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


async def test_a_failing_insert_does_not_fail_its_group(store: Store) -> None:
    """Row inserts (InsertRows) share one multi-row statement per table; a duplicate fails alone."""
    outcomes = await asyncio.gather(
        *(
            store.write(InsertRows([(schema.api_keys, [key_values(i, secret)])]))
            for i, secret in [(1, "same"), (2, "b"), (3, "same"), (4, "d")]
        ),
        return_exceptions=True,
    )
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1
    assert await count_keys(store) == 3
    async with store.read() as conn:
        rows = await conn.execute(select(schema.api_keys.c.id, schema.api_keys.c.is_primary))
        assert sorted(rows.all()) == [("k1", False), ("k2", False), ("k4", False)]


def delivery_values(i: int, *, due_at: float, claimed_until: float | None) -> dict:
    return {
        "message_key": "m1",
        "domain": "example.com",
        "recipient": f"r{i}@example.org",
        "recipient_index": i,
        "recipient_domain": "example.org",
        "status": "queued",
        "due_at": due_at,
        "attempts": 0,
        "claimed_by": None if claimed_until is None else "worker-x",
        "claimed_until": claimed_until,
        "created_at": 0.0,
        "updated_at": 0.0,
        "last_code": None,
        "last_message": None,
    }


async def test_next_due_counts_a_claimed_delivery_at_its_lease_end(store: Store) -> None:
    message = {
        "id": "m1",
        "domain": "example.com",
        "message_id": "x@example.com",
        "sender": "a@example.com",
        "subject": "",
        "spec": "{}",
        "recipients": "[]",
        "size": 0,
        "method": "http",
        "is_test_mode": False,
        "created_at": 0.0,
        "expires_at": 1e12,
    }
    rows = [
        delivery_values(0, due_at=100.0, claimed_until=900.0),  # in flight until 900
        delivery_values(1, due_at=500.0, claimed_until=None),
    ]
    await store.write(InsertRows([(schema.messages, [message]), (schema.deliveries, rows)]))
    async with store.read() as conn:
        assert await queries.next_due_at(conn) == 500.0
    await store.write(
        InsertRows([(schema.deliveries, [delivery_values(2, due_at=50.0, claimed_until=40.0)])])
    )
    async with store.read() as conn:
        assert await queries.next_due_at(conn) == 50.0  # a lapsed claim is due at its due_at


async def test_settings_keep_the_first_value_and_can_be_replaced(store: Store) -> None:
    async def first(value: str) -> str:
        async def op(conn: AsyncConnection) -> str:
            return await queries.setting_or_create(
                conn, "signing_key", value, store.keyring, now=1.0
            )

        return await store.write(op)

    assert await first("one") == "one"
    assert await first("two") == "one"

    async def replace(conn: AsyncConnection) -> None:
        await queries.put_setting(conn, "signing_key", "three", store.keyring, now=2.0)

    await store.write(replace)
    async with store.read() as conn:
        assert await queries.get_setting(conn, "signing_key", store.keyring) == "three"
        assert await queries.get_setting(conn, "missing", store.keyring) is None


async def test_an_op_that_awaits_something_else_still_commits_once(store: Store) -> None:
    """An op that suspends on something besides its connection (here a sleep between two
    statements) cannot finish on SQLite's writer thread: it is rolled back there and run
    again through the event loop, so its rows are written exactly once."""
    runs: list[int] = []

    async def op(conn: AsyncConnection) -> str:
        runs.append(1)
        await conn.execute(insert(schema.api_keys), [key_values(1)])
        await asyncio.sleep(0)
        await conn.execute(insert(schema.api_keys), [key_values(2)])
        return "done"

    assert await store.write(op) == "done"
    assert await count_keys(store) == 2
    assert len(runs) == (2 if not store.is_postgres else 1)


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    """A SQLite store only: its writer thread and write lock are what these tests are about."""
    store = Store.from_url(f"sqlite:///{tmp_path / 'writer.db'}")
    await store.migrate()
    yield store
    await store.close()


async def test_sqlite_writes_run_their_statements_on_the_writer_thread(
    sqlite_store: Store,
) -> None:
    """On SQLite an op's statements run in one hop on the writer's own thread (so the write lock
    is never held while the event loop is busy elsewhere), in the same transaction as the
    group's inserts: a failing op takes the inserts grouped with it back too, and they are
    then written alone."""
    store = sqlite_store

    async def where(conn: AsyncConnection) -> str:
        await conn.execute(insert(schema.api_keys), [key_values(1)])
        return await conn.run_sync(lambda _sync: threading.current_thread().name)

    assert (await store.write(where)).startswith("mailwright-sqlite")

    async def failing(conn: AsyncConnection) -> None:
        await conn.execute(insert(schema.api_keys), [key_values(2, "h1")])  # duplicate hash

    inserted = InsertRows([(schema.api_keys, [key_values(3)])])
    outcomes = await asyncio.gather(
        store.write(inserted), store.write(failing), return_exceptions=True
    )
    assert outcomes[0] is None
    assert isinstance(outcomes[1], IntegrityError)
    assert await count_keys(store) == 2  # k1 and k3; k2 never


async def test_sqlite_writer_waits_for_a_write_lock_held_elsewhere(
    sqlite_store: Store, tmp_path: Path
) -> None:
    """Another process's transaction holds SQLite's write lock for 0.3 s: the writer retries
    BEGIN IMMEDIATE until the lock is free, then commits."""
    store = sqlite_store
    path = str(tmp_path / "writer.db")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        started = time.monotonic()
        await store.write(InsertRows([(schema.api_keys, [key_values(1)])]))

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(insert(schema.api_keys), [key_values(2)])

        await store.write(op)
        waited = time.monotonic() - started
    finally:
        release.join()
        holder.close()
    assert waited >= 0.25
    assert await count_keys(store) == 2
