"""List-send benchmark: one send to a 100,000-member mailing list, timed until every delivery
is queued, with the server's resident memory sampled throughout.

Starts the real server (fresh data dir, free port, role ``api`` only so that no worker starts
delivering while we measure; SQLite by default, ``--postgres`` for a fresh PostgreSQL
database), creates a list and fills it through ``members.json`` (1,000 members per call), then
posts one message to the list address. A list send answers 200 only after the expansion's
transaction has committed, so "all deliveries queued" is the moment the answer arrives; the
bench then counts the delivery rows in the database to prove it. RSS is read from
``/proc/{pid}/status`` every 20 ms.

    .venv/bin/python bench/list_send.py [--members 100000] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accept import Postgres, Server, start_mailwright

API_KEY = "bench-accept-key"  # accept.py starts the server with this key
AUTH = "Basic " + base64.b64encode(f"api:{API_KEY}".encode()).decode()
BULK = 1000


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def sample_rss(pid: int, stop: asyncio.Event, samples: list[float]) -> None:
    while not stop.is_set():
        samples.append(rss_mb(pid))
        await asyncio.sleep(0.02)


async def fill_list(client: httpx.AsyncClient, address: str, members: int) -> float:
    start = time.perf_counter()
    for offset in range(0, members, BULK):
        batch = [
            {"address": f"member{i:06d}@example.com", "name": f"Member {i}", "vars": {"n": i}}
            for i in range(offset, min(offset + BULK, members))
        ]
        resp = await client.post(
            f"/v3/lists/{address}/members.json", data={"members": json.dumps(batch)}
        )
        resp.raise_for_status()
    return time.perf_counter() - start


async def count_deliveries(database_url: str | None, data_dir: Path) -> int:
    if database_url:
        import asyncpg

        conn = await asyncpg.connect(database_url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM deliveries"))
        finally:
            await conn.close()
    return count_sqlite(data_dir)


def count_sqlite(data_dir: Path) -> int:
    [path] = list(data_dir.glob("*.db"))
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM deliveries").fetchone()[0])


async def run(members: int, postgres: str | None) -> None:
    pg = Postgres(postgres) if postgres else None
    database_url = await pg.create() if pg else None
    with tempfile.TemporaryDirectory(prefix="mw-list-bench-") as tmp:
        server: Server = await start_mailwright(
            Path(tmp), "lists", database_url=database_url, role="api", profile=None
        )
        try:
            await measure(server, members, database_url, Path(tmp) / "data-lists")
        finally:
            server.stop()
            if pg:
                await pg.drop_all()


async def measure(server: Server, members: int, database_url: str | None, data_dir: Path) -> None:
    base = f"http://127.0.0.1:{server.port}"
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": AUTH}, timeout=600
    ) as client:
        address = f"bench@{server.domain}"
        (await client.post("/v3/lists", data={"address": address})).raise_for_status()
        filled = await fill_list(client, address, members)
        print(f"list filled: {members} members in {filled:.1f} s")
        idle = rss_mb(server.proc.pid)
        samples: list[float] = []
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_rss(server.proc.pid, stop, samples))
        start = time.perf_counter()
        resp = await client.post(
            f"/v3/{server.domain}/messages",
            data={
                "from": f"bench@{server.domain}",
                "to": address,
                "subject": "Hello %recipient.name%",
                "text": "n=%recipient.n% leave: %mailing_list_unsubscribe_url%",
            },
        )
        elapsed = time.perf_counter() - start
        stop.set()
        await sampler
    resp.raise_for_status()
    queued = await count_deliveries(database_url, data_dir)
    print(f"send answered {resp.status_code}: {resp.json()}")
    print(f"time until all deliveries queued: {elapsed:.2f} s ({queued} delivery rows)")
    print(
        f"server RSS: {idle:.0f} MB before the send, peak {max(samples or [idle]):.0f} MB during it"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument(
        "--postgres",
        nargs="?",
        const="postgresql://postgres@127.0.0.1:5432",
        default=None,
        help="use a fresh database on this PostgreSQL server",
    )
    args = parser.parse_args()
    asyncio.run(run(args.members, args.postgres))


if __name__ == "__main__":
    main()
