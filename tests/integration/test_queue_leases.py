"""Claims and leases of the delivery queue: a worker that dies mid-attempt leaves its deliveries
to the next worker once the lease runs out (not before), and two ``mailwright serve --role worker``
processes on one PostgreSQL database never deliver the same recipient twice."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import SAWarning

from mailwright.app import build_services
from mailwright.store import Store
from mailwright.store.sealing import generate_entry
from tests.conftest import API_KEY
from tests.e2e.conftest import Server, base_environment, free_port, mailwright_command
from tests.integration.test_delivery_mx import mx_settings, sandbox_of, send
from tests.support.dns import LoopbackDNS
from tests.support.smtp import SmtpSink
from tests.support.wait import wait_until
from tests.support.workers import accepting, attempts, deliveries, delivery_worker

ZONE = """
rcpt.test. 300 IN MX 10 mx.example.test.
mx.example.test. 300 IN A 127.0.0.1
"""
LEASE = 1.5


@pytest.fixture
def loopback_dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS(ZONE) as server:
        yield server


async def test_claims_of_a_crashed_worker_are_delivered_once_after_the_lease(
    tmp_path: Path, database_url: str, store: Store, loopback_dns: LoopbackDNS
) -> None:
    recipients = [f"user{i}@rcpt.test" for i in range(5)]
    # The destination is slow at first: the crashing worker's transactions hang in DATA.
    with SmtpSink(delay=1.0) as sink:
        settings = mx_settings(tmp_path, database_url, loopback_dns, sink.port)
        async with accepting(settings, store) as (services, client):
            domain = await sandbox_of(client)
            for rcpt in recipients:
                await send(client, domain, rcpt)

            # The doomed worker is another process: its own connections, caches and transport.
            doomed_store = Store.from_url(database_url, store.keyring)  # the same keys
            doomed = delivery_worker(settings, build_services(settings, doomed_store), lease=LEASE)
            before = asyncio.all_tasks()
            doomed.start()

            async def all_in_flight() -> bool:
                return sink.transactions == len(recipients)

            await wait_until(all_in_flight)
            # Crash: every task the worker started dies where it stands; nothing is released.
            # The SMTP client aborts its connections, as the kernel would for a dead process.
            crashed = asyncio.all_tasks() - before
            # Connections the cancelled tasks held are abandoned, as a dead process's are: the
            # pool's warning about them is expected here, and they are collected here rather
            # than during some later test.
            with warnings.catch_warnings():
                warnings.filterwarnings(
                    "ignore", "The garbage collector is trying to clean up", SAWarning
                )
                for task in crashed:
                    task.cancel()
                await asyncio.gather(*crashed, return_exceptions=True)
                await doomed_store.close()  # its connections go, as with a dead process
                del crashed, doomed
                gc.collect()

            claimed = await deliveries(store)
            owners = {(d["status"], d["claimed_by"], d["claimed_until"]) for d in claimed}
            assert len(claimed) == len(recipients)
            [(status, owner, until)] = owners
            assert status == "queued"
            assert owner is not None
            assert isinstance(until, float)
            assert until > time.time()  # still leased: the next worker has to wait for it

            sink.delay = 0  # the destination recovers
            survivor = delivery_worker(settings, services)
            survivor.start()
            try:

                async def all_delivered() -> bool:
                    rows = await deliveries(store)
                    return all(d["status"] == "delivered" for d in rows)

                await wait_until(all_delivered)
            finally:
                await survivor.stop()
            settled = await deliveries(store)
            tried = await attempts(store)

    received = Counter(rcpt for m in sink.messages for rcpt in m.rcpt_tos)
    assert received == Counter(recipients)  # each exactly once
    assert {d["attempts"] for d in settled} == {2}  # the dead worker's claim, then the survivor's
    assert {d["claimed_by"] for d in settled} == {None}
    # The crashed worker settled nothing; the survivor's attempts began after the lease ran out,
    # although it was polling the whole time.
    assert len(tried) == len(recipients)
    assert {a["outcome"] for a in tried} == {"delivered"}
    assert {a["attempt_no"] for a in tried} == {2}
    assert min(a["started_at"] for a in tried) >= until


Serve = Callable[..., Server]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start ``mailwright serve --role ROLE`` with the given settings; all are stopped at teardown.

    Like ``start_server`` in ``tests/e2e/conftest.py``, but a worker has no HTTP port to probe.
    """
    servers: list[Server] = []

    def start(role: str, **settings: str) -> Server:
        name = f"{role}-{len(servers)}"
        data_dir = tmp_path / name
        data_dir.mkdir()
        port = free_port()
        env = base_environment(data_dir, MAILWRIGHT_HTTP_ADDR=f"127.0.0.1:{port}", **settings)
        stdout_path, stderr_path = tmp_path / f"{name}.stdout", tmp_path / f"{name}.stderr"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            process = subprocess.Popen(
                [*mailwright_command(), "serve", "--role", role], env=env, stdout=out, stderr=err
            )
        server = Server(
            f"http://127.0.0.1:{port}", data_dir, env, process, stdout_path, stderr_path
        )
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
        # pytest shows captured output only for failing tests: the servers' logs explain them
        sys.stderr.write(f"mailwright serve {server.data_dir.name}\n{server.output()}\n")


def settled_by(server: Server) -> int:
    """Deliveries a worker process settled, from its JSON log (``deliveries_settled``)."""
    lines = server.stderr_path.read_text(errors="replace").splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    return sum(r["count"] for r in records if r.get("event") == "deliveries_settled")


async def wait_healthy(server: Server, client: httpx.AsyncClient) -> None:
    async def healthy() -> bool:
        assert server.process.poll() is None, server.output()
        try:
            return (await client.get("/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await wait_until(healthy, within=20, interval=0.05)


async def send_all(client: httpx.AsyncClient, domain: str, recipients: list[str]) -> None:
    """One message per recipient, eight requests at a time."""
    gate = asyncio.Semaphore(8)

    async def send_one(rcpt: str) -> None:
        async with gate:
            await send(client, domain, rcpt)

    await asyncio.gather(*(send_one(rcpt) for rcpt in recipients))


async def wait_all_delivered(store: Store, count: int) -> list[dict[str, Any]]:
    async def all_delivered() -> list[dict[str, Any]]:
        rows = await deliveries(store)
        done = len(rows) == count and all(d["status"] == "delivered" for d in rows)
        return rows if done else []

    return await wait_until(all_delivered, within=30)


@pytest.mark.e2e
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_worker_processes_deliver_each_recipient_once(
    database_url: str, store: Store, loopback_dns: LoopbackDNS, serve: Serve
) -> None:
    # Each worker process sends to its own sink (MAILWRIGHT_MX_PORT), so the sink that received
    # a message names the process that delivered it.
    with SmtpSink() as first_sink, SmtpSink() as second_sink:
        common = {
            "MAILWRIGHT_DATABASE_URL": database_url,
            "MAILWRIGHT_API_KEY": API_KEY,
            "MAILWRIGHT_DELIVERY": "mx",
            "MAILWRIGHT_DNS_SERVER": loopback_dns.nameserver,
            "MAILWRIGHT_SECRET_KEYS": generate_entry(),  # each process has its own data dir
        }
        api = serve("api", **common)
        async with httpx.AsyncClient(
            base_url=api.base_url, auth=("api", API_KEY), timeout=10
        ) as client:
            await wait_healthy(api, client)
            workers = [
                serve("worker", **common, MAILWRIGHT_MX_PORT=str(sink.port))
                for sink in (first_sink, second_sink)
            ]
            domain = await sandbox_of(client)

            # One message at a time until each worker has delivered one: both are polling.
            warmups: list[str] = []

            async def both_polling() -> bool:
                for worker in workers:
                    assert worker.process.poll() is None, worker.output()
                warmups.append(f"warmup{len(warmups)}@rcpt.test")
                await send(client, domain, warmups[-1])
                return bool(first_sink.messages and second_sink.messages)

            await wait_until(both_polling, within=20, interval=0.2)
            bulk = [f"user{i}@rcpt.test" for i in range(300)]
            await send_all(client, domain, bulk)
            settled = await wait_all_delivered(store, len(warmups) + len(bulk))
        tried = await attempts(store)
        for worker in workers:
            worker.stop()

    received = [rcpt for m in [*first_sink.messages, *second_sink.messages] for rcpt in m.rcpt_tos]
    assert Counter(received) == Counter(warmups + bulk)  # every recipient exactly once
    assert {d["attempts"] for d in settled} == {1}  # no delivery was ever claimed twice
    assert len(tried) == len(settled)
    # Both processes took part in the bulk, and each one's log agrees with its sink.
    for sink, worker in zip((first_sink, second_sink), workers, strict=True):
        share = [rcpt for m in sink.messages for rcpt in m.rcpt_tos]
        assert set(share) & set(bulk)
        assert settled_by(worker) == len(share)


async def test_a_batch_longer_than_the_lease_is_sent_once(
    tmp_path: Path, database_url: str, store: Store, loopback_dns: LoopbackDNS
) -> None:
    """The worker renews its leases while a rate-limited batch takes longer than one lease."""
    recipients = [f"user{i}@rcpt.test" for i in range(6)]
    with SmtpSink() as sink:
        settings = mx_settings(
            tmp_path, database_url, loopback_dns, sink.port, MAILWRIGHT_DESTINATION_RATE="2/s"
        )
        async with accepting(settings, store) as (services, client):
            domain = await sandbox_of(client)
            for rcpt in recipients:
                await send(client, domain, rcpt)
            # Two workers poll the queue: the second would take any claim whose lease ran out.
            first = delivery_worker(settings, services, lease=1.0)
            second = delivery_worker(settings, services, lease=1.0)
            first.start()

            async def first_holds_everything() -> bool:
                rows = await deliveries(store)
                return all(d["claimed_by"] == first.name or d["status"] != "queued" for d in rows)

            await wait_until(first_holds_everything)
            second.start()
            try:

                async def all_delivered() -> bool:
                    rows = await deliveries(store)
                    return all(d["status"] == "delivered" for d in rows)

                await wait_until(all_delivered)

                async def both_idle() -> bool:
                    # A duplicate would be a second claim still being attempted somewhere.
                    return first.in_flight == 0 and second.in_flight == 0

                await wait_until(both_idle)
            finally:
                await first.stop()
                await second.stop()
            tried = await attempts(store)
            response = await client.get(f"/v3/{domain}/events", params={"event": "delivered"})
    received = Counter(rcpt for m in sink.messages for rcpt in m.rcpt_tos)
    assert received == Counter(recipients)  # each exactly once, though it took about 3 leases
    assert len(tried) == len(recipients)
    delivered = Counter(e["recipient"] for e in response.json()["items"])
    assert delivered == Counter(recipients)
