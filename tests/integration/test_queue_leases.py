"""Claims and leases of the delivery queue: a worker that dies mid-attempt leaves its deliveries
to the next worker once the lease runs out (not before), and two ``mailwright serve --role worker``
processes on one PostgreSQL database never deliver the same recipient twice."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import SAWarning

from mailwright.app import build_services
from mailwright.delivery import WorkerConfig
from mailwright.store import Store
from mailwright.store.sealing import generate_entry
from tests.conftest import API_KEY
from tests.e2e.conftest import Server, base_environment, free_port, mailwright_command
from tests.integration.test_delivery_mx import mx_settings, sandbox_of, send
from tests.support.dns import LoopbackDNS
from tests.support.smtp import Script, SmtpSink
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


def most_held_by_one_worker() -> int:
    """Deliveries to one domain a worker can hold in flight at once: it claims again (up to
    ``batch`` at a time) while it has fewer than ``per_domain_in_flight`` of that domain's in
    progress, and never more than ``max_in_flight`` in all (``WorkerConfig``'s defaults, which
    ``serve --role worker`` runs with)."""
    default = {f.name: f.default for f in fields(WorkerConfig) if isinstance(f.default, int)}
    batch, per_domain, most = (
        default[name] for name in ("batch", "per_domain_in_flight", "max_in_flight")
    )
    return min(per_domain - 1 + batch, most)


class Rendezvous:
    """Scripts for SMTP sinks that hold each sink's first transaction at RCPT until every sink
    has one: whichever worker process delivers first keeps its claims in flight, settling
    nothing, until the other has claimed deliveries too and begun delivering them.

    A sink calls its ``script`` in the sink's own event loop thread, so waiting there holds
    every transaction of that sink, which is the point. ``release`` lets blocked sinks go
    (a failing test must not leave a sink's thread waiting); ``met`` says whether every sink
    really arrived.
    """

    def __init__(self, parties: int, *, within: float) -> None:
        self._parties = parties
        self._within = within
        self._lock = threading.Lock()
        self._arrived: set[int] = set()
        self._open = threading.Event()
        self.met = False

    def script(self, party: int) -> Script:
        def arrive(rcpt: str) -> None:
            with self._lock:
                self._arrived.add(party)
                if len(self._arrived) == self._parties:
                    self.met = True
                    self._open.set()
            self._open.wait(self._within)  # returns at once after the rendezvous

        return arrive

    def release(self) -> None:
        self._open.set()


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
    # One more than a worker process can hold at once: the first one to claim cannot take all.
    bulk = [f"user{i}@rcpt.test" for i in range(most_held_by_one_worker() + 1)]
    # Each worker process sends to its own sink (MAILWRIGHT_MX_PORT), so the sink that received
    # a message names the process that delivered it. Neither sink takes a message before both
    # have a transaction under way: the process that claims first holds its claims meanwhile,
    # and the other has to claim from the rest of the queue beside it.
    rendezvous = Rendezvous(2, within=60)
    with (
        SmtpSink(script=rendezvous.script(0)) as first_sink,
        SmtpSink(script=rendezvous.script(1)) as second_sink,
    ):
        try:
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
                await send_all(client, domain, bulk)

                async def both_delivering() -> bool:
                    for worker in workers:
                        assert worker.process.poll() is None, worker.output()
                    return rendezvous.met

                # Fails if one process never claims anything while the other holds its claims.
                await wait_until(both_delivering, within=45, interval=0.05)
                settled = await wait_all_delivered(store, len(bulk))
        finally:
            rendezvous.release()
        tried = await attempts(store)
        for worker in workers:
            worker.stop()

    received = [rcpt for m in [*first_sink.messages, *second_sink.messages] for rcpt in m.rcpt_tos]
    assert Counter(received) == Counter(bulk)  # every recipient exactly once
    assert {d["attempts"] for d in settled} == {1}  # no delivery was ever claimed twice
    assert len(tried) == len(settled)
    # Both processes delivered, and each one's log agrees with its sink.
    for sink, worker in zip((first_sink, second_sink), workers, strict=True):
        share = [rcpt for m in sink.messages for rcpt in m.rcpt_tos]
        assert share
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
