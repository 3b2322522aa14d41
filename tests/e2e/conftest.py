"""The real server as a subprocess: ``mailwright serve`` on a free loopback port, on either store.

The server is started exactly as a user starts it, with an explicit environment (the autouse
fixture in ``tests/conftest.py`` empties ``os.environ`` of ``MAILWRIGHT_*``), its stdout and stderr
written to files so a failing test can show them. The primary key and the sandbox domain are read
from what ``serve`` prints on first start.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.dns import LoopbackDNS
from tests.support.oidc_provider import Provider, run_provider
from tests.support.postgres import create_database, drop_database, url_of

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
KEY_LINE = "mailwright: primary API key (shown once, keep it): "
SANDBOX_LINE = "mailwright: sandbox domain: "

POLL_INTERVAL = 0.05

# The loopback OpenID Connect provider's predefined users (sub -> claims): Ada's email names a
# user the SSO tests create; nobody is called Eve.
SSO_ADA = "ada@example.com"
SSO_USERS: dict[str, dict[str, object]] = {
    "sub-ada": {"email": SSO_ADA, "email_verified": True},
    "sub-eve": {"email": "eve@example.com", "email_verified": True},
}


def mailwright_command() -> list[str]:
    """The console script next to this interpreter, else ``python -m mailwright``."""
    script = Path(sys.executable).parent / "mailwright"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "mailwright"]


def base_environment(data_dir: Path, **settings: str) -> dict[str, str]:
    """The process environment without the developer's MAILWRIGHT_* plus the given settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILWRIGHT_")}
    env.update(
        {
            "MAILWRIGHT_DATA_DIR": str(data_dir),
            "MAILWRIGHT_SMTP_ADDR": "",
            "MAILWRIGHT_SUBMISSION_ADDR": "",
            "MAILWRIGHT_LOG_FORMAT": "json",
        }
    )
    env.update(settings)
    return env


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 30.0, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the command; without ``stdin`` its stdin is /dev/null (not a terminal)."""
    return subprocess.run(
        [*mailwright_command(), *args],
        env=env,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """One running ``mailwright serve`` and what it told us."""

    base_url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    api_key: str = ""
    sandbox: str = ""
    printed: dict[str, str] = field(default_factory=dict)

    def output(self) -> str:
        out = self.stdout_path.read_text(errors="replace")
        err = self.stderr_path.read_text(errors="replace")
        return f"--- stdout ---\n{out}\n--- stderr ---\n{err}"

    def http(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, auth=("api", key or self.api_key), timeout=10)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)


def _read_printed(stdout_path: Path) -> dict[str, str]:
    printed: dict[str, str] = {}
    for line in stdout_path.read_text(errors="replace").splitlines():
        if line.startswith(KEY_LINE):
            printed["api_key"] = line[len(KEY_LINE) :].strip()
        elif line.startswith(SANDBOX_LINE):
            printed["sandbox"] = line[len(SANDBOX_LINE) :].strip()
    return printed


def _is_healthy(base_url: str) -> bool:
    try:
        response = httpx.get(f"{base_url}/healthz", timeout=1.0)
    except httpx.TransportError:
        return False
    return response.status_code == 200 and response.json() == {"status": "ok"}


def _wait_ready(server: Server, *, expect_printed: set[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.process.poll() is not None:
            raise AssertionError(
                f"mailwright serve exited with {server.process.returncode}\n{server.output()}"
            )
        server.printed = _read_printed(server.stdout_path)
        if expect_printed <= server.printed.keys() and _is_healthy(server.base_url):
            return
        if time.monotonic() > deadline:
            server.stop()
            raise AssertionError(
                f"mailwright serve not ready within {START_TIMEOUT}s "
                f"(printed {sorted(server.printed)})\n{server.output()}"
            )
        time.sleep(POLL_INTERVAL)  # between probes of a deadline-bounded poll


def _start(
    tmp_path: Path, data_dir: Path, settings: dict[str, str], expect_printed: set[str]
) -> Server:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = base_environment(data_dir, MAILWRIGHT_HTTP_ADDR=f"127.0.0.1:{port}", **settings)
    run_id = secrets.token_hex(3)
    stdout_path = tmp_path / f"serve-{run_id}.stdout"
    stderr_path = tmp_path / f"serve-{run_id}.stderr"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [*mailwright_command(), "serve"], env=env, stdout=out, stderr=err
        )
    server = Server(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=data_dir,
        env=env,
        process=process,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
    )
    _wait_ready(server, expect_printed=expect_printed)
    server.api_key = settings.get("MAILWRIGHT_API_KEY") or server.printed["api_key"]
    server.sandbox = server.printed.get("sandbox", "")
    return server


StartServer = Callable[..., Server]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start ``mailwright serve``; every server started is stopped (SIGTERM, then kill) at teardown.

    ``start_server(data_dir=..., database_url=..., api_key=..., MAILWRIGHT_X=...)``: without
    ``api_key`` the key is read from what the first start prints; the sandbox domain always is.
    """
    servers: list[Server] = []

    def start(
        *,
        data_dir: Path | None = None,
        database_url: str = "",
        api_key: str = "",
        expect_printed: set[str] | None = None,
        **extra: str,
    ) -> Server:
        settings: dict[str, str] = dict(extra)
        if database_url:
            settings["MAILWRIGHT_DATABASE_URL"] = database_url
        if api_key:
            settings["MAILWRIGHT_API_KEY"] = api_key
        expect = {"sandbox"} if api_key else {"sandbox", "api_key"}
        if expect_printed is not None:  # e.g. set(): a second server on a shared database
            expect = expect_printed
        server = _start(tmp_path, data_dir or tmp_path / "data", settings, expect)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
        # pytest shows captured output only for failing tests: the server's logs explain them
        sys.stderr.write(f"mailwright serve at {server.base_url}\n{server.output()}\n")


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one server; dropped afterwards."""
    name = f"mailwright_e2e_{os.getpid()}_{secrets.token_hex(4)}"
    asyncio.run(create_database(name))
    yield url_of(name)
    asyncio.run(drop_database(name))


@pytest.fixture
def dns() -> Iterator[LoopbackDNS]:
    """A loopback DNS server the e2e servers resolve through, so nothing asks the real DNS."""
    with LoopbackDNS() as server:
        yield server


@pytest.fixture
def sqlite_server(dns: LoopbackDNS, start_server: StartServer) -> Server:
    return start_server(MAILWRIGHT_DNS_SERVER=dns.nameserver)


@pytest.fixture
def postgresql_server(
    dns: LoopbackDNS, fresh_postgres_url: str, start_server: StartServer
) -> Server:
    # fresh_postgres_url before start_server: teardown runs in reverse, so the server stops first
    return start_server(database_url=fresh_postgres_url, MAILWRIGHT_DNS_SERVER=dns.nameserver)


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest) -> Server:
    """The server on each store: SQLite in the data dir (the default) and PostgreSQL."""
    running: Server = request.getfixturevalue(f"{request.param}_server")
    return running


@pytest.fixture
def oidc_provider() -> Iterator[Provider]:
    """A real OpenID Connect provider on loopback with the ``SSO_USERS``; a module using it
    ignores ``tests.support.oidc_provider.PROVIDER_WARNINGS``."""
    with run_provider(SSO_USERS) as provider:
        yield provider


@pytest.fixture
def sso_server(dns: LoopbackDNS, start_server: StartServer, oidc_provider: Provider) -> Server:
    """``mailwright serve`` (SQLite) offering single sign-on at ``oidc_provider``."""
    return start_server(
        MAILWRIGHT_DNS_SERVER=dns.nameserver,
        MAILWRIGHT_OIDC_ISSUER=oidc_provider.issuer,
        MAILWRIGHT_OIDC_CLIENT_ID="mailwright",
        MAILWRIGHT_OIDC_CLIENT_SECRET="hush",
    )
