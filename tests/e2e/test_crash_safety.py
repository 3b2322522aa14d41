"""Crash safety of a scaled-out fleet, and a graceful stop on SIGTERM.

The fleet is what a scaled-out deployment runs: ``mailwright serve --role api`` and
``serve --role worker`` processes sharing one fresh PostgreSQL database, delivering over SMTP
(``MAILWRIGHT_DELIVERY=mx``) to a loopback sink that a loopback DNS server names as the MX of
``rcpt.test``, and posting ``delivered`` webhooks to a threaded HTTP receiver in this process.

``test_nothing_accepted_is_lost_when_processes_are_killed`` (slow: about a minute; marked
``slow``) sends 5,000 messages while API and worker processes are SIGKILLed at random moments
(``CRASH_SEED`` picks the seed) and started again, then proves that every message answered 200
reached the sink, counts exactly-once and duplicates, and prints one summary line (run with
``-s`` to see it)::

    crash-safety: seed=... accepted=... delivered=... exactly_once=... duplicates=... lost=0 ...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import API_KEY
from tests.e2e.conftest import (
    SANDBOX_LINE,
    base_environment,
    free_port,
    mailwright_command,
    run_cli,
)
from tests.support.dns import LoopbackDNS
from tests.support.smtp import SmtpSink
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e

ZONE = """
rcpt.test. 300 IN MX 10 mx.example.test.
mx.example.test. 300 IN A 127.0.0.1
"""

MESSAGES = 5000
CLIENTS = 6
REJECT_EVERY = 50  # every 50th message has an invalid From: a definite 400
LEASE = 20.0  # MAILWRIGHT_CLAIM_LEASE: a killed worker's claims are taken over after this
SETTLE_WINDOW = 10.0  # a duplicate's first copy arrived at most this long before a worker died
START_TIMEOUT = 30.0
STOP_TIMEOUT = 45.0  # a worker's grace for in-flight transactions is 30 s
SLOW_DATA = 2.0  # seconds the slow sink takes to answer DATA
CONCURRENCY = 10  # MAILWRIGHT_DESTINATION_CONCURRENCY: SMTP transactions at once per worker
# What one killed worker can send twice: its transactions (POSTs) in flight plus the outcomes
# waiting for its next settle write, so it grows with throughput; 5-25 per kill seen on a 2-core
# machine. Checked loosely (a claim batch); the proof is that each second copy follows a kill.
COPIES_PER_KILL = 200


class HookReceiver:
    """Webhook POSTs recorded as (event id, recipient, arrival time); a threaded HTTP server,
    since the sink and the fleet are not on this test's event loop either."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrivals: list[tuple[str, str, float]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    event = json.loads(body)["event-data"]
                except ValueError:  # cut short: its worker was killed mid-POST
                    return
                receiver._record(event["id"], event["recipient"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    @property
    def arrivals(self) -> list[tuple[str, str, float]]:
        with self._lock:
            return list(self._arrivals)

    def _record(self, event_id: str, recipient: str) -> None:
        with self._lock:
            self._arrivals.append((event_id, recipient, time.monotonic()))

    def __enter__(self) -> HookReceiver:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Member:
    """One ``mailwright serve --role ROLE`` process of the fleet, started again as often as
    it is killed; its output (all starts) goes to one log file."""

    name: str
    role: str
    env: dict[str, str]
    log: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    started_at: int = 0  # where the last start's output begins in the log file

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.started_at = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*mailwright_command(), "serve", "--role", self.role],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)

    def terminate(self) -> int:
        """SIGTERM and wait: the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_TIMEOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Fleet:
    tmp_path: Path
    settings: dict[str, str]
    members: list[Member] = field(default_factory=list)

    def add(self, role: str) -> Member:
        name = f"{role}{sum(m.role == role for m in self.members)}"
        port = free_port()
        env = base_environment(
            self.tmp_path / "data", MAILWRIGHT_HTTP_ADDR=f"127.0.0.1:{port}", **self.settings
        )
        member = Member(name, role, env, self.tmp_path / f"{name}.log", port)
        self.members.append(member)
        member.start()
        return member

    def stop(self) -> dict[str, int]:
        codes: dict[str, int] = {}
        for member in self.members:
            if member.process is not None and member.process.poll() is None:
                member.process.send_signal(signal.SIGTERM)
        for member in self.members:
            if member.process is not None:
                try:  # one SIGTERM each, as a service manager sends
                    codes[member.name] = member.process.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    member.kill()
                    codes[member.name] = -9
        return codes

    def output(self) -> str:
        return "\n".join(f"--- {m.name} ---\n{m.output()[-20000:]}" for m in self.members)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


STARTED = re.compile(rb'"event":\s*"started"')


async def _started(member: Member) -> None:
    """Its last start has got as far as handling signals: before that, a SIGTERM ends the
    process the default way (a service manager counts that as a clean stop too, but this test
    wants every member's own graceful exit)."""

    async def probe() -> bool:
        return STARTED.search(member.log.read_bytes()[member.started_at :]) is not None

    await wait_until(probe, within=START_TIMEOUT, interval=0.1)


async def _ready(member: Member) -> None:
    async def probe() -> bool:
        assert member.process is not None
        if member.process.poll() is not None:
            raise AssertionError(f"{member.name} exited\n{member.output()}")
        return await asyncio.to_thread(_healthy, member.url)

    await wait_until(probe, within=START_TIMEOUT, interval=0.1)


def _sandbox(member: Member) -> str:
    for line in member.output().splitlines():
        if line.startswith(SANDBOX_LINE):
            return line[len(SANDBOX_LINE) :].strip()
    raise AssertionError(f"no sandbox domain printed\n{member.output()}")


def _settings(database_url: str, dns: LoopbackDNS, sink: SmtpSink, **extra: str) -> dict[str, str]:
    return {
        "MAILWRIGHT_DATABASE_URL": database_url,
        "MAILWRIGHT_API_KEY": API_KEY,
        "MAILWRIGHT_DELIVERY": "mx",
        "MAILWRIGHT_DNS_SERVER": dns.nameserver,
        "MAILWRIGHT_MX_PORT": str(sink.port),
        "MAILWRIGHT_ALLOW_PRIVATE_URLS": "true",
        "MAILWRIGHT_WORKER_PROCESSES": "0",
        "MAILWRIGHT_WEBHOOK_RETRY_SCHEDULE": "1s;max=1s;give_up=10m",
        "MAILWRIGHT_RETRY_SCHEDULE": "1s;max=1s;give_up=10m",
        "MAILWRIGHT_DESTINATION_CONCURRENCY": str(CONCURRENCY),
        **extra,
    }


async def _start_fleet(
    fleet: Fleet, apis: int, workers: int, hook_url: str
) -> tuple[str, list[Member]]:
    """Migrate, start the first API alone (it creates the sandbox), then the others; set the
    ``delivered`` webhook. Returns the sandbox domain and the API members."""
    migrated = await asyncio.to_thread(
        run_cli, "migrate", env=base_environment(fleet.tmp_path / "data", **fleet.settings)
    )
    assert migrated.returncode == 0, migrated.stderr
    first = fleet.add("api")
    await _ready(first)
    sandbox = _sandbox(first)
    api = [first] + [fleet.add("api") for _ in range(apis - 1)]
    for _ in range(workers):
        fleet.add("worker")
    for member in api[1:]:
        await _ready(member)
    async with httpx.AsyncClient(auth=("api", API_KEY)) as http:
        response = await http.post(
            f"{first.url}/v3/domains/{sandbox}/webhooks", data={"id": "delivered", "url": hook_url}
        )
        assert response.status_code == 200, response.text
    return sandbox, api


def _form(sandbox: str, n: int) -> dict[str, str]:
    sender = "not an address" if n % REJECT_EVERY == 0 else f"crash@{sandbox}"
    return {
        "from": sender,
        "to": f"u{n}@rcpt.test",
        "subject": f"crash {n}",
        "text": f"message {n}",
        "v:crash-id": str(n),
    }


def _number(recipient: str) -> int:
    return int(recipient.split("@")[0][1:])


@dataclass
class Answers:
    """Each message number by what the API told its client."""

    accepted: set[int] = field(default_factory=set)  # 200
    rejected: set[int] = field(default_factory=set)  # 4xx: definitely not accepted
    unknown: set[int] = field(default_factory=set)  # cut off mid-request, or 5xx: either way


async def _submit(
    http: httpx.AsyncClient,
    apis: list[Member],
    sandbox: str,
    n: int,
    rng: random.Random,
    answers: Answers,
) -> None:
    deadline = time.monotonic() + 60
    while True:
        api = rng.choice(apis)
        try:
            response = await http.post(f"{api.url}/v3/{sandbox}/messages", data=_form(sandbox, n))
        except (httpx.ConnectError, httpx.ConnectTimeout):
            # Never reached a server (it is down or starting again): another try is safe.
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
            continue
        except httpx.TransportError:
            answers.unknown.add(n)  # the server died with the request in it: maybe committed
            return
        if response.status_code == 200:
            answers.accepted.add(n)
        elif 400 <= response.status_code < 500:
            answers.rejected.add(n)
        else:
            answers.unknown.add(n)
        return


async def _send_all(
    apis: list[Member], sandbox: str, numbers: list[int], rng: random.Random, answers: Answers
) -> None:
    async def client(seed: int) -> None:
        own = random.Random(seed)
        async with httpx.AsyncClient(auth=("api", API_KEY), timeout=30) as http:
            while numbers:
                await _submit(http, apis, sandbox, numbers.pop(), own, answers)

    await asyncio.gather(*(client(rng.randrange(2**32)) for _ in range(CLIENTS)))


async def _chaos(
    fleet: Fleet, rng: random.Random, stop: asyncio.Event, kills: list[tuple[str, float]]
) -> None:
    """Every 0.5-2 s, SIGKILL a random member and start it again at once. A killed API is
    back before the next kill, so clients always have one to talk to."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=rng.uniform(0.5, 2.0))
            return
        except TimeoutError:
            pass
        victim = rng.choice(fleet.members)
        await asyncio.to_thread(victim.kill)
        kills.append((victim.role, time.monotonic()))
        victim.start()
        if victim.role == "api":
            await _ready(victim)


async def _progress(answers: Answers, sink: SmtpSink, kills: list[tuple[str, float]]) -> None:
    """A line every 5 s on stderr: pytest shows it when the test fails (or times out)."""
    started = time.monotonic()
    never = asyncio.Event()  # a ticker: cancelled by the test, it waits on nothing else
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(never.wait(), timeout=5)
        answered = len(answers.accepted) + len(answers.rejected) + len(answers.unknown)
        sys.stderr.write(
            f"progress {time.monotonic() - started:.0f}s: answered={answered} "
            f"sink={len(sink.messages)} kills={len(kills)}\n"
        )


async def _queued(url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM deliveries WHERE status = 'queued') AS deliveries,"
            " (SELECT count(*) FROM webhook_outbox WHERE status = 'queued') AS webhooks"
        )
    finally:
        await conn.close()
    assert row is not None
    return int(row["deliveries"]), int(row["webhooks"])


async def _claimed(url: str) -> dict[str, int]:
    """Rows still claimed by some worker, per queue table."""
    conn = await asyncpg.connect(url)
    try:
        return {
            table: int(
                await conn.fetchval(f"SELECT count(*) FROM {table} WHERE claimed_by IS NOT NULL")
            )
            for table in ("deliveries", "webhook_outbox", "inbound_messages")
        }
    finally:
        await conn.close()


async def _delivered_events(url: str) -> dict[str, str]:
    """Event id -> recipient of every ``delivered`` event."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT id, recipient FROM events WHERE event = 'delivered'")
    finally:
        await conn.close()
    return {row["id"]: row["recipient"] for row in rows}


def _after_a_kill(first: float, worker_kills: list[float]) -> bool:
    return any(first <= at <= first + SETTLE_WINDOW for at in worker_kills)


@pytest.fixture
def fleet_parts(tmp_path: Path) -> Iterator[tuple[LoopbackDNS, SmtpSink, HookReceiver]]:
    with LoopbackDNS(ZONE) as dns, SmtpSink() as sink, HookReceiver() as hooks:
        yield dns, sink, hooks


@pytest.mark.slow
@pytest.mark.timeout(400)
async def test_nothing_accepted_is_lost_when_processes_are_killed(
    tmp_path: Path,
    fresh_postgres_url: str,
    fleet_parts: tuple[LoopbackDNS, SmtpSink, HookReceiver],
    capsys: pytest.CaptureFixture[str],
) -> None:
    dns, sink, hooks = fleet_parts
    seed = int(os.environ.get("CRASH_SEED", "9"))
    rng = random.Random(seed)
    settings = _settings(fresh_postgres_url, dns, sink, MAILWRIGHT_CLAIM_LEASE=str(LEASE))
    fleet = Fleet(tmp_path, settings)
    answers = Answers()
    kills: list[tuple[str, float]] = []
    try:
        sandbox, apis = await _start_fleet(fleet, apis=2, workers=2, hook_url=hooks.url)
        numbers = list(range(MESSAGES, 0, -1))
        stop_chaos = asyncio.Event()
        chaos = asyncio.create_task(_chaos(fleet, rng, stop_chaos, kills))
        progress = asyncio.create_task(_progress(answers, sink, kills))
        started = time.monotonic()
        await _send_all(apis, sandbox, numbers, rng, answers)
        sent_in = time.monotonic() - started
        # Workers keep dying while they drain the queue: go on until one more kill has happened.
        kills_when_sent = len(kills)

        async def killed_while_draining() -> bool:
            return len(kills) > kills_when_sent

        await wait_until(killed_while_draining, within=30, interval=0.1)
        stop_chaos.set()
        await chaos

        async def drained() -> bool:
            return await _queued(fresh_postgres_url) == (0, 0)

        await wait_until(drained, within=180, interval=0.5)
        drained_in = time.monotonic() - started
        progress.cancel()
        for member in fleet.members:
            await _started(member)
        codes = fleet.stop()
        left_claimed = await _claimed(fresh_postgres_url)
        events = await _delivered_events(fresh_postgres_url)
    finally:
        fleet.stop()
        sys.stderr.write(fleet.output()[-60000:])  # pytest shows it when the test fails

    copies = Counter(_number(r) for m in sink.messages for r in m.rcpt_tos)
    first_copy: dict[int, float] = {}
    for message in sink.messages:
        for r in message.rcpt_tos:
            first_copy.setdefault(_number(r), message.at)
    delivered = set(copies)
    lost = answers.accepted - delivered
    exactly_once = sum(1 for n in answers.accepted if copies[n] == 1)
    duplicates = sum(c - 1 for c in copies.values())
    worker_kills = [at for role, at in kills if role == "worker"]
    late = [
        n for n, c in copies.items() if c > 1 and not _after_a_kill(first_copy[n], worker_kills)
    ]

    hook_copies = Counter(event_id for event_id, _, _ in hooks.arrivals)
    hook_first: dict[str, float] = {}
    for event_id, _, at in hooks.arrivals:
        hook_first.setdefault(event_id, at)
    hooks_lost = set(events) - set(hook_copies)
    hook_duplicates = sum(c - 1 for c in hook_copies.values())
    hooks_late = [
        e
        for e, c in hook_copies.items()
        if c > 1 and not _after_a_kill(hook_first[e], worker_kills)
    ]
    summary = (
        f"crash-safety: seed={seed} sent={MESSAGES} accepted={len(answers.accepted)} "
        f"rejected={len(answers.rejected)} unknown={len(answers.unknown)} "
        f"(delivered {len(answers.unknown & delivered)}) delivered={len(delivered)} "
        f"exactly_once={exactly_once} duplicates={duplicates} lost={len(lost)} "
        f"kills: api={len(kills) - len(worker_kills)} worker={len(worker_kills)} "
        f"webhooks: events={len(events)} received={len(hook_copies)} "
        f"duplicates={hook_duplicates} lost={len(hooks_lost)} "
        f"sent_in={sent_in:.1f}s drained_in={drained_in:.1f}s"
    )
    with capsys.disabled():  # the line the report quotes, shown without -s too
        sys.stdout.write(f"\n{summary}\n")

    assert len(kills) >= 10, kills
    assert {role for role, _ in kills} == {"api", "worker"}
    assert answers.rejected
    assert len(answers.accepted) > MESSAGES * 0.9
    assert not lost, sorted(lost)[:20]
    assert not answers.rejected & delivered, sorted(answers.rejected & delivered)[:20]
    assert delivered <= answers.accepted | answers.unknown
    # A second copy only comes from a worker killed after the sink's 250 and before the settle.
    assert not late, [(n, copies[n]) for n in late[:20]]
    assert duplicates <= COPIES_PER_KILL * len(worker_kills)
    assert {_number(r) for r in events.values()} == delivered
    assert not hooks_lost, sorted(hooks_lost)[:20]
    assert not hooks_late, hooks_late[:20]
    assert hook_duplicates <= COPIES_PER_KILL * len(worker_kills)
    assert codes == {m.name: 0 for m in fleet.members}, codes
    assert left_claimed == {"deliveries": 0, "webhook_outbox": 0, "inbound_messages": 0}


async def test_sigterm_lets_smtp_transactions_in_flight_finish(
    tmp_path: Path, fresh_postgres_url: str
) -> None:
    with LoopbackDNS(ZONE) as dns, SmtpSink(delay=SLOW_DATA) as sink, HookReceiver() as hooks:
        fleet = Fleet(tmp_path, _settings(fresh_postgres_url, dns, sink))
        try:
            sandbox, [api] = await _start_fleet(fleet, apis=1, workers=1, hook_url=hooks.url)
            worker = fleet.members[1]
            count = 30
            answers = Answers()
            async with httpx.AsyncClient(auth=("api", API_KEY), timeout=30) as http:
                for n in range(1, count + 1):
                    await _submit(http, [api], sandbox, n, random.Random(n), answers)
            assert len(answers.accepted) == count - count // REJECT_EVERY

            async def in_flight() -> bool:  # MAIL given, DATA not yet answered
                return sink.transactions - len(sink.messages) >= 5

            await wait_until(in_flight, within=START_TIMEOUT)
            began = sink.transactions
            assert await asyncio.to_thread(worker.terminate) == 0, worker.output()
            # Every transaction begun before the signal was carried through, none after it.
            assert sink.errors == []
            assert len(sink.messages) == sink.transactions >= began
            assert len(sink.messages) < len(answers.accepted)
            finished = {_number(r) for m in sink.messages for r in m.rcpt_tos}
            assert await _claimed(fresh_postgres_url) == {
                "deliveries": 0,
                "webhook_outbox": 0,
                "inbound_messages": 0,
            }
            recorded = {_number(r) for r in (await _delivered_events(fresh_postgres_url)).values()}
            assert recorded == finished

            # Released, not left to the 900 s lease: a new worker delivers the rest at once.
            worker.start()

            async def all_delivered() -> bool:
                return len(sink.messages) >= len(answers.accepted)

            await wait_until(all_delivered, within=30)
            copies = Counter(_number(r) for m in sink.messages for r in m.rcpt_tos)
            assert set(copies) == answers.accepted
            assert max(copies.values()) == 1
            assert fleet.stop() == {"api0": 0, "worker0": 0}
        finally:
            fleet.stop()
            sys.stderr.write(fleet.output())
