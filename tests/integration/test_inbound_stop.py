"""Stopping the inbound processor lets the messages in hand finish, begins no others, and
leaves nothing claimed: a message cut off half-way would run its routes twice. Both stores."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import select

from mailwright.inbound import InboundWorker, ProcessorConfig
from mailwright.store import InsertRows, Store, schema
from tests.support.wait import wait_until


def _row(n: int, now: float) -> dict[str, Any]:
    return {
        "received_at": now,
        "peer": "127.0.0.1",
        "helo": "client.test",
        "mail_from": f"s{n}@client.test",
        "recipients": '["in@ours.test"]',
        "size": 1,
        "raw": b"x",
        "status": "queued",
        "due_at": now,
        "attempts": 0,
        "claimed_by": None,
        "claimed_until": None,
        "updated_at": now,
        "outcome": None,
    }


async def _rows(store: Store) -> list[dict[str, Any]]:
    async with store.read() as conn:
        result = await conn.execute(select(schema.inbound_messages))
        return [dict(r._mapping) for r in result]


async def test_stop_finishes_messages_in_hand_and_releases_the_rest(store: Store) -> None:
    now = time.time()
    await store.write(InsertRows([(schema.inbound_messages, [_row(n, now) for n in range(6)])]))
    started: list[str] = []
    finish = asyncio.Event()

    async def handle(row: dict[str, Any]) -> dict[str, Any]:
        started.append(row["mail_from"])
        await finish.wait()
        return {"handled": True}

    worker = InboundWorker(store, ProcessorConfig(concurrency=2), handle)
    worker.start()

    async def two_in_hand() -> bool:
        return len(started) == 2

    await wait_until(two_in_hand)
    stopping = asyncio.create_task(worker.stop())
    await asyncio.sleep(0)  # stop() has begun; the two in hand have not finished
    finish.set()
    await stopping

    rows = await _rows(store)
    assert len(started) == 2  # none begun after stop()
    done = [r for r in rows if r["status"] == "done"]
    assert sorted(r["mail_from"] for r in done) == sorted(started)
    assert [r["status"] for r in rows if r not in done] == ["queued"] * 4
    assert {r["claimed_by"] for r in rows} == {None}
