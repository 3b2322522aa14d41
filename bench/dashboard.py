"""Dashboard benchmark: page weight and server time with 1,000,000 events in the store (SQLite).

Fills a fresh SQLite data directory with ``--events`` events (default 1,000,000) spread over the
last 30 days, written through ``events.record`` exactly as sends, deliveries, opens and clicks
write them (so the hourly stat counters are real), then starts ``mailwright serve`` on it, signs in
as a dashboard user and times each page: the server time of a full response (first byte to last,
over loopback, median and p95 of ``--rounds`` requests) and the page weight (HTML plus the CSS and
JavaScript it links). Target: the overview in < 300 ms server time. With ``--browser`` it also
loads the overview in headless Chromium and reports first-contentful-paint.

    .venv/bin/python bench/dashboard.py [--events 1000000] [--rounds 20] [--keep DIR] [--browser]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.app import build_store, first_start
from mailwright.auth import Users
from mailwright.config import Settings
from mailwright.events import EventType, MessageFacts, event_row, record

API_KEY = "bench-dashboard-key"
USER, PASSWORD = "bench", "bench-password-123"
TARGET_MS = 300.0
DAYS = 30
BATCH = 5000
# Of every 100 events: a send is accepted, then (mostly) delivered, sometimes opened and clicked.
MIX = (
    [EventType.ACCEPTED] * 40
    + [EventType.DELIVERED] * 38
    + [EventType.FAILED] * 2
    + [EventType.OPENED] * 14
    + [EventType.CLICKED] * 6
)
PAGES = ("/", "/?period=7d", "/?period=30d", "/messages", "/queues")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def fill(data_dir: Path, count: int) -> tuple[str, float]:
    settings = Settings.from_env(
        environ={"MAILWRIGHT_DATA_DIR": str(data_dir), "MAILWRIGHT_API_KEY": API_KEY}
    )
    store = build_store(settings)  # the data dir's secret.key, as the server it fills for
    await store.migrate()
    created = await first_start(settings, store)
    domain = created.sandbox or "sandbox.mailwright.test"
    await Users(store).create(USER, PASSWORD, totp=False)
    rng = random.Random(7)
    now = time.time()
    started = time.perf_counter()
    written = 0
    while written < count:
        rows = []
        for n in range(written, min(count, written + BATCH)):
            facts = MessageFacts(
                domain=domain,
                message_id=f"<{n // 3}@{domain}>",
                storage_key=f"key{n // 3:012d}",
                storage_url=f"http://127.0.0.1/v3/domains/{domain}/messages/key{n // 3:012d}",
                sender=f"shop@{domain}",
                from_header=f"Shop <shop@{domain}>",
                to_header=f"user{n % 50_000}@example.com",
                subject=f"Order {n // 3} shipped",
                size=4096,
                tags=["orders"] if n % 5 == 0 else [],
            )
            event = MIX[n % len(MIX)]
            extra = {"severity": "permanent"} if event == EventType.FAILED else {}
            rows.append(
                event_row(
                    facts,
                    event,
                    facts.to_header,
                    now - rng.random() * DAYS * 86400,
                    **extra,
                )
            )

        async def write(conn: AsyncConnection, rows: list[dict[str, Any]] = rows) -> None:
            await record(conn, rows)

        await store.write(write)
        written += len(rows)
        if written % 100_000 == 0:
            print(f"  {written:,} events ({time.perf_counter() - started:.0f} s)", flush=True)
    await store.close()
    return domain, time.perf_counter() - started


def serve(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILWRIGHT_")}  # noqa: TID251
    env |= {
        "MAILWRIGHT_DATA_DIR": str(data_dir),
        "MAILWRIGHT_API_KEY": API_KEY,
        "MAILWRIGHT_HTTP_ADDR": f"127.0.0.1:{port}",
        "MAILWRIGHT_SMTP_ADDR": "",
        "MAILWRIGHT_SUBMISSION_ADDR": "",
        "MAILWRIGHT_LOG_FORMAT": "json",
    }
    command = [str(Path(sys.executable).parent / "mailwright"), "serve"]
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("mailwright serve exited")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("mailwright serve did not start")


def sign_in(client: httpx.Client) -> None:
    page = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token, page.text
    response = client.post(
        "/login", data={"login_token": token.group(1), "username": USER, "password": PASSWORD}
    )
    assert response.status_code == 303, response.text


def weight(client: httpx.Client, html: str) -> int:
    total = len(html.encode())
    for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', html):
        total += len(client.get(asset).content)
    return total


def time_page(client: httpx.Client, path: str, rounds: int) -> tuple[float, float, int]:
    timings = []
    body = ""
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
        body = response.text
    timings.sort()
    p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
    return statistics.median(timings), p95, weight(client, body)


def first_paint(base: str, cookies: httpx.Cookies) -> float:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context()
        context.add_cookies(
            [{"name": c.name, "value": c.value or "", "url": base} for c in cookies.jar]
        )
        page = context.new_page()
        page.goto(base + "/")
        paint = page.evaluate(
            "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1"
        )
        browser.close()
        return float(paint)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="reuse/keep this data dir (filled once)")
    parser.add_argument("--browser", action="store_true", help="also time first paint")
    args = parser.parse_args()
    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="mw-dash-"))
    marker = data_dir / f".filled-{args.events}"
    if not marker.exists():
        print(f"filling {data_dir} with {args.events:,} events ...", flush=True)
        _, seconds = asyncio.run(fill(data_dir, args.events))
        print(f"filled in {seconds:.0f} s ({args.events / seconds:,.0f} events/s)")
        marker.touch()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = serve(data_dir, port, data_dir / "serve.log")
    try:
        wait_ready(base, process)
        with httpx.Client(base_url=base, timeout=30) as client:
            sign_in(client)
            print(f"\n{platform.node()}: {os.cpu_count()} cores, {args.events:,} events, SQLite")
            print(f"{'page':<16} {'median ms':>10} {'p95 ms':>8} {'weight KB':>10}")
            results = {}
            for path in PAGES:
                client.get(path)  # warm: first use of the page's code and queries
                median, p95, size = time_page(client, path, args.rounds)
                results[path] = median
                print(f"{path:<16} {median:>10.1f} {p95:>8.1f} {size / 1024:>10.1f}")
            verdict = "meets" if results["/"] < TARGET_MS else "MISSES"
            print(f"\noverview {results['/']:.1f} ms {verdict} the < {TARGET_MS:.0f} ms target")
            if args.browser:
                print(f"first-contentful-paint of / : {first_paint(base, client.cookies):.0f} ms")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
