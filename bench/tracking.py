"""Tracking benchmark: requests/s and latency of the open pixel (``/o``) and click (``/c``) URLs.

Against a running server (``--url`` and ``--api-key``), or, without ``--url``, a fresh one it
starts itself (free port, temporary data dir, SQLite; ``--database-url`` for another database).
It turns open and click tracking on for the sandbox domain, sends one HTML message to
``--recipients`` addresses, reads their tracking URLs from the capture inbox, then for each
endpoint lets ``--clients`` concurrent keep-alive clients fetch those URLs (varied User-Agents)
for ``--seconds`` and prints requests/s with p50/p99 latency. Every request records an event
(``opened`` / ``clicked``) through the group-commit writer, so the figure includes the write.

    .venv/bin/python bench/tracking.py [--seconds 10] [--clients 50] [--url URL --api-key KEY]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bench-tracking-key"
AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.4266; Pro)",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "Mozilla/5.0 (X11; Linux x86_64; rv:102.0) Gecko/20100101 Thunderbird/102.0",
]
HTML = (
    "<html><body><h1>Offer</h1><p>Read <a href='https://example.org/offer?id=1&amp;s=2'>this</a>"
    " and <a href='https://example.org/more'>more</a>.</p></body></html>"
)


# --- a cheap keep-alive HTTP/1.1 client: the load shares the cores with the server --------------


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, agent: str) -> int:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        request = f"GET {path} HTTP/1.1\r\nHost: {self._host}\r\nUser-Agent: {agent}\r\n\r\n"
        self._writer.write(request.encode())
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"connection" and b"close" in value.lower():
                close = True
        if length:
            await self._reader.readexactly(length)
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


@dataclass
class Result:
    name: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def load(
    name: str, host: str, port: int, paths: list[str], clients: int, seconds: float, warmup: float
) -> Result:
    result = Result(name, seconds)
    start = time.monotonic()
    measure_from = start + warmup
    stop = measure_from + seconds

    async def one(index: int) -> None:
        conn = Connection(host, port)
        n = index
        try:
            while (now := time.monotonic()) < stop:
                path, agent = paths[n % len(paths)], AGENTS[n % len(AGENTS)]
                n += clients
                try:
                    status = await conn.get(path, agent)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    conn.close()
                    result.errors += 1
                    continue
                if now >= measure_from:
                    result.latencies.append(time.monotonic() - now)
                    result.statuses[status] = result.statuses.get(status, 0) + 1
        finally:
            conn.close()

    await asyncio.gather(*(one(i) for i in range(clients)))
    return result


# --- setting up: a server, tracking on, one message, its tracking URLs --------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def own_server(database_url: str | None) -> Iterator[tuple[str, str]]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="mailwright-bench-tracking-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILWRIGHT_")}  # noqa: TID251
        env |= {
            "MAILWRIGHT_DATA_DIR": tmp,
            "MAILWRIGHT_HTTP_ADDR": f"127.0.0.1:{port}",
            "MAILWRIGHT_SMTP_ADDR": "",
            "MAILWRIGHT_SUBMISSION_ADDR": "",
            "MAILWRIGHT_API_KEY": API_KEY,
            "MAILWRIGHT_LOG_FORMAT": "json",
        }
        if database_url:
            env["MAILWRIGHT_DATABASE_URL"] = database_url
        log = Path(tmp) / "server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(ROOT / ".venv/bin/mailwright"), "serve"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )
        try:
            yield f"http://127.0.0.1:{port}", API_KEY
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


async def wait_ready(client: httpx.AsyncClient, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get("/healthz")).status_code == 200:
                return
        await asyncio.sleep(0.2)
    raise SystemExit("server did not become ready")


async def tracking_paths(client: httpx.AsyncClient, recipients: int) -> tuple[list, list]:
    domain = (await client.get("/v4/domains")).json()["items"][0]["name"]
    for kind in ("open", "click"):
        response = await client.put(f"/v3/domains/{domain}/tracking/{kind}", data={"active": "yes"})
        response.raise_for_status()
    tag = base64.b32encode(os.urandom(5)).decode().lower()
    addresses = [f"reader{i}.{tag}@example.com" for i in range(recipients)]
    response = await client.post(
        f"/v3/{domain}/messages",
        data={"from": f"bench@{domain}", "to": addresses, "subject": "Offer", "html": HTML},
    )
    response.raise_for_status()
    opens: list[str] = []
    clicks: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = await client.get("/mailwright/v1/inbox/messages", params={"limit": 1000})
        items = response.json()["items"]
        mine = [i for i in items if tag in i["recipient"]]
        if len(mine) >= recipients:
            break
        await asyncio.sleep(0.5)
    else:
        raise SystemExit("messages were not delivered into the inbox in time")
    for item in mine:
        raw = (await client.get(f"/mailwright/v1/inbox/messages/{item['id']}/raw")).text
        unfolded = raw.replace("=\r\n", "").replace("=3D", "=")
        opens += [urlsplit(u).path for u in re.findall(r'"(https?://[^"]+/o/[\w-]+)"', unfolded)]
        clicks += [urlsplit(u).path for u in re.findall(r'"(https?://[^"]+/c/[\w-]+)"', unfolded)]
    if not opens or not clicks:
        raise SystemExit("no tracking URLs found in the delivered messages")
    return opens, clicks


def report(results: list[Result], clients: int) -> None:
    print(
        f"\n{clients} concurrent keep-alive clients, {os.cpu_count()} CPUs shared with the server"
    )
    print(f"{'endpoint':<12} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9}  statuses")
    for r in results:
        print(
            f"{r.name:<12} {r.rate:>9.0f} {r.pct(0.50):>8.1f} {r.pct(0.99):>8.1f} "
            f"{len(r.latencies):>9}  {r.statuses} errors={r.errors}"
        )


async def bench(args: argparse.Namespace) -> None:
    with contextlib.ExitStack() as stack:
        url, key = args.url, args.api_key
        if url is None:
            url, key = stack.enter_context(own_server(args.database_url))
        async with httpx.AsyncClient(base_url=url, auth=("api", key), timeout=60) as client:
            await wait_ready(client)
            opens, clicks = await tracking_paths(client, args.recipients)
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        results = []
        for name, paths in (("open /o", opens), ("click /c", clicks)):
            print(f"loading {name} for {args.seconds:.0f}s ...", file=sys.stderr)
            results.append(
                await load(name, host, port, paths, args.clients, args.seconds, args.warmup)
            )
        report(results, args.clients)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="base URL of a running server (default: start one)")
    parser.add_argument("--api-key", default=API_KEY, help="its API key")
    parser.add_argument("--database-url", help="database of the server this starts")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per endpoint")
    parser.add_argument("--clients", type=int, default=50, help="concurrent connections")
    parser.add_argument("--recipients", type=int, default=200, help="distinct tracked recipients")
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
