"""Queue health per destination and the backlogs, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import insert

from mailwright.delivery import (
    destination_health,
    is_queue_readable,
    queue_health,
    settled_last_day,
)
from mailwright.inbound import received_backlog
from mailwright.store import Store, schema
from mailwright.webhooks import outbox_backlog
from tests.support.deliveries import NOW, delivery, fill


async def test_destinations_are_counted_and_ordered_by_size(store: Store) -> None:
    rows = [
        # big.test: 3 queued (one deferred twice, one scheduled later), plus settled ones.
        delivery(1, "big.test", created_at=NOW - 500),
        delivery(
            2,
            "big.test",
            attempts=2,
            updated_at=NOW - 50,
            last_code=421,
            last_message="4.7.0 try later (old)",
        ),
        delivery(
            3,
            "big.test",
            attempts=1,
            due_at=NOW + 600,
            updated_at=NOW - 5,
            last_code=451,
            last_message="4.3.0 greylisted",
        ),
        delivery(4, "big.test", status="delivered", created_at=NOW - 9000),
        delivery(5, "big.test", status="failed", attempts=1, last_code=550),
        # small.test: 1 queued, never tried.
        delivery(6, "small.test", created_at=NOW - 20),
        # done.test: nothing queued any more.
        delivery(7, "done.test", status="delivered"),
    ]
    await fill(store, rows)

    found = await destination_health(store, NOW)

    assert [d.destination for d in found] == ["big.test", "small.test"]
    big, small = found
    assert (big.queued, big.due, big.deferred) == (3, 2, 2)
    assert big.oldest_created_at == NOW - 500
    assert big.oldest_age == 500
    assert (big.last_code, big.last_message) == (451, "4.3.0 greylisted")
    assert (small.queued, small.due, small.deferred, small.oldest_age) == (1, 1, 0, 20)
    assert (small.last_code, small.last_message) == (None, "")

    assert [d.destination for d in await destination_health(store, NOW, limit=1)] == ["big.test"]
    # The totals count every destination, also those past the limit.
    backlog = (await queue_health(store, NOW, limit=1)).deliveries
    assert (backlog.queued, backlog.deferred, backlog.oldest_at) == (4, 2, NOW - 500)


async def test_an_empty_store_has_no_destinations_and_empty_backlogs(store: Store) -> None:
    assert await destination_health(store, NOW) == []
    for backlog in (
        (await queue_health(store, NOW)).deliveries,
        await outbox_backlog(store),
        await received_backlog(store),
    ):
        assert (backlog.queued, backlog.deferred, backlog.oldest_at) == (0, 0, None)
    assert await settled_last_day(store, NOW) == {"delivered": 0, "failed": 0}
    assert await is_queue_readable(store)


async def test_webhook_and_inbound_backlogs(store: Store) -> None:
    outbox = {
        "event_id": "e",
        "domain": "sender.test",
        "kind": "delivered",
        "url": "http://127.0.0.1:9/",
        "endpoint": "http://127.0.0.1:9",
        "payload": "{}",
        "attempts": 0,
        "created_at": NOW,
        "updated_at": NOW,
    }
    received = {
        "peer": "127.0.0.1",
        "helo": "h",
        "mail_from": "",
        "recipients": "[]",
        "size": 1,
        "raw": b"x",
        "attempts": 0,
        "updated_at": NOW,
    }
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(schema.webhook_outbox),
            [
                outbox | {"status": "queued", "due_at": NOW - 30, "attempts": 1},
                outbox | {"status": "queued", "due_at": NOW + 30},
                outbox | {"status": "delivered", "due_at": NOW - 900},
            ],
        )
        await conn.execute(
            insert(schema.inbound_messages),
            [
                received | {"status": "queued", "due_at": NOW, "received_at": NOW - 7},
                received | {"status": "done", "due_at": NOW, "received_at": NOW - 70},
            ],
        )
        await conn.execute(
            insert(schema.stat_counters),
            [
                {"domain": "a.test", "tag": "", "stat": "delivered.smtp", "hour": 0, "count": 9},
                {
                    "domain": "a.test",
                    "tag": "",
                    "stat": "delivered.smtp",
                    "hour": int(NOW // 3600) * 3600,
                    "count": 5,
                },
                {
                    "domain": "b.test",
                    "tag": "",
                    "stat": "failed.permanent.total",
                    "hour": int(NOW // 3600) * 3600 - 3600,
                    "count": 2,
                },
                {
                    "domain": "b.test",
                    "tag": "x",
                    "stat": "failed.permanent.total",
                    "hour": int(NOW // 3600) * 3600,
                    "count": 2,
                },
            ],
        )
    webhooks = await outbox_backlog(store)
    assert (webhooks.queued, webhooks.deferred, webhooks.oldest_at) == (2, 1, NOW - 30)
    inbound = await received_backlog(store)
    assert (inbound.queued, inbound.oldest_at) == (1, NOW - 7)
    assert await settled_last_day(store, NOW) == {"delivered": 5, "failed": 2}


async def test_the_pool_reports_its_size(store: Store) -> None:
    size, checked_out = store.pool_usage()
    assert size > 0
    async with store.read():
        assert store.pool_usage()[1] == checked_out + 1
