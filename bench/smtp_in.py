"""SMTP intake benchmark: Postfix's ``smtp-source`` against the MX and submission listeners.

Three targets, one after another, each sent the same load (``--sessions`` parallel SMTP sessions,
``--count`` messages of ``--size`` bytes, one recipient each):

- **ceiling**: a bare aiosmtpd server (this file with ``--sink PORT``) whose DATA hook answers
  250 and stores nothing, on the same event loop type as the server;
- **mx**: mailwright's inbound listener (a catch-all route with ``store()`` is set up, so every
  message is also processed after the 250);
- **submission**: mailwright's submission listener, from a trusted network
  (``MAILWRIGHT_SUBMISSION_TRUSTED_NETWORKS``: ``smtp-source`` cannot AUTH), in capture mode.

Each line gives messages/s accepted durably (the 250 comes after the commit; the script then
counts the stored rows to prove it) and the ratio to the ceiling. Needs ``smtp-source`` (Debian
``postfix``; installed when missing and running as root).

    .venv/bin/python bench/smtp_in.py [--count 5000] [--sessions 20] [--size 5120] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from accept import (
    API_KEY,
    AUTH,
    Postgres,
    Server,
    environ,
    free_port,
    running,
    start_process,
    wait_ready,
)
from tests.support.dns import LoopbackDNS

SELF = Path(__file__).resolve()


# --- the ceiling: aiosmtpd that stores nothing ---------------------------------------------------


def serve_sink(port: int) -> None:
    import uvloop
    from aiosmtpd.smtp import SMTP

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 2.0.0 Ok"

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(Handler(), hostname="sink.bench.test", data_size_limit=26214400),
            "127.0.0.1",
            port,
        )
        await server.serve_forever()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


# --- load ----------------------------------------------------------------------------------------


def ensure_smtp_source() -> str:
    found = shutil.which("smtp-source") or (
        "/usr/sbin/smtp-source" if Path("/usr/sbin/smtp-source").exists() else None
    )
    if found:
        return found
    env = {**environ(), "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "postfix"], env=env, check=True)
    subprocess.run(["postfix", "stop"], check=False, capture_output=True)
    return "/usr/sbin/smtp-source"


@dataclass
class Run:
    target: str
    messages: int
    seconds: float
    stored: int | None

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def smtp_source(
    binary: str, port: int, *, count: int, sessions: int, size: int, sender: str, rcpt: str
) -> float:
    argv = [
        binary,
        "-s", str(sessions),
        "-m", str(count),
        "-l", str(size),
        "-f", sender,
        "-t", rcpt,
        "-M", "bench-client.test",
        f"127.0.0.1:{port}",
    ]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"smtp-source failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed


# --- mailwright ----------------------------------------------------------------------------------


async def start_mailwright(
    tmp: Path, database_url: str | None, dns_server: str
) -> tuple[Server, int, int]:
    port, mx, submission = free_port(), free_port(), free_port()
    data_dir = tmp / "data"
    data_dir.mkdir()
    env = {
        **environ(),
        "MAILWRIGHT_DATA_DIR": str(data_dir),
        "MAILWRIGHT_HTTP_ADDR": f"127.0.0.1:{port}",
        "MAILWRIGHT_API_KEY": API_KEY,
        "MAILWRIGHT_SMTP_ADDR": f"127.0.0.1:{mx}",
        "MAILWRIGHT_SUBMISSION_ADDR": f"127.0.0.1:{submission}",
        "MAILWRIGHT_SUBMISSION_TRUSTED_NETWORKS": "127.0.0.1/32",
        "MAILWRIGHT_DELIVERY": "capture",
        # SPF/DKIM/DMARC checks of received mail ask a loopback DNS server, not the world.
        "MAILWRIGHT_DNS_SERVER": dns_server,
    }
    if database_url:
        env["MAILWRIGHT_DATABASE_URL"] = database_url
    log = tmp / "mailwright.log"
    argv = [sys.executable, "-m", "mailwright", "serve"]
    server = Server("mailwright", start_process("mailwright", argv, env, log), port, log)
    await wait_ready(server, "/healthz")
    return server, mx, submission


async def api(server: Server, method: str, path: str, **kwargs: Any) -> Any:
    import httpx

    async with httpx.AsyncClient(timeout=30) as client:
        resp = await client.request(
            method,
            f"http://127.0.0.1:{server.port}{path}",
            headers={"Authorization": AUTH},
            **kwargs,
        )
        resp.raise_for_status()
        return resp.json()


async def count_rows(database_url: str | None, data_dir: Path, table: str) -> int:
    if database_url is None:
        with sqlite3.connect(data_dir / "mailwright.db") as db:
            return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


async def drained(database_url: str | None, data_dir: Path, count: int) -> float:
    """Seconds until every received message has been processed (routes ran)."""
    started = time.monotonic()
    while True:
        done = await count_rows(database_url, data_dir, "inbound_messages WHERE status = 'done'")
        if done >= count:
            return time.monotonic() - started
        if time.monotonic() - started > 600:
            raise RuntimeError(f"only {done} of {count} received messages were processed")
        await asyncio.sleep(0.2)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    binary = ensure_smtp_source()
    runs: list[Run] = []
    load = {"count": args.count, "sessions": args.sessions, "size": args.size}
    with tempfile.TemporaryDirectory(prefix="mw-smtp-in-") as name:
        tmp = Path(name)
        sink_port = free_port()
        sink_log = tmp / "sink.log"
        sink = Server(
            "ceiling",
            start_process(
                "sink", [sys.executable, str(SELF), "--sink", str(sink_port)], environ(), sink_log
            ),
            sink_port,
            sink_log,
        )
        with running(sink):
            await asyncio.sleep(1.0)
            seconds = smtp_source(
                binary, sink_port, sender="a@example.org", rcpt="b@example.net", **load
            )
            runs.append(Run("ceiling (aiosmtpd, stores nothing)", args.count, seconds, None))

        pg = Postgres(args.postgres) if args.postgres else None
        database_url = await pg.create() if pg else None
        try:
            dns = LoopbackDNS('example.org. 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"')
            dns.__enter__()
            server, mx, submission = await start_mailwright(tmp, database_url, dns.nameserver)
            with running(server):
                domains = await api(server, "GET", "/v4/domains")
                domain = domains["items"][0]["name"]
                await api(
                    server,
                    "POST",
                    "/v3/routes",
                    data={"priority": "0", "expression": "catch_all()", "action": "store()"},
                )
                seconds = smtp_source(
                    binary, mx, sender="sender@example.org", rcpt=f"rcpt@{domain}", **load
                )
                stored = await count_rows(database_url, tmp / "data", "inbound_messages")
                runs.append(Run("mailwright MX (inbound)", args.count, seconds, stored))
                processed = await drained(database_url, tmp / "data", args.count)
                print(
                    f"  (MX: every message routed and stored {processed:.1f} s after the last 250)"
                )
                before = await count_rows(database_url, tmp / "data", "messages")
                seconds = smtp_source(
                    binary, submission, sender=f"app@{domain}", rcpt="user@example.com", **load
                )
                stored = await count_rows(database_url, tmp / "data", "messages") - before
                runs.append(Run("mailwright submission", args.count, seconds, stored))
            dns.__exit__(None, None, None)
        finally:
            if pg:
                await pg.drop_all()
    ceiling = runs[0].rate
    return {
        "machine": {"cores": os.cpu_count(), "store": "postgresql" if args.postgres else "sqlite"},
        "load": load,
        "runs": [
            {**asdict(r), "rate": round(r.rate, 1), "share_of_ceiling": round(r.rate / ceiling, 3)}
            for r in runs
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--size", type=int, default=5120)
    parser.add_argument(
        "--postgres", metavar="URL", help="e.g. postgresql://postgres@127.0.0.1:5432"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        serve_sink(args.sink)
        return
    result = asyncio.run(bench(args))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    load = result["load"]
    print(
        f"smtp-source: {load['sessions']} sessions, {load['count']} messages of {load['size']} B; "
        f"{result['machine']['cores']} cores, {result['machine']['store']}"
    )
    for run in result["runs"]:
        stored = "" if run["stored"] is None else f"  stored rows: {run['stored']}"
        print(
            f"  {run['target']:<38} {run['rate']:>8.1f} msg/s  "
            f"({run['share_of_ceiling']:.0%} of ceiling){stored}"
        )


if __name__ == "__main__":
    main()
