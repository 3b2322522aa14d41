"""Scaling benchmark: end-to-end delivery rate with 1, 2 and 4 worker processes on PostgreSQL,
against SQLite single-process as the baseline, in one run.

Each configuration gets a fresh database, a fresh loopback sink (Postfix's ``smtp-sink``, as in
``e2e_vs_postfix.py``) as the MX of ``sink.test`` (resolved through a loopback DNS server,
``tests/support/dns.py``) and the same load: N messages of 5 KB through
``POST /v3/{domain}/messages`` from 20 concurrent keep-alive clients, DKIM on (mx mode).

- ``sqlite``: ``mailwright serve`` with its defaults (API, SMTP and worker roles; the delivery
  worker in one child process) on SQLite;
- ``pg-N``: ``mailwright serve --role api`` plus N ``mailwright serve --role worker``
  processes (``MAILWRIGHT_WORKER_PROCESSES=0``), all on one PostgreSQL database.

Rate = N / (first request sent -> the sink has taken N messages). The ratios are msgs/s relative
to ``pg-1`` and relative to ``sqlite``. Every process (API, workers, PostgreSQL, the sink, the
load clients) shares this machine's cores, so on a small machine the ratios flatten once the
cores are busy: the figures say how far the work spreads over processes, not what N hosts do.

With ``--destination-rate 50/s`` every process gets ``MAILWRIGHT_DESTINATION_RATE``: all the
mail goes to one destination site, so every configuration should then deliver at that rate
(plus the one-second burst), however many worker processes share it.

    .venv/bin/python bench/scale.py [--count 10000] [--workers 1,2,4] [--destination-rate R]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import accept  # noqa: E402
from accept import (  # noqa: E402
    API_KEY,
    Postgres,
    Server,
    environ,
    free_port,
    sandbox_domain,
    start_process,
)
from e2e_vs_postfix import SINK_DOMAIN, ZONE, post_all, sink, step, wait_count  # noqa: E402

SMALL = 5 * 1024


@dataclass
class Run:
    name: str
    processes: str
    count: int
    seconds: float
    accept_seconds: float
    http_errors: int

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def base_env(data_dir: Path, port: int, dns_addr: str, mx_port: int) -> dict[str, str]:
    return {
        **environ(),
        "MAILWRIGHT_DATA_DIR": str(data_dir),
        "MAILWRIGHT_HTTP_ADDR": f"127.0.0.1:{port}",
        "MAILWRIGHT_API_KEY": API_KEY,
        "MAILWRIGHT_SMTP_ADDR": "",
        "MAILWRIGHT_SUBMISSION_ADDR": "",
        "MAILWRIGHT_DELIVERY": "mx",
        "MAILWRIGHT_DNS_SERVER": dns_addr,
        "MAILWRIGHT_MX_PORT": str(mx_port),
    }


@contextlib.contextmanager
def stopping(servers: list[Server]) -> Iterator[list[Server]]:
    try:
        yield servers
    finally:
        for server in reversed(servers):
            server.stop()


async def start_processes(
    tmp: Path, tag: str, env: dict[str, str], workers: int | None
) -> list[Server]:
    """``workers`` None: one ``serve`` with its defaults; else an API process plus ``workers``
    worker processes. The API process starts (and migrates) first; the first is the API."""
    port = int(env["MAILWRIGHT_HTTP_ADDR"].rsplit(":", 1)[1])
    serve = [sys.executable, "-m", "mailwright", "serve"]
    api_argv = serve if workers is None else [*serve, "--role", "api"]
    log = tmp / f"{tag}-api.log"
    api = Server(f"mailwright {tag} api", start_process("api", api_argv, env, log), port, log)
    servers = [api]
    try:
        await accept.wait_ready(api, "/healthz")
        api.domain = await sandbox_domain(api)
        worker_env = {**env, "MAILWRIGHT_WORKER_PROCESSES": "0"}
        for i in range(workers or 0):
            log = tmp / f"{tag}-worker{i}.log"
            argv = [*serve, "--role", "worker"]
            proc = start_process(f"worker{i}", argv, worker_env, log)
            servers.append(Server(f"mailwright {tag} worker {i}", proc, 0, log))
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


async def bench_one(
    tmp: Path,
    tag: str,
    dns_addr: str,
    args: argparse.Namespace,
    database_url: str | None,
    workers: int | None,
) -> Run:
    n = args.count
    data_dir = tmp / f"data-{tag}"
    data_dir.mkdir()
    with sink(tmp, tag) as s:
        env = base_env(data_dir, free_port(), dns_addr, s.port)
        if database_url is not None:
            env["MAILWRIGHT_DATABASE_URL"] = database_url
        if args.destination_rate:
            env["MAILWRIGHT_DESTINATION_RATE"] = args.destination_rate
        with stopping(await start_processes(tmp, tag, env, workers)) as servers:
            api = servers[0]
            step(f"{tag}: {n} x {SMALL // 1024} KB over HTTP")
            t0 = time.monotonic()
            waiter = asyncio.create_task(wait_count(s, n, within=max(600, n / 10)))
            errors = await post_all(api, n, SMALL, SINK_DOMAIN)
            accepted = time.monotonic() - t0
            for err in errors[:3]:
                step(f"  error: {err}")
            t_end = await waiter
            for server in servers:
                if server.proc.poll() is not None:
                    raise RuntimeError(f"{server.name} exited: {server.log.read_text()[-2000:]}")
    processes = "serve (1 api + 1 worker child)" if workers is None else f"1 api + {workers} worker"
    return Run(tag, processes, n, t_end - t0, accepted, len(errors))


async def bench(args: argparse.Namespace) -> list[Run]:
    from tests.support.dns import LoopbackDNS

    tmp = Path(tempfile.mkdtemp(prefix="mw-bench-scale-"))
    pg = Postgres(args.postgres_url)
    dns = LoopbackDNS(ZONE)
    dns.start()
    runs: list[Run] = []
    try:
        runs.append(await bench_one(tmp, "sqlite", dns.nameserver, args, None, None))
        print(line(runs[-1]), flush=True)
        for workers in args.workers:
            url = await pg.create()
            runs.append(await bench_one(tmp, f"pg-{workers}", dns.nameserver, args, url, workers))
            print(line(runs[-1]), flush=True)
    finally:
        dns.stop()
        with contextlib.suppress(Exception):
            await pg.drop_all()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return runs


def line(run: Run) -> str:
    return (
        f"{run.name}: {run.count} delivered in {run.seconds:.2f}s = {run.rate:.0f} msgs/s "
        f"(accepted in {run.accept_seconds:.2f}s, {run.http_errors} HTTP errors)"
    )


def report(runs: list[Run], destination_rate: str) -> None:
    baseline = next((r for r in runs if r.name == "sqlite"), None)
    one = next((r for r in runs if r.name == "pg-1"), None)
    cores = os.cpu_count() or 1
    print()
    print(f"machine: {cores} cores; sink: smtp-sink on loopback; 5 KB messages, DKIM on (mx mode)")
    header = f"{'config':<8} {'processes':<32} {'msgs/s':>8} {'accept s':>9} {'vs pg-1':>8}"
    print(header + f" {'vs sqlite':>9}")
    for run in runs:
        vs_one = f"{run.rate / one.rate:.2f}x" if one and one.rate else "-"
        vs_base = f"{run.rate / baseline.rate:.2f}x" if baseline and baseline.rate else "-"
        print(
            f"{run.name:<8} {run.processes:<32} {run.rate:>8.0f} {run.accept_seconds:>9.2f} "
            f"{vs_one:>8} {vs_base:>9}"
        )
    if destination_rate:
        print(
            f"MAILWRIGHT_DESTINATION_RATE={destination_rate} on every process, one destination "
            "site: each row should stay at that rate, whatever the number of workers"
        )
        return
    most = max((int(r.name[3:]) for r in runs if r.name.startswith("pg-")), default=1)
    if most + 2 > cores:
        print(
            f"note: {cores} cores run the API process, up to {most} workers, PostgreSQL, the sink "
            "and the load clients together: the ratios flatten (or fall, as the processes compete "
            "for the cores) once the cores are busy; run on "
            "more cores (or with workers on other hosts) to see the scale-out."
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10000, help="5 KB messages per configuration")
    parser.add_argument(
        "--workers",
        type=lambda text: [int(w) for w in text.split(",")],
        default=[1, 2, 4],
        help="worker process counts to run on PostgreSQL (default 1,2,4)",
    )
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432",
        help="server URL without database (a fresh database is created per configuration)",
    )
    parser.add_argument(
        "--destination-rate",
        default="",
        help="MAILWRIGHT_DESTINATION_RATE for every process, e.g. 50/s (default: unlimited)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    args = parser.parse_args(argv)
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as r:
        report(r.run(bench(args)), args.destination_rate)


if __name__ == "__main__":
    main()
