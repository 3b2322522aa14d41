"""Stat counters in the store: merging upserts, group commit summing increments, and counters
written in the same transaction as their events."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.events import EventType, MessageFacts, accepted_upserts, event_row, record
from mailwright.store import InsertRows, Store, queries, schema
from mailwright.store.engine import _plan_inserts
from mailwright.store.upsert import COUNTERS, TAGS_SEEN

FACTS = MessageFacts(
    domain="example.com",
    message_id="m@example.com",
    storage_key="k",
    storage_url="http://x/k",
    sender="s@example.com",
    from_header="s@example.com",
    to_header="r@example.org",
    subject="Hi",
    size=10,
    tags=["Promo"],
)
HOUR = 1_700_002_800  # a whole hour


async def counters(store: Store) -> dict[tuple[str, str, int], int]:
    c = schema.stat_counters
    async with store.read() as conn:
        rows = await conn.execute(select(c.c.tag, c.c.stat, c.c.hour, c.c.count))
        return {(r[0], r[1], int(r[2])): int(r[3]) for r in rows}


async def count_events(store: Store) -> int:
    async with store.read() as conn:
        return len((await conn.execute(select(schema.events.c.id))).all())


def message(i: int) -> dict[str, Any]:
    return {
        "id": f"m{i}",
        "domain": "example.com",
        "message_id": f"{i}@example.com",
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


def accept_op(i: int, *, tags: list[str], recipients: int = 1, at: float = HOUR + 5) -> InsertRows:
    return InsertRows(
        [(schema.messages, [message(i)])],
        accepted_upserts("example.com", tags, at, recipients),
    )


async def test_upserts_add_counts_and_keep_first_and_last_seen(store: Store) -> None:
    await store.write(accept_op(1, tags=["a"], recipients=2, at=HOUR + 10))
    await store.write(accept_op(2, tags=["A"], recipients=3, at=HOUR + 3600))
    await store.write(accept_op(3, tags=["a"], recipients=1, at=HOUR + 1))  # arrives late
    assert await counters(store) == {
        ("", "accepted.outgoing", HOUR): 3,
        ("a", "accepted.outgoing", HOUR): 3,
        ("", "accepted.outgoing", HOUR + 3600): 3,
        ("a", "accepted.outgoing", HOUR + 3600): 3,
    }
    async with store.read() as conn:
        tag = await queries.get_tag(conn, "example.com", "a")
    assert tag is not None
    assert (tag["first_seen"], tag["last_seen"]) == (HOUR + 1, HOUR + 3600)


async def test_a_group_merges_increments_into_one_row_per_key(store: Store) -> None:
    ops = [accept_op(i, tags=["x", "y"] if i % 2 else [], recipients=2) for i in range(10)]
    upserts = [
        (sql, rows)
        for sql, rows in _plan_inserts(ops, store.engine.dialect)
        if "ON CONFLICT" in sql
    ]
    # One statement for counters, one for tags; one row per key, counts summed.
    assert len(upserts) == 2
    counter_sql, counter_rows = next(u for u in upserts if "stat_counters" in u[0])
    assert "count = stat_counters.count + excluded.count" in counter_sql.replace('"', "")
    assert sorted(counter_rows) == [
        ("example.com", "", "accepted.outgoing", HOUR, 20),
        ("example.com", "x", "accepted.outgoing", HOUR, 10),
        ("example.com", "y", "accepted.outgoing", HOUR, 10),
    ]
    [tag_rows] = [rows for sql, rows in upserts if "tags" in sql.split("(")[0]]
    assert len(tag_rows) == 2

    await asyncio.gather(*(store.write(op) for op in ops))
    assert await counters(store) == {
        ("", "accepted.outgoing", HOUR): 20,
        ("x", "accepted.outgoing", HOUR): 10,
        ("y", "accepted.outgoing", HOUR): 10,
    }


async def test_many_concurrent_accepts_sum_correctly(store: Store) -> None:
    await asyncio.gather(*(store.write(accept_op(i, tags=["t"], recipients=3)) for i in range(300)))
    assert await counters(store) == {
        ("", "accepted.outgoing", HOUR): 900,
        ("t", "accepted.outgoing", HOUR): 900,
    }


async def test_a_failing_accept_in_a_group_adds_no_counts(store: Store) -> None:
    """The group fails on a duplicate message and is re-run op by op: the failing op's
    increments must go with it, the others' must be counted exactly once."""
    ops = [accept_op(i, tags=["t"]) for i in (1, 2, 3)] + [accept_op(2, tags=["t"])]
    outcomes = await asyncio.gather(*(store.write(op) for op in ops), return_exceptions=True)
    assert sum(isinstance(o, Exception) for o in outcomes) == 1
    assert await counters(store) == {
        ("", "accepted.outgoing", HOUR): 3,
        ("t", "accepted.outgoing", HOUR): 3,
    }


def delivered(timestamp: float) -> dict[str, Any]:
    return event_row(FACTS, EventType.DELIVERED, "r@example.org", timestamp)


async def test_record_counts_in_the_callers_transaction(store: Store) -> None:
    await store.write(
        InsertRows(
            [],
            [
                (
                    TAGS_SEEN,
                    [
                        {
                            "domain": "example.com",
                            "tag": "promo",
                            "description": "",
                            "first_seen": 1.0,
                            "last_seen": 1.0,
                        }
                    ],
                )
            ],
        )
    )
    row = delivered(HOUR + 7)

    async def ok(conn: AsyncConnection) -> None:
        await record(conn, [row])

    await store.write(ok)
    expected = {("", "delivered.smtp", HOUR): 1, ("promo", "delivered.smtp", HOUR): 1}
    assert await counters(store) == expected

    # The same event again: its insert fails, and no counter moves.
    with pytest.raises(IntegrityError):
        await store.write(ok)

    # A failure after record() in the same transaction takes the counters back too.
    async def then_fail(conn: AsyncConnection) -> None:
        await record(conn, [delivered(HOUR + 8)])
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await store.write(then_fail)
    assert await counters(store) == expected
    assert await count_events(store) == 1


async def test_record_counts_no_deleted_tag(store: Store) -> None:
    """A message still in flight when its tag was deleted counts only under "" when it settles."""

    async def op(conn: AsyncConnection) -> None:
        failed = event_row(
            FACTS,
            EventType.FAILED,
            "r@example.org",
            HOUR + 1,
            severity="permanent",
            reason="suppress-bounce",
        )
        await record(conn, [failed])

    await store.write(op)
    assert await counters(store) == {
        ("", "failed.permanent.suppress-bounce", HOUR): 1,
        ("", "failed.permanent.total", HOUR): 1,
    }


async def test_delete_tag_removes_its_counters_only(store: Store) -> None:
    await store.write(accept_op(1, tags=["a", "b"]))

    async def op(conn: AsyncConnection) -> bool:
        return await queries.delete_tag(conn, "example.com", "a")

    assert await store.write(op) is True
    assert await store.write(op) is False
    assert set(await counters(store)) == {
        ("", "accepted.outgoing", HOUR),
        ("b", "accepted.outgoing", HOUR),
    }


async def test_apply_upserts_through_sqlalchemy(store: Store) -> None:
    """The same merging SQL runs on a SQLAlchemy connection (the record() path)."""
    rows = [
        {"domain": "d", "tag": "", "stat": "opened.total", "hour": HOUR, "count": 2},
        {"domain": "d", "tag": "", "stat": "opened.total", "hour": HOUR, "count": 5},
    ]

    async def op(conn: AsyncConnection) -> None:
        await queries.apply_upserts(conn, [(COUNTERS, rows)])

    await store.write(op)
    await store.write(op)
    assert await counters(store) == {("", "opened.total", HOUR): 14}
