"""The ``mailwright`` command: parse arguments, build through ``app``, call one function."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import getpass
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import uvicorn
import uvloop

from mailwright import __version__
from mailwright.app import (
    FirstStart,
    Runtime,
    build_runtime,
    build_services,
    build_store,
    first_start,
)
from mailwright.auth import Authority, Users, create_key, parse_ranges
from mailwright.config import FIELDS, Settings
from mailwright.domains import create_domain, get_domain, list_domains
from mailwright.errors import InvalidInput, NotFound, ServiceError
from mailwright.logs import configure, get_logger
from mailwright.store import Store
from mailwright.workers import WorkerProcesses

log = get_logger("mailwright.cli")

ROLES = ("api", "smtp", "worker")


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (override MAILWRIGHT_* environment variables)")
    for setting in FIELDS:
        group.add_argument(
            setting.flag,
            dest=f"setting_{setting.name}",
            metavar="VALUE",
            help=f"{setting.help} [{setting.env}]",
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
    usub.add_parser("list", help="list logins")
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


async def _with_store(settings: Settings, action: Callable[[Store], Awaitable[Any]]) -> Any:
    store = build_store(settings)
    try:
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
        for user in await users.list_users():
            created = datetime.fromtimestamp(user.created_at, UTC).isoformat(timespec="seconds")
            print(f"{user.username}\t{'totp' if user.has_totp else 'no-totp'}\t{created}")
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


async def _serve(
    settings: Settings,
    roles: frozenset[str],
    overrides: dict[str, str] | None = None,
    kick_fd: int | None = None,
) -> None:
    children = None
    if {"api", "worker"} <= roles and settings.worker_processes > 0:
        children = WorkerProcesses(settings.worker_processes, overrides or {})
        roles = roles - {"worker"}
    runtime = build_runtime(settings, roles)
    await runtime.store.migrate()
    created = await first_start(settings, runtime.store)
    if kick_fd is None:  # a worker child leaves telling to its server
        _announce(settings, roles, created)
    stopped = asyncio.Event()
    if "api" not in roles:
        # Before the workers start claiming: a SIGTERM from now on is a graceful stop.
        _stop_on_signals(stopped)
    await runtime.start()
    if kick_fd is not None:
        _follow_kicks(kick_fd, runtime, stopped)
    try:
        if children is not None:
            await children.start()
            runtime.services.on_accepted = children.kick
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


def _roles(value: str) -> frozenset[str]:
    roles = frozenset(r.strip() for r in value.split(",") if r.strip())
    unknown = roles - set(ROLES)
    if not roles or unknown:
        raise ServiceError(
            f"--role: unknown role {', '.join(sorted(unknown)) or '(none)'}; "
            f"choose from {', '.join(ROLES)}"
        )
    return roles


M_ARENA_MAX = -8  # glibc mallopt parameter


def _fewer_malloc_arenas() -> None:
    """glibc gives each thread that allocates an arena of its own (up to 8 per core) and keeps
    their freed memory; the database threads' arenas then hold tens of MB a queue burst once
    needed. Two arenas are plenty for one event loop and its helper threads."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, 2)


async def _store_command(settings: Settings, args: argparse.Namespace, store: Store) -> None:
    if args.command == "domains":
        await _domains(settings, args, store)
    elif args.command == "keys":
        await _keys(args, store)
    else:
        await _rotate_key(settings, store)


def main(argv: Sequence[str] | None = None) -> None:
    _fewer_malloc_arenas()
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
        configure(settings.log_format)
        if args.command == "serve":
            _run(_serve(settings, _roles(args.role), _overrides(args), args.kick_fd))
        elif args.command == "migrate":
            _run(_with_store(settings, lambda store: asyncio.sleep(0)))
            print("mailwright: schema is up to date")
        elif args.command in ("domains", "keys", "oauth"):
            _run(_with_store(settings, lambda store: _store_command(settings, args, store)))
        elif args.command == "users":
            password = _read_password(args) if args.action in ("create", "passwd") else None
            _run(_with_store(settings, lambda store: _users(args, password, store)))
    except ServiceError as exc:
        print(f"mailwright: {exc.message}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
