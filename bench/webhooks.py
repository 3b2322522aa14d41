"""Webhook delivery benchmark: events/s POSTed to a local receiver, 1,000 queued events.

Queues ``--events`` delivered events for a domain with a ``delivered`` webhook (through
``events.record``, so one outbox row each, as the delivery worker writes them), then starts the
webhook worker and times until every outbox row is settled ``delivered``. The receiver is a
separate process (uvicorn + a bare ASGI app answering 200) so it does not share the worker's
event loop; it checks nothing, the worker signs every POST as in production.

Then (unless ``--no-tracking``) the open and click endpoints' requests/s and p50/p99 latency,
measured by ``bench/tracking.py`` against a fresh server (50 keep-alive clients).

    .venv/bin/python bench/webhooks.py [--events 1000] [--postgres URL] [--per-endpoint 8]
        [--no-tracking] [--tracking-seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.delivery.retry import RetrySchedule
from mailwright.domains import ensure_sandbox
from mailwright.events import EventType, MessageFacts, event_row, record
from mailwright.resolver import Resolver
from mailwright.store import Store, queries, schema
from mailwright.webhooks import HttpPoster, SenderConfig, WebhookWorker


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _receiver(port: int) -> None:
    import uvicorn

    uvicorn.run(_app, host="127.0.0.1", port=port, log_level="error", access_log=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("receiver did not start")


async def _queue(store: Store, domain: str, url: str, count: int) -> None:
    now = time.time()

    async def write(conn: AsyncConnection) -> None:
        await queries.replace_webhook(conn, domain=domain, kind="delivered", urls=[url], now=now)
        facts = MessageFacts(
            domain=domain,
            message_id=f"bench@{domain}",
            storage_key="bench",
            storage_url=f"http://127.0.0.1/v3/domains/{domain}/messages/bench",
            sender=f"me@{domain}",
            from_header=f"Me <me@{domain}>",
            to_header="rcpt@example.com",
            subject="Benchmark",
            size=5000,
        )
        rows = [
            event_row(facts, EventType.DELIVERED, f"user{i}@example.com", now) for i in range(count)
        ]
        await record(conn, rows)

    await store.write(write)


async def _delivered(store: Store) -> int:
    o = schema.webhook_outbox
    async with store.read() as conn:
        query = select(func.count()).where(o.c.status == "delivered")
        return int((await conn.execute(query)).scalar_one())


async def run(args: argparse.Namespace, port: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.postgres or f"sqlite:///{Path(tmp) / 'bench.db'}"
        store = Store.from_url(url)
        await store.migrate()
        sandbox = await ensure_sandbox(store, now=time.time())
        assert sandbox is not None, "use an empty database"
        await _queue(store, sandbox.name, f"http://127.0.0.1:{port}/hook", args.events)
        config = SenderConfig(
            schedule=RetrySchedule.parse("1s;give_up=1h"),
            allow_private=True,
            per_endpoint=args.per_endpoint,
        )
        worker = WebhookWorker(store, config, HttpPoster(), Resolver(("127.0.0.1", 53)))
        started = time.perf_counter()
        worker.start()
        while await _delivered(store) < args.events:  # noqa: ASYNC110 -- polls the database
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        await worker.stop()
        await store.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--postgres", default="", help="an empty PostgreSQL database URL")
    parser.add_argument("--per-endpoint", type=int, default=8)
    parser.add_argument("--no-tracking", action="store_true", help="skip the open/click part")
    parser.add_argument("--tracking-seconds", type=float, default=8.0)
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        _receiver(args.receiver)
        return
    port = _free_port()
    receiver = subprocess.Popen([sys.executable, __file__, "--receiver", str(port)])
    try:
        _wait_port(port)
        elapsed = asyncio.run(run(args, port))
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
    store = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"webhooks: {args.events} events delivered in {elapsed:.2f} s = "
        f"{args.events / elapsed:,.0f} events/s ({store}, per-endpoint concurrency "
        f"{args.per_endpoint})"
    )
    if not args.no_tracking:
        tracking = [sys.executable, str(Path(__file__).with_name("tracking.py"))]
        tracking += ["--seconds", str(args.tracking_seconds)]
        if args.postgres:
            tracking += ["--database-url", args.postgres]
        subprocess.run(tracking, check=True)


if __name__ == "__main__":
    main()
