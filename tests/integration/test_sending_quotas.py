"""Sending quotas per domain: deliveries over a domain's hourly quota stay queued, due when the
next hour opens, and are delivered then; nothing is dropped. The worker's clock is injected."""

from __future__ import annotations

import time
from dataclasses import replace
from email.utils import formatdate

from mailwright.api import Services
from mailwright.app import worker_config
from mailwright.config import Settings
from mailwright.delivery import CaptureTransport, DeliveryWorker
from mailwright.store import Store
from tests.integration.test_delivery_mx import sandbox_of, send
from tests.support.wait import wait_until
from tests.support.workers import accepting, deliveries


def capture_worker(
    settings: Settings, services: Services, clock: list[float], batch: int = 200
) -> DeliveryWorker:
    config = replace(worker_config(settings, services.retention), idle_poll=0.05, batch=batch)
    return DeliveryWorker(
        services.store, config, CaptureTransport(), services.domains, clock=lambda: clock[0]
    )


async def test_quota_endpoint_sets_and_clears_limits(settings: Settings, store: Store) -> None:
    async with accepting(settings, store) as (_, client):
        domain = await sandbox_of(client)
        url = f"/mailwright/v1/domains/{domain}/limits"
        assert (await client.get(url)).json() == {
            "domain": domain,
            "hourly": None,
            "daily": None,
            "used": {"hour": 0, "day": 0},
        }
        response = await client.put(url, data={"hourly": "10", "daily": "100"})
        assert response.status_code == 200
        assert response.json()["hourly"] == 10
        assert (await client.put(url, data={"hourly": "0"})).json()["daily"] == 100
        assert (await client.get(url)).json()["hourly"] is None
        bad = await client.put(url, data={"daily": "-1"})
        assert bad.status_code == 400
        assert "daily" in bad.json()["message"]
        missing = await client.get("/mailwright/v1/domains/nope.example.com/limits")
        assert missing.status_code == 404


async def test_messages_over_the_hourly_quota_are_held_until_the_next_hour(
    settings: Settings, store: Store
) -> None:
    async with accepting(settings, store) as (services, client):
        domain = await sandbox_of(client)
        limits = f"/mailwright/v1/domains/{domain}/limits"
        clock = [time.time()]
        next_hour = clock[0] // 3600 * 3600 + 3600
        services.clock = lambda: clock[0]  # the API reports usage on the worker's clock
        assert (await client.put(limits, data={"hourly": "3"})).status_code == 200
        for i in range(5):
            await send(client, domain, f"user{i}@example.com")
        clock[0] += 1
        worker = capture_worker(settings, services, clock)
        worker.start()
        try:

            async def three_sent_two_held() -> bool:
                rows = await deliveries(store)
                return [d["status"] for d in rows].count("delivered") == 3 and all(
                    d["due_at"] == next_hour for d in rows if d["status"] == "queued"
                )

            await wait_until(three_sent_two_held)
            held = [d for d in await deliveries(store) if d["status"] == "queued"]
            assert len(held) == 2
            assert {(d["attempts"], d["claimed_by"]) for d in held} == {(0, None)}
            usage = (await client.get(limits)).json()["used"]
            assert usage == {"hour": 3, "day": 3}
            # Mailgun's queue state says why, and until when.
            queues = (await client.get(f"/v3/domains/{domain}/sending_queues")).json()
            held_until = {
                "is_disabled": True,
                "disabled": {
                    "until": formatdate(next_hour, usegmt=True),
                    "reason": "sending quota reached: 3 messages per hour",
                },
            }
            assert queues == {"regular": held_until, "scheduled": held_until}

            clock[0] = next_hour + 1  # the next hour opens
            queues = (await client.get(f"/v3/domains/{domain}/sending_queues")).json()
            assert queues["regular"] == {
                "is_disabled": False,
                "disabled": {"until": "", "reason": ""},
            }
            worker.kick()

            async def all_delivered() -> bool:
                rows = await deliveries(store)
                return [d["status"] for d in rows] == ["delivered"] * 5

            await wait_until(all_delivered)
        finally:
            await worker.stop()
    assert {d["attempts"] for d in await deliveries(store)} == {1}


async def test_two_workers_on_two_connections_share_a_quota(
    settings: Settings, store: Store, database_url: str
) -> None:
    """Two worker processes (each its own Store) claim at once; the quota rows are locked in
    the claim transaction, so together they send exactly the quota."""
    other = Store.from_url(database_url, store.keyring)  # processes share the keys
    async with accepting(settings, store) as (services, client):
        domain = await sandbox_of(client)
        clock = [time.time()]
        services.clock = lambda: clock[0]
        await client.put(f"/mailwright/v1/domains/{domain}/limits", data={"daily": "4"})
        for i in range(12):
            await send(client, domain, f"user{i}@example.com")
        clock[0] += 1
        next_day = clock[0] // 86400 * 86400 + 86400
        workers = [
            # Small batches: both workers keep claiming for the same domain at once.
            capture_worker(settings, services, clock, batch=3),
            capture_worker(settings, replace(services, store=other), clock, batch=3),
        ]
        for worker in workers:
            worker.start()
        try:

            async def four_sent_rest_held() -> bool:
                rows = await deliveries(store)
                queued = [d for d in rows if d["status"] == "queued"]
                return len(queued) == 8 and all(
                    d["due_at"] == next_day and d["claimed_by"] is None for d in queued
                )

            await wait_until(four_sent_rest_held)
        finally:
            for worker in workers:
                await worker.stop()
            await other.close()
    statuses = [d["status"] for d in await deliveries(store)]
    assert statuses.count("delivered") == 4
