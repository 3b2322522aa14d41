"""Message log read benchmark: the dashboard's event queries against 1,000,000 events in SQLite.

Fills a fresh SQLite store with ``--events`` rows spread over ``--domains`` domains (bulk
inserts, not the accept path), then times each query the message log and message page make:
the newest page of all domains and of one, filtered pages, a cursor page deep in the table,
the free-text search and one message's timeline.

    .venv/bin/python bench/message_log.py --events 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from mailwright.events import EventQuery, Page, fetch, fetch_across, page_tokens
from mailwright.store import Store

KINDS = ("accepted", "delivered", "delivered", "opened", "failed")
SCAN = 50_000  # as the dashboard's message log


def fill(path: Path, count: int, domains: list[str]) -> None:
    db = sqlite3.connect(path)
    start = time.time() - 30 * 86400
    rng = random.Random(7)
    batch = []
    for n in range(count):
        domain = domains[n % len(domains)]
        kind = KINDS[rng.randrange(len(KINDS))]
        ts = start + n * (30 * 86400 / count)
        message_id = f"m{n // 3}@{domain}"
        subject = f"Order {n // 3} shipped" if n % 7 else f"Password reset {n}"
        recipient = f"user{rng.randrange(50_000)}@example.com"
        payload = json.dumps(
            {"event": kind, "timestamp": ts, "recipient": recipient, "storage": {"key": f"k{n}"}}
        )
        batch.append(
            (
                f"e{n}",
                domain,
                ts,
                kind,
                "permanent" if kind == "failed" else None,
                recipient,
                message_id,
                f"App <app@{domain}>",
                recipient,
                subject,
                "|news|",
                "",
                1000,
                None,
                payload,
            )
        )
        if len(batch) == 50_000:
            _insert(db, batch)
            batch = []
    _insert(db, batch)
    db.commit()
    db.execute("ANALYZE")
    db.close()


def _insert(db: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    db.executemany(
        "INSERT INTO events (id, domain, timestamp, event, severity, recipient, message_id, "
        'sender, "to", subject, tags_key, attachments, size, list, payload) '
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )


async def timed(
    label: str, store: Store, query: EventQuery, domains: list[str], scan: int | None = SCAN
) -> Page:
    began = time.perf_counter()
    page = await fetch_across(store, query, domains, scan=scan)
    ms = 1000 * (time.perf_counter() - began)
    print(f"{label:<48} {len(page.items):>4} rows {ms:>9.1f} ms")
    return page


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--domains", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="keep the database here (reused if present)")
    args = parser.parse_args()
    domains = [f"d{i}.example.com" for i in range(args.domains)]
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "bench.db"
        store = Store.from_url(f"sqlite:///{path}")
        if not path.exists():
            await store.migrate()
            began = time.perf_counter()
            fill(path, args.events, domains)
            print(f"filled {args.events:,} events in {time.perf_counter() - began:.1f} s")
        try:
            await run(store, domains, args.events)
        finally:
            await store.close()


async def run(store: Store, domains: list[str], count: int) -> None:
    base = EventQuery(domain="", ascending=False, limit=50)
    one = domains[:1]
    mid = time.time() - 15 * 86400
    await timed("newest page, all domains", store, base, domains)
    await timed("newest page, one domain", store, base, one)
    for label, query in [
        ("event=complained (none), all domains", replace(base, filters=(("event", "complained"),))),
        (
            "recipient=user42@example.com, all domains",
            replace(base, filters=(("recipient", "user42@example.com"),)),
        ),
        ("subject=reset, all domains", replace(base, filters=(("subject", "reset"),))),
        ("two days' range, all domains", replace(base, begin=mid, end=mid + 2 * 86400)),
        ("free text 'password', all domains", replace(base, text="password")),
    ]:
        await timed(label, store, query, domains)
    rare = replace(base, text="user4242@")
    await timed("free text 'user4242@' (rare), unbounded", store, rare, domains, scan=None)
    page = await timed("free text 'user4242@' (rare), bounded", store, rare, domains)
    older = EventQuery.from_token(page_tokens(page)["next"], "")
    await timed("  ... its next page", store, older, domains)
    page = await fetch_across(store, base, domains)
    for _ in range(20):  # twenty pages deep
        page = await fetch_across(
            store, EventQuery.from_token(page_tokens(page)["next"], ""), domains
        )
    await timed("page 22 by cursor, all domains", store, page.query, domains)
    previous = EventQuery.from_token(page_tokens(page)["previous"], "")
    await timed("previous page by cursor", store, previous, domains)
    n = count // 2
    domain = domains[n % len(domains)]
    timeline = EventQuery(
        domain=domain,
        ascending=True,
        limit=300,
        begin=mid - 60,
        filters=(("message-id", f"m{n // 3}@{domain}"),),
    )
    began = time.perf_counter()
    found = await fetch(store, timeline)
    ms = 1000 * (time.perf_counter() - began)
    print(
        f"{'timeline of a message from 15 days ago':<48} {len(found.items):>4} rows {ms:>9.1f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
