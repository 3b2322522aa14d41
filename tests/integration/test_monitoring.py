"""/metrics, /readyz and request ids, through the whole app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailwright.api import create_app
from mailwright.app import Runtime, build_services
from mailwright.cli import http_config
from mailwright.config import Settings
from mailwright.logs import get_logger
from mailwright.store import Store
from tests.conftest import API_KEY
from tests.support.logs import captured_logs
from tests.support.wait import wait_until

MESSAGES = "/v3/{domain}/messages"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


@asynccontextmanager
async def client_from(
    app: object, address: str, **kwargs: object
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000), **kwargs)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def send(client: httpx.AsyncClient, domain: str, to: str, **extra: str) -> None:
    response = await client.post(
        f"/v3/{domain}/messages",
        data={"from": f"me@{domain}", "to": to, "subject": "Hi", "text": "Hello"} | extra,
    )
    assert response.status_code == 200, response.text


async def test_metrics_count_requests_queues_and_attempts(
    client: httpx.AsyncClient, sandbox: str, runtime: Runtime
) -> None:
    await send(client, sandbox, "now@example.com")
    later = format_datetime(datetime.now(UTC) + timedelta(days=1))
    await send(client, sandbox, "a@later.example, b@later.example", **{"o:deliverytime": later})

    async def delivered() -> bool:
        return runtime.worker is not None and runtime.worker.attempts[("delivered", "2xx")] == 1

    await wait_until(delivered)
    response = await client.get("/metrics", auth=None)  # the test client is on loopback
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(response.text)

    labels = {"method": "POST", "route": MESSAGES, "status": "200"}
    assert value(found, "mailwright_http_requests_total", **labels) == 2
    assert value(found, "mailwright_http_request_duration_seconds_count", **labels) == 2
    assert value(found, "mailwright_http_request_duration_seconds_bucket", **labels, le="+Inf") == 2
    assert (
        value(found, "mailwright_http_request_duration_seconds_bucket", **labels, le="0.1")
        is not None
    )
    assert "_created" not in response.text
    # Route templates only: the raw path (with the domain in it) never becomes a label.
    assert sandbox not in response.text

    assert value(found, "mailwright_destination_queued", destination="later.example") == 2
    assert value(found, "mailwright_destination_deferred", destination="later.example") == 0
    assert value(found, "mailwright_destination_due", destination="later.example") == 0
    assert value(found, "mailwright_destination_queued", destination="example.com") is None
    assert value(found, "mailwright_deliveries_queued") == 2
    assert value(found, "mailwright_webhooks_queued") == 0
    assert value(found, "mailwright_inbound_queued") == 0
    assert value(found, "mailwright_database_up") == 1
    assert (value(found, "mailwright_db_pool_size") or 0) > 0
    assert (
        value(found, "mailwright_delivery_attempts_total", outcome="delivered", reply_class="2xx")
        == 1
    )

    again = samples((await client.get("/metrics")).text)
    assert (
        value(again, "mailwright_http_requests_total", method="GET", route="/metrics", status="200")
        == 1
    )


async def test_unmatched_paths_share_one_label(client: httpx.AsyncClient) -> None:
    for n in range(3):
        assert (await client.get(f"/no/such/{n}")).status_code == 404
    found = samples((await client.get("/metrics")).text)
    assert (
        value(
            found, "mailwright_http_requests_total", method="GET", route="unmatched", status="404"
        )
        == 3
    )


async def test_metrics_need_an_account_key_off_loopback(runtime: Runtime) -> None:
    async with client_from(runtime.app, "203.0.113.9") as remote:
        refused = await remote.get("/metrics")
        assert refused.status_code == 401
        assert refused.json() == {"message": "Invalid private key"}
        allowed = await remote.get("/metrics", auth=("api", API_KEY))
        assert allowed.status_code == 200
        assert "mailwright_http_requests_total" in allowed.text
    async with client_from(runtime.app, "::1") as local:
        assert (await local.get("/metrics")).status_code == 200
        # A reverse proxy on this machine forwards everyone from loopback.
        for header in ("X-Forwarded-For", "Forwarded"):
            proxied = await local.get("/metrics", headers={header: "203.0.113.9"})
            assert proxied.status_code == 401, header


async def test_readyz_is_public_and_ready(runtime: Runtime) -> None:
    async with client_from(runtime.app, "203.0.113.9") as remote:
        response = await remote.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "queue": "ok"}}


def bare_settings(tmp_path: Path, url: str) -> Settings:
    return Settings.from_env(
        environ={
            "MAILWRIGHT_DATA_DIR": str(tmp_path),
            "MAILWRIGHT_DATABASE_URL": url,
            "MAILWRIGHT_API_KEY": API_KEY,
        }
    )


async def test_readyz_is_503_without_a_database(tmp_path: Path) -> None:
    url = "postgresql://postgres@127.0.0.1:9/nothing"  # nothing listens on port 9
    store = Store.from_url(url)
    app = create_app(build_services(bare_settings(tmp_path, url), store))
    try:
        async with client_from(app, "127.0.0.1") as client:
            response = await client.get("/readyz")
            assert response.status_code == 503
            checks = {"database": "unavailable", "queue": "unavailable"}
            assert response.json() == {"status": "unavailable", "checks": checks}
            metrics = samples((await client.get("/metrics")).text)
            assert value(metrics, "mailwright_database_up") == 0
    finally:
        await store.close()


async def test_readyz_is_503_when_the_queue_cannot_be_read(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'broken.db'}"
    store = Store.from_url(url)
    await store.migrate()
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        await conn.exec_driver_sql("DROP TABLE deliveries")
    app = create_app(build_services(bare_settings(tmp_path, url), store))
    try:
        async with client_from(app, "127.0.0.1") as client:
            response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"] == {"database": "ok", "queue": "unavailable"}
    finally:
        await store.close()


@pytest.fixture
def probe_routes(runtime: Runtime) -> None:
    """Two routes of the test's own: one logs while answering, one crashes."""
    log = get_logger("tests.probe")

    async def logs(request: Request) -> Response:
        log.info("probe_answering")
        return JSONResponse({})

    async def crashes(request: Request) -> Response:
        raise RuntimeError("probe crashed")

    # First: the dashboard's Mount("") at the end would answer any path.
    runtime.app.router.routes[:0] = [
        Route("/probe/logs", logs, methods=["GET"]),
        Route("/probe/crash", crashes),
    ]


def lines(buffer: object) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]  # type: ignore[attr-defined]


@pytest.mark.usefixtures("probe_routes")
async def test_request_ids_are_honoured_echoed_and_logged(client: httpx.AsyncClient) -> None:
    with captured_logs() as buffer:
        given = await client.get("/probe/logs", headers={"X-Request-Id": "abc.DEF_12-3"})
        made = await client.get("/probe/logs")
        bad = await client.get("/probe/logs", headers={"X-Request-Id": "no spaces/allowed"})
        long = await client.get("/probe/logs", headers={"X-Request-Id": "x" * 65})
    assert given.headers["x-request-id"] == "abc.DEF_12-3"
    generated = [
        made.headers["x-request-id"],
        bad.headers["x-request-id"],
        long.headers["x-request-id"],
    ]
    assert len(set(generated)) == 3
    assert all(len(rid) == 24 and rid.isalnum() for rid in generated)

    records = lines(buffer)
    for rid in ["abc.DEF_12-3", *generated]:
        mine = [r for r in records if r.get("request_id") == rid]
        assert [r["event"] for r in mine] == ["probe_answering", "http_request"]
        access = mine[1]
        assert access["method"] == "GET"
        assert access["route"] == "/probe/logs"
        assert access["status"] == 200
        assert access["level"] == "info"
        assert isinstance(access["duration_ms"], float)
    assert all("request_id" in r for r in records)


@pytest.mark.usefixtures("probe_routes")
async def test_a_crash_is_logged_with_its_request_id_and_counted(runtime: Runtime) -> None:
    async with client_from(runtime.app, "127.0.0.1", raise_app_exceptions=False) as client:
        with captured_logs() as buffer:
            response = await client.get("/probe/crash", headers={"X-Request-Id": "crash-1"})
        after = await client.get("/probe/logs")
        found = samples((await client.get("/metrics")).text)
    assert response.status_code == 500
    [crash] = [r for r in lines(buffer) if r["event"] == "request_crashed"]
    assert crash["request_id"] == "crash-1"
    assert "probe crashed" in crash["exception"]
    assert after.headers["x-request-id"] != "crash-1"
    assert (
        value(
            found,
            "mailwright_http_requests_total",
            method="GET",
            route="/probe/crash",
            status="500",
        )
        == 1
    )


def test_uvicorn_writes_no_access_log_of_its_own(tmp_path: Path) -> None:
    """Observe logs one line per request; uvicorn's access log would double it."""
    settings = bare_settings(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    assert http_config(object(), settings).access_log is False
