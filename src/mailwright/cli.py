"""The ``mailwright`` command: parse arguments, build through ``app``, call one function."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import getpass
import json
import math
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

import uvicorn
import uvloop

from mailwright import __version__
from mailwright.app import (
    FirstStart,
    Runtime,
    StatusReport,
    build_runtime,
    build_services,
    build_store,
    first_start,
    status_report,
)
from mailwright.auth import Authority, Users, create_key, parse_ranges
from mailwright.config import FIELDS, Settings
from mailwright.domains import Diagnosis, create_domain, doctor_domain, get_domain, list_domains
from mailwright.errors import InvalidInput, NotFound, ServiceError
from mailwright.logs import configure, get_logger
from mailwright.store import Backlog, MissingKey, SealError, Store, sealed
from mailwright.store.sealing import generate_entry
from mailwright.workers import WorkerProcesses, report_line

log = get_logger("mailwright.cli")

ROLES = ("api", "smtp", "worker")


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (override MAILWRIGHT_* environment variables)")
    for setting in FIELDS:
        group.add_argument(
            setting.flag,
            dest=f"setting_{setting.name}",
            metavar="VALUE",
            help=f"{setting.help} [{setting.env}]".replace("%", "%%"),  # argparse formats help
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailwright",
        description="A self-hosted email platform that speaks Mailgun's HTTP API.",
    )
    parser.add_argument("--version", action="version", version=f"mailwright {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the server (all roles by default)",
        description="Run the HTTP API and the delivery worker.",
    )
    serve.add_argument(
        "--role", default="api,smtp,worker", help="comma-separated roles to run: api, smtp, worker"
    )
    serve.add_argument("--kick-fd", type=int, help=argparse.SUPPRESS)  # set for worker children
    serve.add_argument("--report-fd", type=int, help=argparse.SUPPRESS)  # set for worker children
    _add_setting_flags(serve)

    migrate = sub.add_parser(
        "migrate",
        help="create or upgrade the database schema",
        description="Create or upgrade the database schema.",
    )
    _add_setting_flags(migrate)

    domains = sub.add_parser(
        "domains", help="manage sending domains", description="Manage sending domains."
    )
    dsub = domains.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = dsub.add_parser("add", help="add a domain and print the DNS records to publish")
    add.add_argument("name")
    add.add_argument("--dkim-key-size", choices=("1024", "2048"), default="2048")
    dsub.add_parser("list", help="list domains")
    records = dsub.add_parser("records", help="print the DNS records a domain must publish")
    records.add_argument("name")
    _add_setting_flags(domains)

    doctor = sub.add_parser(
        "doctor",
        help="check a domain's DNS (SPF, DKIM, DMARC, MX, MTA-STS, TLS-RPT, rDNS, BIMI)",
        description="Check a domain's DNS as receivers see it and say how to fix what is "
        "wrong. Exit status: 0 when no check fails (warnings allowed), 1 when one does.",
    )
    doctor.add_argument("name")
    doctor.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_setting_flags(doctor)

    keys = sub.add_parser("keys", help="manage API keys", description="Manage API keys.")
    ksub = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    kcreate = ksub.add_parser("create", help="create a key and print it (shown once)")
    kcreate.add_argument("--domain", help="make a domain sending key for this domain")
    kcreate.add_argument(
        "--role",
        default=None,
        help="admin, developer, sending or basic (default: admin, or sending with --domain)",
    )
    kcreate.add_argument("--description", default="")
    kcreate.add_argument(
        "--allowed-ips",
        default="",
        help="IP addresses or CIDR ranges the key may be used from (default: anywhere)",
    )
    kcreate.add_argument(
        "--expires-in", type=int, default=None, help="seconds until the key stops working"
    )
    kcreate.add_argument(
        "--environment",
        default="live",
        help="live (default) or test: a test key's mail is captured, never delivered",
    )
    _add_setting_flags(keys)

    status = sub.add_parser(
        "status",
        help="print queue and health figures",
        description="Print queue and health figures from the database: backlogs, the last "
        "day's outcomes, availability per node and role and the endpoints that answered 5xx "
        "in the last 24 h, and the destinations with the most queued deliveries.",
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.add_argument(
        "--top", type=int, default=10, help="how many destinations to list (default: 10)"
    )
    _add_setting_flags(status)
    oauth = sub.add_parser(
        "oauth", help="manage OAuth 2.0 token signing", description="Manage OAuth 2.0."
    )
    osub = oauth.add_subparsers(dest="action", required=True, metavar="ACTION")
    osub.add_parser(
        "rotate-key",
        help="sign new access tokens with a new key; tokens signed by the old one stay valid "
        "until they expire",
    )
    _add_setting_flags(oauth)

    users = sub.add_parser(
        "users", help="manage dashboard logins", description="Manage dashboard logins."
    )
    usub = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    ucreate = usub.add_parser(
        "create", help="create a login and print its TOTP secret (shown once)"
    )
    ucreate.add_argument("username")
    ucreate.add_argument(
        "--no-totp", action="store_true", help="no two-factor authentication for this login"
    )
    usub.add_parser(
        "list",
        help="list logins, one a line: name, totp or no-totp, created, then the issuer and "
        "subject of each linked single sign-on identity (tab-separated)",
    )
    udelete = usub.add_parser("delete", help="delete a login and end its sessions")
    udelete.add_argument("username")
    upasswd = usub.add_parser("passwd", help="change a password and end the login's sessions")
    upasswd.add_argument("username")
    for needs_password in (ucreate, upasswd):
        needs_password.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from one line on stdin instead of prompting",
        )
    ureset = usub.add_parser("reset-totp", help="give a login a new TOTP secret (shown once)")
    ureset.add_argument("username")
    _add_setting_flags(users)

    secrets = sub.add_parser(
        "secrets",
        help="manage the keys that encrypt stored secrets",
        description="Manage the keys that encrypt stored secrets (DKIM private keys, TOTP "
        "secrets, webhook and link signing keys) at rest: MAILWRIGHT_SECRET_KEYS.",
    )
    ssub = secrets.add_subparsers(dest="action", required=True, metavar="ACTION")
    ssub.add_parser(
        "generate-key", help="print a new id:key entry for MAILWRIGHT_SECRET_KEYS (no database)"
    )
    ssub.add_parser(
        "rotate",
        help="encrypt every stored secret under the first (current) key; afterwards the "
        "other keys can be removed",
    )
    ssub.add_parser("status", help="count the stored secrets under each key")
    _add_setting_flags(secrets)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    return {
        name[len("setting_") :]: value
        for name, value in vars(args).items()
        if name.startswith("setting_") and value is not None
    }


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(overrides=_overrides(args))


def _run(coro: Awaitable[Any]) -> Any:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)  # type: ignore[arg-type]


async def _with_store(
    settings: Settings, action: Callable[[Store], Awaitable[Any]], *, migrate: bool = True
) -> Any:
    store = build_store(settings)
    try:
        if migrate:
            await store.migrate()
        return await action(store)
    finally:
        await store.close()


def _print_records(body: dict[str, Any]) -> None:
    for title, key in (("sending", "sending_dns_records"), ("receiving", "receiving_dns_records")):
        print(f"# {title} records")
        for record in body[key]:
            priority = f" {record['priority']}" if "priority" in record else ""
            print(f"{record['name']}\t{record['record_type']}{priority}\t{record['value']}")


async def _domains(settings: Settings, args: argparse.Namespace, store: Store) -> None:
    plan = build_services(settings, store).dns_plan
    if args.action == "list":
        _, rows = await list_domains(store, limit=1000)
        for row in rows:
            print(f"{row.name}\t{row.type}\t{row.state}")
        return
    if args.action == "add":
        row = await create_domain(
            store, args.name, {"dkim_key_size": args.dkim_key_size}, now=time.time()
        )
    else:
        row = await get_domain(store, args.name)
    _print_records(
        {
            "sending_dns_records": [r.to_json() for r in plan.sending(row)],
            "receiving_dns_records": [r.to_json() for r in plan.receiving(row)],
        }
    )


async def _doctor(settings: Settings, args: argparse.Namespace, store: Store) -> Diagnosis:
    svc = build_services(settings, store)
    diagnosis = await doctor_domain(store, svc.resolver, svc.dns_plan, args.name, now=time.time())
    if args.json:
        print(json.dumps(diagnosis.to_json(), indent=2))
        return diagnosis
    print(f"{diagnosis.domain}: {diagnosis.status}")
    for result in diagnosis.results:
        found = "; ".join(result.found) or "(nothing found)"
        print(f"{result.status.upper():<5} {result.check:<16} {found}")
        if result.fix:
            print(f"{'':<22} fix: {result.fix}")
    return diagnosis


async def _keys(args: argparse.Namespace, store: Store) -> None:
    role = args.role or ("sending" if args.domain else "admin")
    _, secret = await create_key(
        store,
        role=role,
        kind="domain" if args.domain else "user",
        domain_name=args.domain,
        description=args.description,
        expiration=None if args.expires_in is None else float(args.expires_in),
        allowed_ips=parse_ranges(args.allowed_ips),
        environment=args.environment,
        now=time.time(),
    )
    print(secret)


def _age(seconds: float | None) -> str:
    """``45s``, ``12m05s``, ``3h07m``, ``2d04h``; ``-`` for nothing queued."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    for big, small, size, part in (("d", "h", 86400, 3600), ("h", "m", 3600, 60)):
        if whole >= size:
            return f"{whole // size}{big}{(whole % size) // part:02d}{small}"
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def _backlog_json(backlog: Backlog, now: float) -> dict[str, Any]:
    age = None if backlog.oldest_at is None else round(max(0.0, now - backlog.oldest_at), 3)
    return {"queued": backlog.queued, "deferred": backlog.deferred, "oldest_age_seconds": age}


def _status_json(report: StatusReport) -> dict[str, Any]:
    return {
        "database": {"reachable": True, "url": report.database},
        "deliveries": _backlog_json(report.deliveries, report.now),
        "last_24h": report.last_day,
        "webhooks": _backlog_json(report.webhooks, report.now),
        "inbound": _backlog_json(report.inbound, report.now),
        "destinations": [
            {
                "destination": d.destination,
                "queued": d.queued,
                "due": d.due,
                "deferred": d.deferred,
                "oldest_age_seconds": round(d.oldest_age, 3),
                "last_code": d.last_code,
                "last_message": d.last_message,
            }
            for d in report.destinations
        ],
        "uptime_24h": [
            {
                "node": u.node,
                "role": u.role,
                "availability": u.availability["24h"],
                "checks": u.checks,
                "failed_checks": u.failed,
                "last_check_at": None if u.last is None else u.last.checked_at,
                "last_check_ok": None if u.last is None else u.last.is_ok,
                "last_check_detail": None if u.last is None else u.last.detail,
            }
            for u in report.uptime
        ],
        "endpoints_below_100_24h": [
            {
                "method": e.method,
                "route": e.route,
                "requests": e.requests,
                "errors": e.errors,
                "success": e.success,
            }
            for e in report.failing_endpoints
        ],
    }


def _backlog_line(name: str, backlog: Backlog, oldest: str, now: float) -> str:
    age = None if backlog.oldest_at is None else max(0.0, now - backlog.oldest_at)
    return f"{name:<12}queued {backlog.queued}  deferred {backlog.deferred}  {oldest} {_age(age)}"


def _status_lines(report: StatusReport) -> list[str]:
    now, done = report.now, report.last_day
    lines = [
        f"{'database':<12}reachable  {report.database}",
        _backlog_line("deliveries", report.deliveries, "oldest", now),
        f"{'last 24 h':<12}delivered {done['delivered']}  failed {done['failed']}",
        _backlog_line("webhooks", report.webhooks, "oldest due", now),
        _backlog_line("inbound", report.inbound, "oldest", now),
        "",
    ]
    lines.extend(_uptime_lines(report))
    if not report.destinations:
        return [*lines, "no queued deliveries"]
    width = max(len("destination"), *(len(d.destination) for d in report.destinations))
    lines.append(
        f"{'destination':<{width}}  {'queued':>7}  {'due':>7}  {'deferred':>8}  "
        f"{'oldest':>7}  last error"
    )
    for d in report.destinations:
        error = " ".join(f"{d.last_code or ''} {d.last_message}".split())[:100] or "-"
        lines.append(
            f"{d.destination:<{width}}  {d.queued:>7}  {d.due:>7}  {d.deferred:>8}  "
            f"{_age(d.oldest_age):>7}  {error}"
        )
    return lines


def _percent(share: float | None) -> str:
    """``99.95%``: two decimals, never rounded up to 100 while anything was down."""
    if share is None:
        return "-"
    return f"{math.floor(share * 10000) / 100:.2f}%"


def _uptime_lines(report: StatusReport) -> list[str]:
    """The last 24 h: availability per node and role, and the endpoints that answered 5xx."""
    if not report.uptime:
        return ["uptime 24 h: no health checks recorded yet", ""]
    nodes = max(len("node"), *(len(u.node) for u in report.uptime))
    lines = [f"{'node':<{nodes}}  {'role':<6}  {'up 24 h':>8}  {'checks':>7}  {'failed':>6}  last"]
    for u in report.uptime:
        last = "-"
        if u.last is not None:
            when = _age(max(0.0, report.now - u.last.checked_at))
            last = f"{'ok' if u.last.is_ok else 'FAILED'} {when} ago"
            last += f"  {u.last.detail}" if u.last.detail else ""
        lines.append(
            f"{u.node:<{nodes}}  {u.role:<6}  {_percent(u.availability['24h']):>8}  "
            f"{u.checks:>7}  {u.failed:>6}  {last}"
        )
    lines.append("")
    if not report.failing_endpoints:
        return [*lines, "endpoints 24 h: every answer below 500", ""]
    lines.append(f"{'endpoint (24 h, below 100 %)':<48}  {'requests':>8}  {'5xx':>6}  success")
    for e in report.failing_endpoints:
        name = f"{e.method} {e.route}"
        lines.append(f"{name:<48}  {e.requests:>8}  {e.errors:>6}  {_percent(e.success)}")
    return [*lines, ""]


async def _status(args: argparse.Namespace, store: Store) -> None:
    report = await status_report(store, time.time(), max(1, min(args.top, 1000)))
    if args.json:
        print(json.dumps(_status_json(report), indent=2))
    else:
        print("\n".join(_status_lines(report)))


async def _credentials(settings: Settings, args: argparse.Namespace, store: Store) -> None:
    if args.command == "keys":
        await _keys(args, store)
    elif args.command == "secrets":
        await _secrets(args, store)
    else:
        await _rotate_key(settings, store)


async def _rotate_key(settings: Settings, store: Store) -> None:
    authority = Authority(
        store, issuer=settings.effective_public_url, lifetime=settings.oauth_token_seconds
    )
    kid = await authority.rotate_key()
    print(f"mailwright: access tokens are now signed with key {kid}")


def _read_password(args: argparse.Namespace) -> str:
    """One line from stdin with ``--password-stdin``, else typed twice at the terminal."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InvalidInput("no password on stdin")
        return password
    if not sys.stdin.isatty():
        raise InvalidInput("stdin is not a terminal: pass the password with --password-stdin")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise InvalidInput("the passwords do not match")
    return password


def _print_totp(users: Users, username: str, secret: str) -> None:
    print(f"totp secret (shown once, add it to an authenticator app): {secret}")
    print(f"totp uri: {users.provisioning_uri(username, secret)}")


async def _create_user(users: Users, args: argparse.Namespace, password: str) -> None:
    user, secret = await users.create(args.username, password, totp=not args.no_totp)
    print(f"mailwright: created dashboard user {user.username}")
    if secret is not None:
        _print_totp(users, user.username, secret)


async def _users(args: argparse.Namespace, password: str | None, store: Store) -> None:
    users = Users(store)
    if args.action == "list":
        links = await users.sso_links()
        for user in await users.list_users():
            created = datetime.fromtimestamp(user.created_at, UTC).isoformat(timespec="seconds")
            linked = "".join(f"\t{link.issuer}\t{link.subject}" for link in links.get(user.id, []))
            print(f"{user.username}\t{'totp' if user.has_totp else 'no-totp'}\t{created}{linked}")
        return
    if args.action == "reset-totp":
        _print_totp(users, args.username, await users.reset_totp(args.username))
        return
    if args.action == "delete":
        found = await users.delete(args.username)
    else:  # create or passwd: the password was read before the event loop started
        assert password is not None
        if args.action == "create":
            await _create_user(users, args, password)
            return
        found = await users.set_password(args.username, password)
    if not found:
        raise NotFound(f"User not found: {args.username}")


async def _secrets(args: argparse.Namespace, store: Store) -> None:
    if args.action == "rotate":
        results = await sealed.sweep(store, rewrap=True)
        for column, result in results.items():
            print(
                f"{column}\tsealed {result.sealed}\trewrapped {result.rewrapped}"
                f"\talready current {result.current}"
            )
        print(f"mailwright: every stored secret is sealed with key {store.keyring.current_id}")
        return
    counts = await sealed.key_counts(store)
    print(f"current key: {store.keyring.current_id}; configured: {', '.join(store.keyring.ids)}")
    for column, found in counts.items():
        listed = "  ".join(f"{key_id} {count}" for key_id, count in sorted(found.items()))
        print(f"{column}\t{listed or '-'}")
    missing = {k for found in counts.values() for k in found} - {
        *store.keyring.ids,
        sealed.PLAINTEXT,
    }
    if missing:
        raise MissingKey(sorted(missing)[0])


def _announce(settings: Settings, roles: frozenset[str], created: FirstStart) -> None:
    if created.api_key:
        print(f"mailwright: primary API key (shown once, keep it): {created.api_key}", flush=True)
    if created.sandbox:
        print(f"mailwright: sandbox domain: {created.sandbox}", flush=True)
    if settings.delivery == "capture":
        log.info(
            "delivery_mode",
            mode="capture",
            note="nothing leaves this machine; mail goes to the built-in inbox",
        )
    if "api" in roles:
        log.info(
            "dashboard",
            url=settings.effective_public_url + "/",
            note="sign in with a login made by: mailwright users create NAME",
        )


async def _serve(
    settings: Settings,
    roles: frozenset[str],
    overrides: dict[str, str] | None = None,
    kick_fd: int | None = None,
    report_fd: int | None = None,
) -> None:
    children = None
    if {"api", "worker"} <= roles and settings.worker_processes > 0:
        children = WorkerProcesses(
            settings.worker_processes, overrides or {}, settings.effective_node_name
        )
        roles = roles - {"worker"}
    runtime = build_runtime(settings, roles)
    stopped = asyncio.Event()
    if "api" not in roles:
        # Before migrating and before the workers start claiming: a SIGTERM from now on is a
        # graceful stop, even one that comes while the process is still starting.
        _stop_on_signals(stopped)
    if kick_fd is None:
        await runtime.store.migrate()
        _announce(settings, roles, await first_start(settings, runtime.store))
    # else a worker child: its server migrated and made the first-start records before
    # starting it, so the child never loads alembic (~10 MB a process).
    await runtime.start()
    _freeze_startup_heap()
    log.info("started", roles=sorted(roles))
    if kick_fd is not None:
        _follow_kicks(kick_fd, runtime, stopped)
    async with _reporting(report_fd, runtime), _releasing_freed_memory():
        try:
            if children is not None:
                await children.start()
                runtime.services.on_accepted = children.kick
                runtime.services.attempt_counts = children.attempts
            if "api" in roles:
                await _serve_http(runtime, settings)
            else:
                await stopped.wait()
        finally:
            if children is not None:
                await children.stop()
            await runtime.stop()


def http_config(app: Any, settings: Settings) -> uvicorn.Config:
    """How uvicorn serves the API: HTTPS when ``MAILWRIGHT_HTTP_TLS_CERT_FILE`` is set."""
    host, port = settings.http_addr
    cert, key = settings.http_tls_cert_file, settings.http_tls_key_file
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="off",
        access_log=False,
        log_level="warning",
        http="httptools",
        loop="none",
        server_header=False,
        # X-Forwarded-For is read by api/context.py from MAILWRIGHT_TRUSTED_PROXIES only;
        # uvicorn's default would trust it from loopback (FORWARDED_ALLOW_IPS).
        proxy_headers=False,
        ssl_certfile=None if cert is None else str(cert),
        ssl_keyfile=None if key is None else str(key),
    )


async def _serve_http(runtime: Runtime, settings: Settings) -> None:
    config = http_config(runtime.app, settings)
    log.info(
        "http_listening",
        url=settings.effective_public_url,
        tls=settings.http_tls_cert_file is not None,
    )
    # uvicorn re-raises the signal that stopped it once it has shut down; with the default
    # handlers that would end the process before the workers stop cleanly.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _after_uvicorn)
    await uvicorn.Server(config).serve()


def _stop_on_signals(stopped: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()

    def received(signum: signal.Signals) -> None:
        log.info("shutting_down", signal=signum.name)
        stopped.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, received, signum)


def _after_uvicorn(signum: int, _frame: object) -> None:
    log.info("shutting_down", signal=signal.Signals(signum).name)


def _follow_kicks(fd: int, runtime: Runtime, stopped: asyncio.Event) -> None:
    """A worker child: a byte on ``fd`` means new mail; end-of-file means the server is gone."""
    os.set_blocking(fd, False)
    loop = asyncio.get_running_loop()

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        if not data:
            loop.remove_reader(fd)
            log.info("server_gone", note="the HTTP server exited; this worker stops")
            stopped.set()
        else:
            runtime.kick()

    loop.add_reader(fd, readable)


REPORT_SECONDS = 1.0


@contextlib.asynccontextmanager
async def _reporting(fd: int | None, runtime: Runtime) -> AsyncIterator[None]:
    """A worker child: tell the server this process's delivery attempts when they change, and
    once more at the end, for those settled while stopping."""
    if fd is None:
        yield
        return
    os.set_blocking(fd, False)
    try:
        async with _in_background(_report(fd, runtime)):
            yield
    finally:
        _write_report(fd, runtime)


@contextlib.asynccontextmanager
async def _in_background(work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """``work`` runs as a task for the length of the block, then is cancelled and awaited."""
    task = asyncio.create_task(work)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _report(fd: int, runtime: Runtime) -> None:
    sent: dict[tuple[str, str], int] = {}
    while True:
        await asyncio.sleep(REPORT_SECONDS)
        worker = runtime.worker
        if worker is not None and worker.attempts != sent and _write_report(fd, runtime):
            sent = dict(worker.attempts)


def _write_report(fd: int, runtime: Runtime) -> bool:
    if runtime.worker is None:
        return False
    try:
        os.write(fd, report_line(runtime.worker.attempts))
    except (BlockingIOError, BrokenPipeError):
        return False  # the server is busy (it reads later) or gone
    return True


def _roles(value: str) -> frozenset[str]:
    roles = frozenset(r.strip() for r in value.split(",") if r.strip())
    unknown = roles - set(ROLES)
    if not roles or unknown:
        raise ServiceError(
            f"--role: unknown role {', '.join(sorted(unknown)) or '(none)'}; "
            f"choose from {', '.join(ROLES)}"
        )
    return roles


M_ARENA_MAX = -8  # glibc mallopt parameters
M_MMAP_THRESHOLD = -3
MMAP_FROM_BYTES = 16 * 1024


def _fewer_malloc_arenas() -> None:
    """glibc gives each thread that allocates an arena of its own (up to 8 per core) and keeps
    their freed memory; the database threads' arenas then hold tens of MB a queue burst once
    needed. Two arenas are plenty for one event loop and its helper threads. Blocks from 16 KB
    up (an accepted event's payload carries the whole To header: 23 KB for 1,000 recipients)
    get pages of their own, returned on free, instead of widening the heap for good: glibc's
    own threshold rises to the largest block freed so far (up to 32 MB)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, 2)
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_FROM_BYTES)


TRIM_EVERY_SECONDS = 5.0


def _freeze_startup_heap() -> None:
    """Move what start-up made (modules, the app and its routes, SQLAlchemy's tables and
    compiled statements) out of the garbage collector's sight: it lives as long as the process.

    Requests in flight when a young collection runs survive it and age into the oldest
    generation, so full collections come every few hundred requests; each walked the whole
    start-up heap (130,000 objects, about 0.1 s): 120-180 us a request, about what storing the
    message costs. Frozen, a full collection walks only what the process made since."""
    gc.collect()
    gc.freeze()


@contextlib.asynccontextmanager
async def _releasing_freed_memory() -> AsyncIterator[None]:
    """glibc returns freed heap memory to the system only from the top of the heap; a burst
    (a 1,000-recipient send, a claimed batch) leaves free pages between live objects that the
    process keeps for good: tens of MB after a queue burst. ``malloc_trim(0)`` hands every
    whole free page back, in a fraction of a millisecond."""
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        yield
        return

    async def trim_often() -> None:
        while True:
            await asyncio.sleep(TRIM_EVERY_SECONDS)
            trim(0)

    async with _in_background(trim_often()):
        yield


def _command(settings: Settings, args: argparse.Namespace) -> None:
    if args.command == "serve":
        _run(_serve(settings, _roles(args.role), _overrides(args), args.kick_fd, args.report_fd))
    elif args.command == "migrate":
        _run(_with_store(settings, lambda store: asyncio.sleep(0)))
        print("mailwright: schema is up to date")
    elif args.command == "domains":
        _run(_with_store(settings, lambda store: _domains(settings, args, store)))
    elif args.command in ("keys", "oauth", "secrets"):
        _run(_with_store(settings, lambda store: _credentials(settings, args, store)))
    elif args.command == "status":
        # Read only: a monitoring command never changes the schema.
        _run(_with_store(settings, lambda store: _status(args, store), migrate=False))
    elif args.command == "doctor":
        diagnosis = _run(_with_store(settings, lambda store: _doctor(settings, args, store)))
        sys.exit(1 if diagnosis.status == "fail" else 0)
    elif args.command == "users":
        password = _read_password(args) if args.action in ("create", "passwd") else None
        _run(_with_store(settings, lambda store: _users(args, password, store)))


def main(argv: Sequence[str] | None = None) -> None:
    _fewer_malloc_arenas()
    args = _parser().parse_args(argv)
    if args.command == "secrets" and args.action == "generate-key":
        print(generate_entry())  # no settings, no database: usable before either exists
        return
    try:
        settings = _settings(args)
        configure(settings.log_format)
        _command(settings, args)
    except ServiceError as exc:
        print(f"mailwright: {exc.message}", file=sys.stderr)
        sys.exit(2)
    except SealError as exc:
        print(f"mailwright: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
