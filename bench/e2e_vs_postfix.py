"""End-to-end benchmark: mailwright (HTTP API -> MX delivery, DKIM on) against stock Postfix.

One run, one machine, one loopback sink (Postfix's ``smtp-sink``):

(a) Postfix (the default instance, reconfigured for the run and restored afterwards) receives N
    messages from ``smtp-source`` (20 sessions) and relays them to the sink;
(b) mailwright accepts the same N through ``POST /v3/{domain}/messages`` (20 concurrent
    keep-alive clients) and delivers them via MX, resolved through a loopback DNS server
    (``tests/support/dns.py``), to the same kind of sink; DKIM signing is on (automatic in mx
    mode).

End-to-end rate = N / (first accept -> last delivered). For both, the clock starts when the load
starts and stops when the sink's counter (``smtp-sink -c``) reaches N. Accept -> delivered
latency per message: mailwright from its own ``accepted``/``delivered`` events (matched by
Message-Id and recipient); Postfix from the ``delay=`` field of each ``status=sent`` line of its
maillog (arrival in the queue -> delivered). Then the same for 100 KB messages, and the RSS of the
mailwright server with 100,000 deliveries queued behind a destination that answers 4xx to every
RCPT (``smtp-sink -r RCPT``): 100 batch sends of 1,000 recipients.

Needs root (installs the Debian ``postfix`` package when missing; runs Postfix).

    .venv/bin/python bench/e2e_vs_postfix.py [--count 10000] [--big-count 2000] [--queued 100000]
        [--workers N]   # MAILWRIGHT_WORKER_PROCESSES for the throughput runs
    .venv/bin/python bench/e2e_vs_postfix.py --only rss [--queued 100000] [--settle 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import accept  # noqa: E402
from accept import (  # noqa: E402
    API_KEY,
    AUTH,
    RawConnection,
    Server,
    environ,
    free_port,
    message_text,
    multipart,
    pct,
    raw_request,
    sandbox_domain,
    start_process,
)

CLIENTS = 20
SESSIONS = 20
SMALL = 5 * 1024
BIG = 100 * 1024
TARGET_RATIO = 2.0
TARGET_P99_SHARE = 0.25
TARGET_RSS_MB = 300.0
SINK_DOMAIN = "sink.test"
TEMPFAIL_DOMAIN = "tempfail.test"
ZONE = f"""
{SINK_DOMAIN}. 300 IN MX 10 mx.{SINK_DOMAIN}.
mx.{SINK_DOMAIN}. 300 IN A 127.0.0.1
{TEMPFAIL_DOMAIN}. 300 IN MX 10 mx.{TEMPFAIL_DOMAIN}.
mx.{TEMPFAIL_DOMAIN}. 300 IN A 127.0.0.1
"""
POSTFIX_FILES = ("main.cf", "master.cf")


def step(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- the sink ------------------------------------------------------------------------------------


class Sink:
    """``smtp-sink -c``: its stdout counters (``mesg=N``) tell how many messages it has taken."""

    def __init__(self, tmp: Path, tag: str, extra: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.out = tmp / f"sink-{tag}.out"
        self._fh = self.out.open("wb")
        listen = f"127.0.0.1:{self.port}"
        argv = ["smtp-sink", "-c", *extra, "-m", "1000", "-u", "nobody", listen, "1000"]
        self.proc = subprocess.Popen(
            argv,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._pos = 0
        self._count = 0
        time.sleep(0.3)
        if self.proc.poll() is not None:
            raise RuntimeError(f"smtp-sink exited: {self.out.read_text()}")

    def count(self) -> int:
        with self.out.open("rb") as fh:
            fh.seek(self._pos)
            data = fh.read()
        cut = data.rfind(b"\r")
        if cut >= 0:
            self._pos += cut + 1
            found = re.findall(rb"mesg=(\d+)", data[:cut])
            if found:
                self._count = int(found[-1])
        return self._count

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self._fh.close()


@contextlib.contextmanager
def sink(tmp: Path, tag: str, extra: tuple[str, ...] = ()) -> Iterator[Sink]:
    s = Sink(tmp, tag, extra)
    try:
        yield s
    finally:
        s.stop()


async def wait_count(s: Sink, n: int, within: float) -> float:
    """Monotonic time at which the sink's count reached ``n`` (raises on timeout)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if s.count() >= n:
            return time.monotonic()
        await asyncio.sleep(0.01)
    raise TimeoutError(f"sink has {s.count()} of {n} after {within:.0f}s")


# --- results -------------------------------------------------------------------------------------


@dataclass
class E2E:
    name: str
    count: int
    size: int
    seconds: float
    accept_seconds: float
    latencies: list[float]
    note: str = ""

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def p50(self) -> float:
        return pct(self.latencies, 0.50) * 1000

    @property
    def p99(self) -> float:
        return pct(self.latencies, 0.99) * 1000


# --- Postfix -------------------------------------------------------------------------------------


def run(*argv: str, check: bool = True) -> str:
    res = subprocess.run(argv, capture_output=True, text=True)
    if check and res.returncode:
        raise RuntimeError(f"{' '.join(argv)} -> {res.returncode}: {res.stderr}{res.stdout}")
    return res.stdout


def ensure_postfix() -> None:
    if all(shutil.which(p) for p in ("postfix", "smtp-sink", "smtp-source", "postconf")):
        return
    step("installing postfix (apt-get)")
    env = {**environ(), "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], env=env, check=False, capture_output=True)
    install = ["apt-get", "install", "-y", "postfix"]
    subprocess.run(install, env=env, check=True, capture_output=True)


class Postfix:
    """The default instance, configured for the bench; ``restore`` puts the config back."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.log = Path(f"/var/log/mailwright-bench-postfix-{os.getpid()}.log")
        self.backup = tmp / "postfix-etc"
        self.backup.mkdir()
        for name in POSTFIX_FILES:
            shutil.copy2(f"/etc/postfix/{name}", self.backup / name)
        run("postfix", "stop", check=False)

    def configure(self, sink_port: int) -> None:
        settings = {
            "compatibility_level": "3.6",
            "myhostname": "postfix.bench.test",
            "mydestination": "",
            "relay_domains": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relayhost": f"[127.0.0.1]:{sink_port}",
            "smtp_tls_security_level": "none",
            "smtpd_tls_security_level": "none",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "smtp_dns_support_level": "disabled",
            "maillog_file": str(self.log),
            "maillog_file_prefixes": "/var, /dev/stdout",
            "alias_maps": "",
            "alias_database": "",
        }
        run("postconf", "-e", *(f"{k}={v}" for k, v in settings.items()))
        master = run("postconf", "-M")
        if re.search(r"^smtp\s+inet", master, re.M):
            run("postconf", "-MX", "smtp/inet")
        for line in master.splitlines():
            if re.match(r"^127\.0\.0\.1:\d+\s+inet", line):
                run("postconf", "-MX", line.split()[0] + "/inet")
        listen = f"127.0.0.1:{self.port}"
        run("postconf", "-M", f"{listen}/inet={listen} inet n - n - - smtpd")
        run("postconf", "-F", "*/*/chroot=n")

    def start(self) -> None:
        run("postsuper", "-d", "ALL", check=False)
        with contextlib.suppress(FileNotFoundError):
            self.log.unlink()
        run("postfix", "start")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                import socket

                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"220"):
                        return
            time.sleep(0.1)
        raise RuntimeError("postfix did not start")

    def delays(self) -> list[float]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [float(m) for m in re.findall(r" delay=([\d.]+),.*status=sent", text)]

    def stop(self) -> None:
        run("postfix", "stop", check=False)
        run("postsuper", "-d", "ALL", check=False)

    def restore(self) -> None:
        self.stop()
        for name in POSTFIX_FILES:
            shutil.copy2(self.backup / name, f"/etc/postfix/{name}")
        with contextlib.suppress(FileNotFoundError):
            shutil.move(self.log, self.tmp / "postfix.log")  # kept with --keep


async def bench_postfix(tmp: Path, pf: Postfix, n: int, size: int, tag: str) -> E2E:
    with sink(tmp, f"postfix-{tag}") as s:
        pf.configure(s.port)
        pf.start()
        try:
            step(f"postfix {tag}: smtp-source {n} x {size} B, {SESSIONS} sessions")
            t0 = time.monotonic()
            src = await asyncio.create_subprocess_exec(
                "smtp-source", "-s", str(SESSIONS), "-m", str(n), "-l", str(size),
                "-f", "bench@postfix.bench.test", "-t", f"user@{SINK_DOMAIN}",
                f"127.0.0.1:{pf.port}",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            waiter = asyncio.create_task(wait_count(s, n, within=max(600, n / 20)))
            _, err = await src.communicate()
            accepted = time.monotonic() - t0
            if src.returncode:
                step(f"smtp-source exited {src.returncode}: {err.decode()[-500:]}")
            t_end = await waiter
            await asyncio.sleep(1.0)  # let the last maillog lines land
            delays = pf.delays()
        finally:
            pf.stop()
    note = f"latency from maillog delay= ({len(delays)} status=sent lines)"
    return E2E("postfix", n, size, t_end - t0, accepted, delays, note)


# --- mailwright ----------------------------------------------------------------------------------


# MAILWRIGHT_WORKER_PROCESSES for the throughput runs (--workers); None: the server's default.
WORKERS: int | None = None


async def start_server(
    tmp: Path, tag: str, dns_addr: str, mx_port: int, profile: str | None = None
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
        "MAILWRIGHT_DELIVERY": "mx",
        "MAILWRIGHT_DNS_SERVER": dns_addr,
        "MAILWRIGHT_MX_PORT": str(mx_port),
    }
    if WORKERS is not None and tag != "rss":
        env["MAILWRIGHT_WORKER_PROCESSES"] = str(WORKERS)
    log = tmp / f"mailwright-{tag}.log"
    argv = [sys.executable, "-m", "mailwright", "serve"]
    if profile:
        argv = [sys.executable, str(HERE / "accept.py"), "--profiled-server", profile]
    server = Server(f"mailwright ({tag})", start_process("mailwright", argv, env, log), port, log)
    await accept.wait_ready(server, "/healthz")
    server.domain = await sandbox_domain(server)
    return server


async def events(server: Server, event: str) -> list[dict[str, Any]]:
    import httpx

    items: list[dict[str, Any]] = []
    url = f"http://127.0.0.1:{server.port}/v3/{server.domain}/events?event={event}&limit=300"
    seen: set[str] = set()
    async with httpx.AsyncClient(timeout=60, headers={"Authorization": AUTH}) as client:
        while url and url not in seen:
            seen.add(url)
            resp = await client.get(url)
            resp.raise_for_status()
            data = resp.json()
            page = data.get("items", [])
            if not page:
                break
            items += page
            url = data.get("paging", {}).get("next", "")
    return items


def key(item: dict[str, Any]) -> tuple[str, str]:
    return (item["message"]["headers"]["message-id"], item["recipient"])


async def post_all(server: Server, n: int, size: int, domain: str) -> list[str]:
    text = message_text(size)
    errors: list[str] = []
    next_i = 0

    async def client() -> None:
        nonlocal next_i
        conn = RawConnection(server.port)
        while next_i < n:
            i = next_i
            next_i += 1
            body = multipart(
                [
                    ("from", f"Bench <bench@{server.domain}>"),
                    ("to", f"user{i}@{domain}"),
                    ("subject", f"E2E benchmark {i}"),
                    ("text", text),
                ]
            )
            status, answer = await conn.request(raw_request(server.port, server.domain, body))
            if status != 200:
                errors.append(f"http {status}: {answer[:200]!r}")
        conn.close()

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return errors


async def bench_mailwright(
    tmp: Path, dns_addr: str, n: int, size: int, tag: str, profile: str | None = None
) -> E2E:
    with sink(tmp, f"mw-{tag}") as s:
        server = await start_server(tmp, tag, dns_addr, s.port, profile)
        with accept.running(server):
            step(f"mailwright {tag}: {n} x {size} B over HTTP, {CLIENTS} clients")
            t0 = time.monotonic()
            cpu0, bench_cpu0 = accept.proc_cpu(server.proc.pid), time.process_time()
            waiter = asyncio.create_task(wait_count(s, n, within=max(600, n / 20)))
            errors = await post_all(server, n, size, SINK_DOMAIN)
            accepted = time.monotonic() - t0
            for err in errors[:3]:
                step(f"  error: {err}")
            t_end = await waiter
            server_cpu = accept.proc_cpu(server.proc.pid) - cpu0
            bench_cpu = time.process_time() - bench_cpu0
            step(f"mailwright {tag}: sink has {n}; reading events")
            acc = {key(e): e["timestamp"] for e in await events(server, "accepted")}
            dlv = {key(e): e["timestamp"] for e in await events(server, "delivered")}
    lat = [dlv[k] - acc[k] for k in dlv if k in acc]
    span = max(dlv.values()) - min(acc.values()) if dlv and acc else float("nan")
    note = (
        f"{len(acc)} accepted / {len(dlv)} delivered events, {len(errors)} HTTP errors; "
        f"events span first accepted -> last delivered {span:.2f}s; CPU during the run: "
        f"server {100 * server_cpu / (t_end - t0):.0f}%, bench process (HTTP clients + DNS) "
        f"{100 * bench_cpu / (t_end - t0):.0f}% of one core"
    )
    return E2E("mailwright", n, size, t_end - t0, accepted, lat, note)


# --- RSS with deliveries queued behind a tempfailing destination ---------------------------------


def rss_of(pid: int) -> dict[int, tuple[float, float]]:
    """(VmRSS, VmHWM) in MB of ``pid`` and of each of its children, by pid."""
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    found: dict[int, tuple[float, float]] = {}
    for p in pids:
        rss = hwm = 0.0
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) / 1024
        found[p] = (rss, hwm)
    return found


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` plus its children, MB."""
    each = rss_of(pid).values()
    return sum(r for r, _ in each), sum(h for _, h in each)


async def bench_rss(tmp: Path, dns_addr: str, total: int, settle: float) -> dict[str, Any]:
    per_batch = 1000
    batches = total // per_batch
    with sink(tmp, "tempfail", ("-r", "RCPT")) as s:
        server = await start_server(tmp, "rss", dns_addr, s.port)
        with accept.running(server):
            pid = server.proc.pid
            start_rss = rss_mb(pid)[0]
            peak = start_rss
            step(f"rss: {batches} batches of {per_batch} recipients to a 4xx destination")
            text = message_text(SMALL)
            conn = RawConnection(server.port)
            errors = 0
            t0 = time.monotonic()
            for b in range(batches):
                fields = [("from", f"Bench <bench@{server.domain}>")]
                fields += [("to", f"u{b}x{i}@{TEMPFAIL_DOMAIN}") for i in range(per_batch)]
                fields += [("subject", f"Queued {b}"), ("text", text)]
                data = raw_request(server.port, server.domain, multipart(fields))
                status, _ = await conn.request(data)
                errors += status != 200
                peak = max(peak, rss_mb(pid)[0])
            conn.close()
            accept_s = time.monotonic() - t0
            after_accept = rss_mb(pid)[0]
            step(f"rss: accepted in {accept_s:.1f}s; RSS {after_accept:.0f} MB; wait {settle:g}s")
            end = time.monotonic() + settle
            while time.monotonic() < end:
                peak = max(peak, rss_mb(pid)[0])
                await asyncio.sleep(0.5)
            final, hwm = rss_mb(pid)
            each = rss_of(pid)
            attempts = s.count()
    return {
        "queued": batches * per_batch,
        "http_errors": errors,
        "accept_seconds": accept_s,
        "rss_start_mb": start_rss,
        "rss_after_accept_mb": after_accept,
        "rss_after_settle_mb": final,
        "rss_peak_sampled_mb": max(peak, final),
        "vmhwm_mb": hwm,
        # The server first, then its worker children: (VmRSS, VmHWM) at the end.
        "per_process_mb": [each[p] for p in sorted(each, key=lambda p: p != pid)],
        "settle_seconds": settle,
        "sink_sessions_note": f"sink mesg counter {attempts} (should stay 0: RCPT is refused)",
    }


# --- report --------------------------------------------------------------------------------------


def line(r: E2E) -> str:
    return (
        f"{r.name:<11} {r.count:>7} x {r.size // 1024:>3} KB  {r.rate:>8.1f} msg/s  "
        f"e2e {r.seconds:>7.2f}s  (accepted in {r.accept_seconds:.2f}s)  "
        f"p50 {r.p50:>9.1f} ms  p99 {r.p99:>9.1f} ms"
    )


def compare(pf: E2E | None, mw: E2E | None, *, targets: bool) -> None:
    for r in (pf, mw):
        if r:
            print(line(r))
            if r.note:
                print(f"{'':<13}{r.note}")
    if pf and mw and pf.rate:
        ratio = mw.rate / pf.rate
        share = mw.p99 / pf.p99 if pf.p99 else float("nan")
        if targets:
            print(
                f"ratio mailwright/postfix: {ratio:.2f}x (target >= {TARGET_RATIO:.1f}) "
                f"{'PASS' if ratio >= TARGET_RATIO else 'FAIL'}; p99 mailwright/postfix: "
                f"{share:.2f} (target < {TARGET_P99_SHARE}) "
                f"{'PASS' if share < TARGET_P99_SHARE else 'FAIL'}"
            )
        else:
            print(f"ratio mailwright/postfix: {ratio:.2f}x; p99 share {share:.2f}")


async def bench(args: argparse.Namespace) -> None:
    from tests.support.dns import LoopbackDNS

    tmp = Path(tempfile.mkdtemp(prefix="mw-bench-e2e-"))
    results: dict[str, Any] = {}
    pf: Postfix | None = None
    dns = LoopbackDNS(ZONE)
    dns.start()
    try:
        if not args.skip_postfix:
            ensure_postfix()
            pf = Postfix(tmp)
        phases = [("small", args.count, SMALL), ("big", args.big_count, BIG)]
        for tag, n, size in phases:
            if n <= 0:
                continue
            if pf:
                results[f"pf-{tag}"] = await bench_postfix(tmp, pf, n, size, tag)
                print(line(results[f"pf-{tag}"]), flush=True)
            profile = args.profile if tag == "small" else None
            results[f"mw-{tag}"] = await bench_mailwright(
                tmp, dns.nameserver, n, size, tag, profile
            )
            print(line(results[f"mw-{tag}"]), flush=True)
        if args.queued > 0:
            results["rss"] = await bench_rss(tmp, dns.nameserver, args.queued, args.settle)
    finally:
        dns.stop()
        if pf:
            pf.restore()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    report(args, results)


def report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    print()
    workers = "server default" if args.workers is None else args.workers
    print(
        f"machine: {os.cpu_count()} cores; sink: smtp-sink on loopback; DKIM on (mx mode); "
        f"mailwright worker processes: {workers}"
    )
    if args.count > 0:
        print(
            f"--- {args.count} x 5 KB (Postfix: smtp-source {SESSIONS} sessions; "
            f"mailwright: HTTP {CLIENTS} clients)"
        )
        compare(results.get("pf-small"), results.get("mw-small"), targets=True)
    if args.big_count > 0:
        print(f"--- {args.big_count} x 100 KB")
        compare(results.get("pf-big"), results.get("mw-big"), targets=False)
    if args.profile:
        accept.print_profile(args.profile)
    if "rss" in results:
        r = results["rss"]
        ok = r["rss_peak_sampled_mb"] < TARGET_RSS_MB
        print(f"--- RSS with {r['queued']} deliveries queued behind a 4xx destination")
        print(
            f"RSS start {r['rss_start_mb']:.0f} MB, after accept {r['rss_after_accept_mb']:.0f} MB "
            f"(accepted in {r['accept_seconds']:.1f}s, {r['http_errors']} HTTP errors), after "
            f"{r['settle_seconds']:g}s {r['rss_after_settle_mb']:.0f} MB, peak sampled "
            f"{r['rss_peak_sampled_mb']:.0f} MB, VmHWM {r['vmhwm_mb']:.0f} MB "
            f"(target < {TARGET_RSS_MB:.0f} MB) {'PASS' if ok else 'FAIL'}"
        )
        print(
            "  per process at the end (VmRSS / VmHWM): "
            + ", ".join(
                f"{'server' if i == 0 else f'worker {i}'} {rss:.0f} / {hwm:.0f} MB"
                for i, (rss, hwm) in enumerate(r["per_process_mb"])
            )
        )
        print(f"  {r['sink_sessions_note']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10000, help="5 KB messages per system")
    parser.add_argument("--big-count", type=int, default=2000, help="100 KB messages per system")
    parser.add_argument("--queued", type=int, default=100000, help="deliveries for the RSS test")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds to watch RSS after")
    parser.add_argument("--skip-postfix", action="store_true", help="mailwright only")
    parser.add_argument(
        "--profile", metavar="FILE", help="run the 5 KB mailwright server under cProfile"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    parser.add_argument(
        "--workers",
        type=int,
        help="MAILWRIGHT_WORKER_PROCESSES for the throughput runs (default: the server's, 1)",
    )
    parser.add_argument(
        "--only",
        choices=("rss",),
        help="rss: only the queued-deliveries RSS run (no throughput runs, no Postfix)",
    )
    args = parser.parse_args(argv)
    global WORKERS
    WORKERS = args.workers
    if args.only == "rss":
        args.count = args.big_count = 0
        args.skip_postfix = True
        ensure_postfix()  # the package brings smtp-sink; Postfix itself is not started
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as r:
        r.run(bench(args))


if __name__ == "__main__":
    main()
