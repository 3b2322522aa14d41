"""Request limits per key and per domain: 429 with Mailgun-style JSON and X-RateLimit-*
headers, shared by API processes on one PostgreSQL database, never applied to health checks
or the recipients' tracking links."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from mailwright.api import Services
from mailwright.app import build_limiter
from mailwright.auth import RequestLimit, RequestLimiter, RequestLimits
from mailwright.config import Settings
from mailwright.store import Store, schema
from tests.support.workers import accepting

# A fixed clock in the middle of an hour window: no test can straddle a window's end.
NOW = 1_764_000_000.0 + 1800.0
HOUR_END = int(NOW // 3600 * 3600 + 3600)


def hourly(store: Store, limit: int) -> RequestLimiter | None:
    return build_limiter(store, RequestLimit(limit=limit, period=3600), lambda: NOW)


@pytest.fixture
async def api(
    settings: Settings, store: Store
) -> AsyncIterator[tuple[Services, httpx.AsyncClient]]:
    async with accepting(settings, store) as (services, client):
        yield services, client


async def test_settings_build_the_limiters(settings: Settings, store: Store) -> None:
    limited = settings.with_changes(
        rate_limit_key=RequestLimit(limit=300, period=60), rate_limit_domain=None
    )
    async with accepting(limited, store) as (services, client):
        assert services.limits.key is not None
        assert services.limits.domain is None
        response = await client.get("/v4/domains")
        assert response.headers["X-RateLimit-Limit"] == "300"
        assert response.headers["X-RateLimit-Remaining"] == "299"


async def test_a_key_over_its_limit_gets_429_with_headers(
    api: tuple[Services, httpx.AsyncClient], store: Store
) -> None:
    services, client = api
    services.limits = RequestLimits(key=hourly(store, 3))
    remaining = []
    for _ in range(3):
        response = await client.get("/v4/domains")
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["X-RateLimit-Reset"] == str(HOUR_END)
        remaining.append(response.headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]

    refused = await client.get("/v4/domains")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/json"
    assert "Too many requests for this key" in refused.json()["message"]
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["X-RateLimit-Reset"] == str(HOUR_END)
    assert refused.headers["Retry-After"] == str(int(HOUR_END - NOW))
    # Every endpoint behind the key is refused, sending included.
    send = await client.post("/v3/example.com/messages", data={"to": "a@example.com"})
    assert send.status_code == 429


async def test_a_domain_over_its_limit_gets_429_other_routes_do_not(
    api: tuple[Services, httpx.AsyncClient], store: Store
) -> None:
    services, client = api
    services.limits = RequestLimits(domain=hourly(store, 2))
    sandbox = str((await client.get("/v4/domains")).json()["items"][0]["name"])
    assert "X-RateLimit-Limit" not in (await client.get("/v4/domains")).headers  # no domain

    for left in ("1", "0"):
        response = await client.get(f"/v3/domains/{sandbox}/tracking")
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Remaining"] == left
    refused = await client.get(f"/v3/{sandbox}/events")  # the same domain, another route
    assert refused.status_code == 429
    assert "Too many requests for this domain" in refused.json()["message"]
    assert refused.headers["Retry-After"] == str(int(HOUR_END - NOW))
    assert (await client.get("/v4/domains")).status_code == 200
    # Another domain has its own window.
    other = await client.get("/v3/domains/other.example.com/tracking")
    assert other.status_code == 404


async def test_health_and_tracking_links_are_never_limited(
    api: tuple[Services, httpx.AsyncClient], store: Store
) -> None:
    services, client = api
    services.limits = RequestLimits(key=hourly(store, 1), domain=hourly(store, 1))
    assert (await client.get("/v4/domains")).status_code == 200
    assert (await client.get("/v4/domains")).status_code == 429
    for _ in range(3):
        assert (await client.get("/healthz")).status_code == 200
        for path in ("/o/not-a-token", "/c/not-a-token", "/u/not-a-token"):
            response = await client.get(path)
            assert response.status_code != 429
            assert "X-RateLimit-Limit" not in response.headers


async def test_a_failed_login_is_not_counted(
    api: tuple[Services, httpx.AsyncClient], store: Store
) -> None:
    services, client = api
    services.limits = RequestLimits(key=hourly(store, 1))
    wrong = await client.get("/v4/domains", auth=("api", "wrong-key"))
    assert wrong.status_code == 401
    assert (await client.get("/v4/domains")).status_code == 200


@pytest.fixture
async def two_processes(postgres_database: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two API processes' stores (their own connection pools) on one PostgreSQL database."""
    first, second = Store.from_url(postgres_database), Store.from_url(postgres_database)
    await first.migrate()
    async with first.engine.begin() as conn:
        await conn.execute(schema.rate_windows.delete())
    yield first, second
    await first.close()
    await second.close()


async def test_two_processes_share_an_exact_small_limit(two_processes: tuple[Store, Store]) -> None:
    limit = RequestLimit(limit=4, period=3600)
    a, b = (RequestLimiter(s, limit, lambda: NOW) for s in two_processes)
    verdicts = [await limiter.take("key:k1") for limiter in (a, b, a, b, a, b)]
    assert [v.is_allowed for v in verdicts] == [True, True, True, True, False, False]
    assert verdicts[-1].retry_after == int(HOUR_END - NOW)
    # Another key's window is its own.
    assert (await b.take("key:k2")).is_allowed


async def test_two_processes_lease_chunks_instead_of_a_round_trip_per_request(
    two_processes: tuple[Store, Store],
) -> None:
    limit = RequestLimit(limit=100, period=3600)  # leased 5 at a time
    first, second = two_processes
    a, b = RequestLimiter(first, limit, lambda: NOW), RequestLimiter(second, limit, lambda: NOW)
    assert all([(await a.take("domain:d.test")).is_allowed for _ in range(3)])
    assert await leased(first, "domain:d.test") == 5  # one lease for three requests

    admitted_b = 0
    while (await b.take("domain:d.test")).is_allowed:
        admitted_b += 1
    admitted_a = 3
    while (await a.take("domain:d.test")).is_allowed:
        admitted_a += 1
    # Never more than the limit; at most chunk - 1 per process left unused in a lease.
    assert 100 - 2 * 4 <= admitted_a + admitted_b <= 100
    assert admitted_a + admitted_b == 100  # here a used up its lease after b ran dry
    # Refused requests of an exhausted window ask the database no more.
    before = await leased(first, "domain:d.test")
    for _ in range(10):
        assert not (await a.take("domain:d.test")).is_allowed
    assert await leased(first, "domain:d.test") == before


async def leased(store: Store, scope: str) -> int:
    w = schema.rate_windows
    async with store.read() as conn:
        row = await conn.execute(select(w.c.used).where(w.c.scope == scope))
        return int(row.scalar_one())
