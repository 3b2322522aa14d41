"""Accept benchmark: durable ``POST /v3/{domain}/messages`` against the same HTTP stack's ceiling.

Starts the real server (fresh data dir, free port, SQLite by default, ``--postgres`` for a fresh
PostgreSQL database) and a baseline server (this file with ``--baseline-server PORT``: uvicorn
with the server's options and a Starlette route that authenticates, parses the same multipart
form and answers the same JSON without storing anything). 50 concurrent keep-alive clients post a
prebuilt ~5 KB single-recipient message for a fixed time to each; the table shows msgs/s and
p50/p99 latency, the ratio (target >= 60 %), then a 1,000-recipient batch with
``recipient-variables`` (target < 250 ms).

The load client is a raw asyncio-streams HTTP/1.1 client (``--client httpx`` switches to
httpx.AsyncClient): the client shares the machine's cores with the server, so it has to be cheap.
``--profile FILE`` runs the mailwright server under cProfile (every thread, so the aiosqlite
worker thread is included) and prints its hotspots.

    .venv/bin/python bench/accept.py [--seconds 10] [--postgres] [--json] [--profile out.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

API_KEY = "bench-accept-key"
AUTH = "Basic " + base64.b64encode(f"api:{API_KEY}".encode()).decode()
BOUNDARY = "mailwrightbench" + "7f3a9c1e5b2d4f60"
CLIENTS = 50
TEXT_BYTES = 5 * 1024
BATCH_RECIPIENTS = 1000
BATCH_ROUNDS = 5
TARGET_RATIO = 0.60
TARGET_BATCH_MS = 250.0
QUEUED = "Queued. Thank you."
SELF = Path(__file__).resolve()
ROOT = SELF.parent.parent


# --- the baseline server: the same HTTP stack, nothing stored ------------------------------------


def baseline_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def send(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != AUTH:
            return JSONResponse({"message": "Invalid private key"}, status_code=401)
        form = await request.form(max_files=5000, max_fields=5000, max_part_size=25 * 1024 * 1024)
        domain = request.path_params["domain"]
        recipients = len(form.getlist("to"))
        message_id = f"<{time.strftime('%Y%m%d%H%M%S')}.{secrets.token_hex(8)}@{domain}>"
        await form.close()
        if not recipients:
            return JSONResponse({"message": "to parameter is missing"}, status_code=400)
        return JSONResponse({"id": message_id, "message": QUEUED})

    return Starlette(routes=[Route("/v3/{domain}/messages", send, methods=["POST"])])


def serve_baseline(port: int) -> None:
    import uvicorn
    import uvloop

    async def main() -> None:
        config = uvicorn.Config(
            baseline_app(),
            host="127.0.0.1",
            port=port,
            lifespan="off",
            access_log=False,
            log_level="warning",
            http="httptools",
            loop="none",
            server_header=False,
        )
        # As ``mailwright serve`` does once started (cli.py): the start-up heap frozen.
        gc.collect()
        gc.freeze()
        await uvicorn.Server(config).serve()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


# --- the mailwright server under cProfile, every thread ------------------------------------------


def serve_profiled(out: str, role: str | None) -> None:
    """Run ``mailwright serve`` with one cProfile per thread; merge them into ``out`` on exit.

    The timer is each thread's CPU time, so idle waits (the event loop's poll, the aiosqlite
    thread blocked on its queue) do not count and the shares are shares of CPU.
    """
    import cProfile
    import pstats
    import threading

    profiles: list[cProfile.Profile] = []

    def start_thread_profile(*_: Any) -> None:
        prof = cProfile.Profile(time.thread_time)
        profiles.append(prof)
        prof.enable()

    threading.setprofile(start_thread_profile)
    main_prof = cProfile.Profile(time.thread_time)
    profiles.append(main_prof)
    from mailwright.cli import main

    main_prof.enable()
    try:
        main(["serve", *(["--role", role] if role else [])])
    except KeyboardInterrupt:
        pass
    finally:
        main_prof.disable()
        stats = pstats.Stats(main_prof)
        for prof in profiles[1:]:
            with contextlib.suppress(Exception):
                prof.disable()
                stats.add(prof)
        stats.dump_stats(out)


# --- requests ------------------------------------------------------------------------------------


def multipart(fields: list[tuple[str, str]]) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields
    ]
    return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode()


def message_text(size: int) -> str:
    line = "The quick brown fox jumps over the lazy dog; mailwright accept benchmark line.\n"
    return (line * (size // len(line) + 1))[:size]


def single_fields(domain: str) -> list[tuple[str, str]]:
    return [
        ("from", f"Bench <bench@{domain}>"),
        ("to", "Recipient <rcpt@example.com>"),
        ("subject", "Accept benchmark"),
        ("text", message_text(TEXT_BYTES)),
    ]


def batch_fields(domain: str) -> list[tuple[str, str]]:
    rcpts = [f"user{i}@example.com" for i in range(BATCH_RECIPIENTS)]
    variables = {r: {"first": f"User{i}", "id": i} for i, r in enumerate(rcpts)}
    return [
        ("from", f"Bench <bench@{domain}>"),
        *[("to", r) for r in rcpts],
        ("subject", "Hello %recipient.first%"),
        ("text", "Hi %recipient.first%, your id is %recipient.id%.\n" + message_text(TEXT_BYTES)),
        ("recipient-variables", json.dumps(variables)),
    ]


def raw_request(port: int, domain: str, body: bytes) -> bytes:
    head = (
        f"POST /v3/{domain}/messages HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Authorization: {AUTH}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


# --- a cheap HTTP/1.1 keep-alive client ----------------------------------------------------------


class RawConnection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, data: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            sock = self.writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert self.reader is not None
        try:
            self.writer.write(data)
            status, body, keep = await self._response(self.reader)
        except BaseException:
            self.close()
            raise
        if not keep:
            self.close()
        return status, body

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await reader.readexactly(size + 2)
                if not size:
                    break
                chunks.append(chunk[:-2])
            body = b"".join(chunks)
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        return status, body, headers.get("connection", "").lower() != "close"

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class HttpxConnection:
    """The same interface over a shared httpx.AsyncClient (50 keep-alive connections)."""

    def __init__(self, client: Any, url: str, body: bytes) -> None:
        self.client, self.url, self.body = client, url, body
        self.headers = {
            "Authorization": AUTH,
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        }

    async def request(self, _: bytes) -> tuple[int, bytes]:
        resp = await self.client.post(self.url, content=self.body, headers=self.headers)
        return resp.status_code, resp.content

    def close(self) -> None:
        pass


# --- load ----------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    name: str
    msgs_per_s: float
    p50_ms: float
    p99_ms: float
    accepted: int
    errors: dict[str, int]
    server_cpu_pct: float
    client_cpu_pct: float
    seconds: float


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) used so far by ``pid`` and its live children
    (the delivery worker processes ``serve`` starts)."""
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    ticks = 0
    for p in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Tally:
    """Answers that arrive inside the measured window: 200 latencies, everything else by kind."""

    name: str
    window_start: float
    stop: float
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def answer(self, sent: float, done: float, status: int, body: bytes) -> None:
        if not self.window_start <= done <= self.stop:
            return
        if status == 200 and b'"Queued. Thank you."' in body:
            self.latencies.append(done - sent)
            return
        kind = f"http {status}"
        if kind not in self.errors:
            print(f"  {self.name}: first {kind} answer: {body[:200]!r}", file=sys.stderr)
        self.error(kind)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def connection_factory(
    client: str, port: int, domain: str, body: bytes
) -> tuple[Callable[[], RawConnection | HttpxConnection], Callable[[], Awaitable[None]]]:
    """A way to open one client connection, and a way to close what they share."""
    if client == "raw":

        async def nothing() -> None:
            pass

        return lambda: RawConnection(port), nothing
    import httpx

    shared = httpx.AsyncClient(
        limits=httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS),
        timeout=60,
    )
    url = f"http://127.0.0.1:{port}/v3/{domain}/messages"
    return lambda: HttpxConnection(shared, url, body), shared.aclose


async def run_load(
    name: str, port: int, domain: str, pid: int, *, seconds: float, warmup: float, client: str
) -> LoadResult:
    body = multipart(single_fields(domain))
    data = raw_request(port, domain, body)
    start = time.perf_counter()
    tally = Tally(name, start + warmup, start + warmup + seconds)
    connect, close_shared = connection_factory(client, port, domain, body)

    async def one_client() -> None:
        conn = connect()
        while (sent := time.perf_counter()) < tally.stop:
            try:
                status, answer = await conn.request(data)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                tally.error(type(exc).__name__)
                await asyncio.sleep(0.01)
                continue
            tally.answer(sent, time.perf_counter(), status, answer)
        conn.close()

    async def sample_cpu() -> tuple[float, float, float]:
        await asyncio.sleep(max(0.0, tally.window_start - time.perf_counter()))
        t0, s0, c0 = time.perf_counter(), proc_cpu(pid), time.process_time()
        await asyncio.sleep(max(0.0, tally.stop - time.perf_counter()))
        return time.perf_counter() - t0, proc_cpu(pid) - s0, time.process_time() - c0

    sampler = asyncio.create_task(sample_cpu())
    await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
    wall, server_cpu, client_cpu = await sampler
    await close_shared()
    latencies = tally.latencies
    return LoadResult(
        name=name,
        msgs_per_s=len(latencies) / seconds,
        p50_ms=pct(latencies, 0.50) * 1000,
        p99_ms=pct(latencies, 0.99) * 1000,
        accepted=len(latencies),
        errors=tally.errors,
        server_cpu_pct=100 * server_cpu / wall,
        client_cpu_pct=100 * client_cpu / wall,
        seconds=seconds,
    )


@dataclass
class BatchResult:
    times_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def min_ms(self) -> float:
        return min(self.times_ms) if self.times_ms else float("nan")

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms) if self.times_ms else float("nan")


async def run_batch(port: int, domain: str, rounds: int) -> BatchResult:
    data = raw_request(port, domain, multipart(batch_fields(domain)))
    result = BatchResult()
    conn = RawConnection(port)
    for _ in range(rounds):
        sent = time.perf_counter()
        status, answer = await conn.request(data)
        elapsed = (time.perf_counter() - sent) * 1000
        if status == 200:
            result.times_ms.append(elapsed)
        else:
            result.errors.append(f"http {status}: {answer[:200]!r}")
        await asyncio.sleep(0.2)
    conn.close()
    return result


# --- servers -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    domain: str = "bench.example.com"

    def stop(self) -> None:
        if self.proc.poll() is None:
            # SIGINT: uvicorn shuts down cleanly, so a cProfile run gets to write its file.
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def wait_ready(server: Server, path: str, within: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                raise RuntimeError(f"{server.name} exited:\n{server.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                resp = await client.request(
                    "GET" if path.startswith("/healthz") else "POST",
                    f"http://127.0.0.1:{server.port}{path}",
                    headers={"Authorization": AUTH},
                )
                if resp.status_code < 500:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{server.name} did not become ready:\n{server.log.read_text()[-3000:]}")


async def sandbox_domain(server: Server) -> str:
    import httpx

    async with httpx.AsyncClient(timeout=10) as client:
        resp = await client.get(
            f"http://127.0.0.1:{server.port}/v4/domains", headers={"Authorization": AUTH}
        )
        resp.raise_for_status()
        items = resp.json().get("items", [])
    for item in items:
        if item.get("type") == "sandbox" or item.get("name", "").startswith("sandbox"):
            return str(item["name"])
    marker = "mailwright: sandbox domain: "
    for line in server.log.read_text().splitlines():
        if line.startswith(marker):
            return line[len(marker) :].strip()
    raise RuntimeError(f"no sandbox domain found: {items}")


def environ() -> dict[str, str]:
    """The servers run with this process's environment (PATH, locale, ...) plus their settings."""
    return dict(os.environ)  # noqa: TID251 - the bench passes its environment on to subprocesses


def start_process(name: str, argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
        )


async def start_baseline(tmp: Path) -> Server:
    port = free_port()
    log = tmp / "baseline.log"
    argv = [sys.executable, str(SELF), "--baseline-server", str(port)]
    server = Server("baseline", start_process("baseline", argv, environ(), log), port, log)
    await wait_ready(server, "/v3/bench.example.com/messages")
    return server


async def start_mailwright(
    tmp: Path, tag: str, *, database_url: str | None, role: str | None, profile: str | None
) -> Server:
    port = free_port()
    data_dir = tmp / f"data-{tag}"
    data_dir.mkdir()
    env = {
        **environ(),
        "MAILWRIGHT_DATA_DIR": str(data_dir),
        "MAILWRIGHT_HTTP_ADDR": f"127.0.0.1:{port}",
        "MAILWRIGHT_API_KEY": API_KEY,
        "MAILWRIGHT_SMTP_ADDR": "",
        "MAILWRIGHT_SUBMISSION_ADDR": "",
    }
    if database_url:
        env["MAILWRIGHT_DATABASE_URL"] = database_url
    if profile:
        argv = [sys.executable, str(SELF), "--profiled-server", profile]
    else:
        argv = [sys.executable, "-m", "mailwright", "serve"]
    if role:
        argv += ["--role", role]
    log = tmp / f"mailwright-{tag}.log"
    server = Server(f"mailwright ({tag})", start_process("mailwright", argv, env, log), port, log)
    await wait_ready(server, "/healthz")
    server.domain = await sandbox_domain(server)
    return server


class Postgres:
    """Fresh databases on a PostgreSQL server, dropped at the end."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.created: list[str] = []

    async def create(self) -> str:
        import asyncpg

        name = f"mw_bench_{os.getpid()}_{secrets.token_hex(4)}"
        conn = await asyncpg.connect(f"{self.base_url}/postgres")
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.created.append(name)
        return f"{self.base_url}/{name}"

    async def drop_all(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(f"{self.base_url}/postgres")
        try:
            for name in self.created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()


# --- report --------------------------------------------------------------------------------------


def machine_facts(store: str, client: str, role: str | None) -> dict[str, Any]:
    import httptools
    import starlette
    import uvicorn
    import uvloop

    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "store": store,
        "client": client,
        "server_roles": role or "default (api,smtp,worker)",
        "clients": CLIENTS,
        "message_bytes": len(multipart(single_fields("bench.example.com"))),
        "versions": {
            "starlette": starlette.__version__,
            "uvicorn": uvicorn.__version__,
            "uvloop": uvloop.__version__,
            "httptools": httptools.__version__,
        },
    }


def print_report(
    facts: dict[str, Any], base: LoadResult, mw: LoadResult, batch: BatchResult
) -> dict[str, Any]:
    ratio = mw.msgs_per_s / base.msgs_per_s if base.msgs_per_s else 0.0
    ratio_ok = ratio >= TARGET_RATIO
    batch_ok = bool(batch.times_ms) and batch.min_ms < TARGET_BATCH_MS and not batch.errors
    print()
    print(
        f"machine: {facts['cores']} cores, Python {facts['python']}, {facts['platform']}; "
        f"store: {facts['store']}; client: {facts['client']} x {facts['clients']}; "
        f"message: {facts['message_bytes']} B multipart; roles: {facts['server_roles']}"
    )
    print()
    header = (
        f"{'server':<12} {'msgs/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'accepted':>9} "
        f"{'srv cpu':>8} {'cli cpu':>8}  errors"
    )
    print(header)
    print("-" * len(header))
    for r in (base, mw):
        errs = ", ".join(f"{k}: {v}" for k, v in r.errors.items()) or "0"
        print(
            f"{r.name:<12} {r.msgs_per_s:>9.1f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} "
            f"{r.accepted:>9} {r.server_cpu_pct:>7.0f}% {r.client_cpu_pct:>7.0f}%  {errs}"
        )
    print()
    print(
        f"durable accept / baseline: {ratio:.1%}  (target >= {TARGET_RATIO:.0%})  "
        f"{'PASS' if ratio_ok else 'FAIL'}"
    )
    times = ", ".join(f"{t:.1f}" for t in batch.times_ms)
    print(
        f"{BATCH_RECIPIENTS}-recipient batch: min {batch.min_ms:.1f} ms, median "
        f"{batch.median_ms:.1f} ms over {len(batch.times_ms)} runs [{times}]  "
        f"(target < {TARGET_BATCH_MS:.0f} ms)  {'PASS' if batch_ok else 'FAIL'}"
    )
    for err in batch.errors:
        print(f"  batch error: {err}")
    return {
        "machine": facts,
        "baseline": asdict(base),
        "mailwright": asdict(mw),
        "ratio": ratio,
        "ratio_target": TARGET_RATIO,
        "ratio_pass": ratio_ok,
        "batch": {
            "recipients": BATCH_RECIPIENTS,
            "times_ms": batch.times_ms,
            "min_ms": batch.min_ms,
            "median_ms": batch.median_ms,
            "errors": batch.errors,
            "target_ms": TARGET_BATCH_MS,
            "pass": batch_ok,
        },
    }


def print_profile(path: str, top: int = 25) -> None:
    import pstats

    stats = pstats.Stats(path)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (file, line, func), (_, ncalls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((tottime, cumtime, ncalls, f"{_short(file)}:{line}:{func}"))
    print(f"\nprofile {path}: {total:.1f} s CPU profiled (all threads)")
    print("top by own time:")
    for tottime, _, ncalls, where in sorted(rows, reverse=True)[:top]:
        print(f"  {tottime:8.2f} s {100 * tottime / total:5.1f}%  {ncalls:>9}  {where}")
    print("mailwright code by cumulative time:")
    ours = [r for r in rows if "mailwright/" in r[3] and "bench/" not in r[3]]
    for _, cumtime, ncalls, where in sorted(ours, key=lambda r: r[1], reverse=True)[:top]:
        print(f"  {cumtime:8.2f} s {100 * cumtime / total:5.1f}%  {ncalls:>9}  {where}")


def _short(file: str) -> str:
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


# --- main ----------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="mw-bench-accept-"))
    pg = Postgres(args.postgres_url) if args.postgres else None
    store = "postgresql" if pg else "sqlite (WAL)"
    load = {"seconds": args.seconds, "warmup": args.warmup, "client": args.client}

    async def db_url() -> str | None:
        return await pg.create() if pg else None

    def step(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    try:
        step("baseline: starting")
        with running(await start_baseline(tmp)) as srv:
            step(f"baseline: {args.warmup:g}s warm-up + {args.seconds:g}s load")
            base = await run_load("baseline", srv.port, srv.domain, srv.proc.pid, **load)
        step(f"mailwright ({store}): starting")
        server = await start_mailwright(
            tmp, "load", database_url=await db_url(), role=args.role, profile=args.profile
        )
        with running(server) as srv:
            step(f"mailwright: {args.warmup:g}s warm-up + {args.seconds:g}s load")
            mw = await run_load("mailwright", srv.port, srv.domain, srv.proc.pid, **load)
        # A fresh server for the batch, so the load phase's delivery backlog does not weigh on it.
        step("mailwright: batch")
        server = await start_mailwright(
            tmp, "batch", database_url=await db_url(), role=args.role, profile=None
        )
        with running(server) as srv:
            batch = await run_batch(srv.port, srv.domain, args.batch_rounds)
    finally:
        if pg:
            with contextlib.suppress(Exception):
                await pg.drop_all()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    report = print_report(machine_facts(store, args.client, args.role), base, mw, batch)
    if args.profile:
        print_profile(args.profile)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per server")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per server")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432",
        help="server URL without database (a fresh database is created)",
    )
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load client: raw asyncio streams (default) or httpx.AsyncClient",
    )
    parser.add_argument(
        "--role", default=None, help="mailwright serve --role (default: the server's default roles)"
    )
    parser.add_argument("--batch-rounds", type=int, default=BATCH_ROUNDS)
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="run the mailwright load server under cProfile, write FILE",
    )
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    parser.add_argument("--baseline-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--profiled-server", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline_server:
        serve_baseline(args.baseline_server)
        return
    if args.profiled_server:
        serve_profiled(args.profiled_server, args.role)
        return
    import uvloop

    runner: Callable[[], Awaitable[dict[str, Any]]] = lambda: bench(args)  # noqa: E731
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as r:
        report = r.run(runner())
    if args.json:
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
