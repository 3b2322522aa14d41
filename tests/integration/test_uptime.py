"""The uptime history through the running server: each role's checks recorded by its own
loop, a failing check with its detail, endpoint counts flushed from memory, pruning, and the
gauges in /metrics."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailwright.app import build_runtime, first_start
from mailwright.config import Settings
from mailwright.store import Store, uptime
from mailwright.store.uptime import CheckRow
from mailwright.uptime import endpoint_rates, role_uptime
from mailwright.uptime.monitor import PROBE_TIMEOUT
from tests.integration.test_monitoring import client_from, samples, value
from tests.support.postgres import POSTGRES_URL, create_database, drop_database, url_of
from tests.support.uptime import AVAILABILITY, MESSAGES, NODE, write_history
from tests.support.wait import wait_until

INTERVAL = 0.05


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_changes(uptime_interval=INTERVAL, node_name="node-a")


async def checks_of(store: Store, node: str = "node-a") -> list[CheckRow]:
    async with store.read() as conn:
        return [c for c in await uptime.checks_since(conn, 0) if c.node == node]


@pytest.mark.usefixtures("runtime")
async def test_each_running_role_records_its_checks(store: Store) -> None:
    async def three_rounds() -> list[CheckRow] | None:
        found = await checks_of(store)
        roles = [c.role for c in found]
        return found if roles.count("api") >= 3 and roles.count("worker") >= 3 else None

    found = await wait_until(three_rounds)
    assert {c.role for c in found} == {"api", "worker"}
    for check in found:
        assert (check.is_ok, check.detail, check.interval) == (True, "", INTERVAL)
        assert 0 <= check.latency_ms < 5000


async def test_a_failing_check_is_recorded_with_what_failed(
    settings: Settings, store: Store
) -> None:
    settings = settings.with_changes(smtp_addr=("127.0.0.1", 0), submission_addr=None)
    runtime = build_runtime(settings, frozenset({"api", "smtp"}), store=store)
    await first_start(settings, store)
    await runtime.start()
    try:
        assert runtime.mx is not None
        host, port = runtime.mx.address

        async def smtp_checks() -> list[CheckRow]:
            return [c for c in await checks_of(store) if c.role == "smtp"]

        await wait_until(smtp_checks)
        assert all(c.is_ok for c in await smtp_checks())
        await runtime.mx.stop()  # the MX listener goes away; the process runs on
        runtime.mx = None

        async def failed() -> list[CheckRow]:
            return [c for c in await smtp_checks() if not c.is_ok]

        check = (await wait_until(failed))[0]
        assert check.detail == f"mx {host}:{port}: Connection refused"
        assert check.interval == INTERVAL
        # The API role's own checks still pass.
        newer = [c for c in await checks_of(store) if c.checked_at >= check.checked_at]
        assert [c.is_ok for c in newer if c.role == "api"] == [True] * len(
            [c for c in newer if c.role == "api"]
        )
    finally:
        await runtime.stop()


@pytest.fixture
def probe_route(runtime: object) -> None:
    async def crashes(request: Request) -> Response:
        raise RuntimeError("probe crashed")

    async def unavailable(request: Request) -> Response:
        return JSONResponse({"message": "try later"}, status_code=503)

    runtime.app.router.routes[:0] = [  # type: ignore[attr-defined]
        Route("/probe/crash", crashes, methods=["GET"]),
        Route("/probe/unavailable", unavailable, methods=["GET"]),
    ]


@pytest.mark.usefixtures("probe_route")
async def test_endpoint_counts_are_flushed_with_5xx_as_errors(
    runtime: object, store: Store
) -> None:
    async with client_from(runtime.app, "127.0.0.1", raise_app_exceptions=False) as client:  # type: ignore[attr-defined]
        for _ in range(3):
            assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/v3/domains")).status_code == 401  # the client's fault
        assert (await client.get("/probe/crash")).status_code == 500
        assert (await client.get("/probe/unavailable")).status_code == 503
        assert (await client.get("/probe/unavailable")).status_code == 503

    async def flushed() -> dict[str, tuple[int, int]] | None:
        rates = await endpoint_rates(store, time.time())
        found = {f"{r.method} {r.route}": (r.requests, r.errors) for r in rates}
        return found if len(found) >= 4 else None

    found = await wait_until(flushed)
    assert found == {
        "GET /healthz": (3, 0),
        "GET /v3/domains": (1, 0),
        "GET /probe/crash": (1, 1),
        "GET /probe/unavailable": (2, 2),
    }
    worst = await endpoint_rates(store, time.time())
    # Worst first; among equals, the busier endpoint first.
    assert [f"{r.method} {r.route}" for r in worst][:2] == [
        "GET /probe/unavailable",
        "GET /probe/crash",
    ]
    assert {r.success for r in worst} == {0.0, 1.0}


async def test_the_loop_prunes_rows_past_their_retention(settings: Settings, store: Store) -> None:
    old = time.time() - 31 * 86400
    stale = CheckRow(
        node="gone", role="api", checked_at=old, is_ok=True, latency_ms=1, interval=30, detail=""
    )
    kept = CheckRow(
        node="gone",
        role="api",
        checked_at=time.time() - 29 * 86400,
        is_ok=True,
        latency_ms=1,
        interval=30,
        detail="",
    )
    counts = [
        {
            "node": "gone",
            "method": "GET",
            "route": "/healthz",
            "hour": int(old // 3600) * 3600,
            "requests": 1,
            "errors": 0,
        }
    ]

    async def write(conn: object) -> None:
        await uptime.record(conn, [stale, kept], counts)  # type: ignore[arg-type]

    await store.write(write)
    # The loop prunes at its first round, then hourly.
    runtime = build_runtime(settings, frozenset({"api"}), store=store)
    await runtime.start()
    try:

        async def pruned() -> bool:
            return [c.checked_at for c in await checks_of(store, "gone")] == [kept.checked_at]

        await wait_until(pruned)
        assert await endpoint_rates(store, time.time(), seconds=40 * 86400) == []
    finally:
        await runtime.stop()


async def test_metrics_show_availability_and_endpoint_success(
    client: httpx.AsyncClient, store: Store
) -> None:
    await write_history(store, time.time())
    response = await client.get("/metrics", auth=None)
    assert response.status_code == 200
    found = samples(response.text)
    ratio = value(found, "mailwright_uptime_ratio", node=NODE, role="api", window="24h")
    assert ratio == pytest.approx(AVAILABILITY, abs=2e-3)
    assert value(found, "mailwright_uptime_last_check_ok", node=NODE, role="api") == 1
    labels = {"method": "POST", "route": MESSAGES, "window": "24h"}
    assert value(found, "mailwright_endpoint_success_ratio", **labels) == pytest.approx(0.985)
    assert value(found, "mailwright_endpoint_requests", **labels) == 200
    assert value(found, "mailwright_endpoint_errors", **labels) == 3
    ok = {"method": "GET", "route": "/v3/domains", "window": "24h"}
    assert value(found, "mailwright_endpoint_success_ratio", **ok) == 1.0
    # The server's own roles are there too, from their first round.
    assert value(found, "mailwright_uptime_last_check_ok", node="node-a", role="api") == 1


async def _allow_connections(name: str, allowed: bool) -> None:
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                name,
            )
    finally:
        await conn.close()


async def test_checks_made_while_the_database_is_away_are_written_when_it_is_back(
    tmp_path: Path,
) -> None:
    """PostgreSQL only: a database that refuses connections for a while, then comes back."""
    name = f"mailwright_outage_{secrets.token_hex(4)}"
    await create_database(name)
    settings = Settings(
        data_dir=tmp_path,
        database_url=url_of(name),
        node_name="node-a",
        uptime_interval=INTERVAL,
    )
    runtime = build_runtime(settings, frozenset({"api"}))
    store = runtime.store
    try:
        await store.migrate()
        await runtime.start()
        monitor = runtime.uptime_monitor
        assert monitor is not None
        await wait_until(lambda: checks_of(store))
        await _allow_connections(name, False)
        # The round in flight when connections stopped may have found everything well and
        # failed only to write: wait for enough rounds that three at least found the outage.
        await wait_until(lambda: _true(monitor.pending >= 5))
        await _allow_connections(name, True)
        await wait_until(lambda: _true(monitor.pending == 0))

        failed = [c for c in await checks_of(store) if not c.is_ok]
        assert len(failed) >= 3
        # Checks in flight as the database went or came back may have found only one probe
        # failing; every failure is one of the two probes that need the database.
        assert "database: unavailable; queue: cannot be read" in {c.detail for c in failed}
        timed_out = f"queue: no answer within {PROBE_TIMEOUT:g}s"
        expected = {"database: unavailable", "queue: cannot be read", timed_out}
        assert all(set(c.detail.split("; ")) <= expected for c in failed), failed
        [share] = [u.availability["24h"] for u in await role_uptime(store, time.time())]
        assert share is not None
        assert share < 1.0  # the outage counts against the node
    finally:
        await runtime.stop()
        await drop_database(name)


async def _true(value: bool) -> bool:
    return value
