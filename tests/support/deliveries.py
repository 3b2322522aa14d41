"""Queued deliveries written straight into the store, for queue health tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from mailwright.store import Store, schema

NOW = 1_800_000_000.0


def delivery(n: int, domain: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "message_key": "m1",
        "domain": "sender.test",
        "recipient": f"r{n}@{domain}",
        "recipient_index": n,
        "status": "queued",
        "recipient_domain": domain,
        "due_at": NOW - 1,
        "attempts": 0,
        "created_at": NOW - 10,
        "updated_at": NOW - 10,
        "last_code": None,
        "last_message": None,
    }
    return row | values


async def fill(store: Store, rows: list[dict[str, Any]]) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(schema.messages),
            [
                {
                    "id": "m1",
                    "domain": "sender.test",
                    "message_id": "m1@sender.test",
                    "sender": "a@sender.test",
                    "subject": "s",
                    "spec": "{}",
                    "recipients": "[]",
                    "size": 1,
                    "method": "http",
                    "is_test_mode": False,
                    "created_at": NOW - 100,
                    "expires_at": NOW + 1000,
                }
            ],
        )
        await conn.execute(insert(schema.deliveries), rows)
