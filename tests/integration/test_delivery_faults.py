"""Faulty destinations: an MX that answers DATA too slowly, or hangs up after RCPT, is a temporary
failure and the delivery waits for its retry; and a stuck destination does not hold up another
destination's deliveries. On both stores, against real sinks on loopback."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailwright.delivery.smtp_client import Timeouts
from mailwright.store import Store
from tests.integration.test_delivery_mx import events_of, mx_settings, sandbox_of, send
from tests.support.dns import LoopbackDNS
from tests.support.smtp import SmtpSink
from tests.support.wait import wait_until
from tests.support.workers import accepting, deliveries, delivery_worker

# slow.test's MX answers on ::1 and ok.test's on 127.0.0.1, on the same port (MAILWRIGHT_MX_PORT
# is one port for every MX): two destination sites with different behaviour.
ZONE = """
rcpt.test. 300 IN MX 10 mx.example.test.
mx.example.test. 300 IN A 127.0.0.1
slow.test. 300 IN MX 10 mx.slow.test.
mx.slow.test. 300 IN AAAA ::1
ok.test. 300 IN MX 10 mx.ok.test.
mx.ok.test. 300 IN A 127.0.0.1
"""
DATA_TIMEOUT = 0.5  # Timeouts.data_end: the wait for the reply to the message data


@pytest.fixture
def loopback_dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS(ZONE) as server:
        yield server


async def events_of_count(
    client: httpx.AsyncClient, domain: str, event: str, count: int
) -> Callable[[], Awaitable[list[dict[str, Any]]]]:
    """A probe for ``wait_until``: the events of one type, once there are ``count`` of them."""
    probe = await events_of(client, domain, event=event)

    async def enough() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await probe()
        return found if len(found) >= count else []

    return enough


@pytest.mark.parametrize(
    ("fault", "detail"),
    [
        ({"delay": 5 * DATA_TIMEOUT}, "timed out during end of data"),
        ({"disconnect_after": "RCPT"}, "connection closed by the server"),
    ],
    ids=["slow-data-reply", "disconnect-after-rcpt"],
)
async def test_faulty_destination_is_a_temporary_failure_kept_for_retry(
    tmp_path: Path,
    database_url: str,
    store: Store,
    loopback_dns: LoopbackDNS,
    fault: dict[str, Any],
    detail: str,
) -> None:
    with SmtpSink(**fault) as sink:
        settings = mx_settings(tmp_path, database_url, loopback_dns, sink.port)
        async with accepting(settings, store) as (services, client):
            domain = await sandbox_of(client)
            await send(client, domain, "alice@rcpt.test")
            worker = delivery_worker(settings, services, timeouts=Timeouts(data_end=DATA_TIMEOUT))
            worker.start()
            try:
                [failed] = await wait_until(await events_of(client, domain, event="failed"))
            finally:
                await worker.stop()
            [row] = await deliveries(store)
            key = failed["storage"]["key"]
            [attempt] = (await client.get(f"/mailwright/v1/messages/{key}/attempts")).json()[
                "items"
            ]
    assert sink.transactions == 1
    assert failed["severity"] == "temporary"
    assert failed["log-level"] == "warn"
    status = failed["delivery-status"]
    assert status["code"] == 421
    assert status["enhanced-code"] == "4.4.2"  # RFC 3463: bad connection
    assert detail in status["message"]
    assert status["retry-seconds"] >= 60
    assert status["mx-host"] == "mx.example.test"
    assert row["status"] == "queued"
    assert row["claimed_by"] is None
    assert row["due_at"] > time.time() + 60
    assert attempt["outcome"] == "temporary"
    assert "RCPT TO:<alice@rcpt.test>" in attempt["transcript"]


@contextlib.contextmanager
def two_sites() -> Iterator[tuple[SmtpSink, SmtpSink]]:
    """A healthy sink on 127.0.0.1 and a stuck one (DATA answered after 30 s) on ::1, one port."""
    with SmtpSink() as healthy, SmtpSink(host="::1", port=healthy.port, delay=30) as stuck:
        yield healthy, stuck


async def test_stuck_destination_does_not_hold_up_another(
    tmp_path: Path, database_url: str, store: Store, loopback_dns: LoopbackDNS
) -> None:
    stuck_timeout = 2.0
    with two_sites() as (healthy, stuck):
        # Three connections per site: the stuck site's are all taken.
        settings = mx_settings(
            tmp_path,
            database_url,
            loopback_dns,
            healthy.port,
            MAILWRIGHT_DESTINATION_CONCURRENCY="3",
        )
        async with accepting(settings, store) as (services, client):
            domain = await sandbox_of(client)
            worker = delivery_worker(settings, services, timeouts=Timeouts(data_end=stuck_timeout))
            worker.start()
            try:
                for i in range(3):
                    await send(client, domain, f"user{i}@slow.test")

                async def stuck_in_data() -> bool:
                    return stuck.transactions == 3

                await wait_until(stuck_in_data)
                for i in range(3):
                    await send(client, domain, f"user{i}@ok.test")
                await healthy.wait_for(3)
                delivered = await wait_until(await events_of_count(client, domain, "delivered", 3))
                rows = await deliveries(store)
                failed = await wait_until(await events_of_count(client, domain, "failed", 3))
            finally:
                await worker.stop()
    # ok.test was delivered and settled while slow.test was still waiting for its DATA reply.
    assert sorted(e["recipient"] for e in delivered) == [f"user{i}@ok.test" for i in range(3)]
    slow_rows = [r for r in rows if r["recipient_domain"] == "slow.test"]
    assert len(slow_rows) == 3
    assert all(r["status"] == "queued" and r["claimed_by"] is not None for r in slow_rows)
    # slow.test then timed out: temporary failures, left for a retry.
    assert sorted(e["recipient"] for e in failed) == [f"user{i}@slow.test" for i in range(3)]
    assert {e["severity"] for e in failed} == {"temporary"}


async def test_one_stuck_recipient_does_not_hold_up_the_rest_of_its_batch(
    tmp_path: Path, database_url: str, store: Store, loopback_dns: LoopbackDNS
) -> None:
    """One message to a stuck and a healthy site: claimed together, settled apart."""
    stuck_timeout = 3.0
    with two_sites() as (healthy, _stuck):
        settings = mx_settings(tmp_path, database_url, loopback_dns, healthy.port)
        async with accepting(settings, store) as (services, client):
            domain = await sandbox_of(client)
            await send(client, domain, "a@slow.test, b@ok.test")
            worker = delivery_worker(settings, services, timeouts=Timeouts(data_end=stuck_timeout))
            started = time.monotonic()
            worker.start()
            try:
                [delivered] = await wait_until(
                    await events_of_count(client, domain, "delivered", 1)
                )
                settled_after = time.monotonic() - started
                rows = {r["recipient"]: r for r in await deliveries(store)}
            finally:
                await worker.stop()
    assert delivered["recipient"] == "b@ok.test"
    assert settled_after < stuck_timeout  # not held until the stuck site times out
    assert rows["b@ok.test"]["status"] == "delivered"
    assert rows["a@slow.test"]["status"] == "queued"
