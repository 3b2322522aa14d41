"""Key access: allowed IP ranges, trusted proxies, expiry, last-used times and revocation that
reaches every API process at once (PostgreSQL NOTIFY)."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import select

from mailwright.app import Runtime
from mailwright.auth import KeyCache, create_key, delete_key
from mailwright.errors import Unauthorized
from mailwright.store import Store, schema
from mailwright.store.engine import LISTEN_RETRY_SECONDS
from tests.conftest import API_KEY
from tests.support.wait import wait_until


@asynccontextmanager
async def client_from(runtime: Runtime, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """An API client whose connection comes from ``address``."""
    transport = httpx.ASGITransport(app=runtime.app, client=(address, 40000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", auth=("api", API_KEY)
    ) as client:
        yield client


def basic(secret: str) -> str:
    return httpx.BasicAuth("api", secret)._auth_header


async def last_used(store: Store, key_id: str) -> float | None:
    keys = schema.api_keys
    async with store.read() as conn:
        value = (
            await conn.execute(select(keys.c.last_used_at).where(keys.c.id == key_id))
        ).scalar_one()
    return None if value is None else float(value)


async def test_key_with_allowed_ranges_is_refused_elsewhere(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    created = await client.post(
        "/v1/keys",
        data={"role": "admin", "allowed_ips": ["203.0.113.0/24, 2001:db8::/32", "192.0.2.7"]},
    )
    assert created.status_code == 200, created.text
    key = created.json()["key"]
    assert key["allowed_ips"] == ["203.0.113.0/24", "2001:db8::/32", "192.0.2.7/32"]
    auth = ("api", key["secret"])

    refused = await client.get("/v4/domains", auth=auth)  # from 127.0.0.1
    assert refused.status_code == 401
    assert refused.json() == {"message": "Forbidden: this key may not be used from 127.0.0.1"}
    for address in ("203.0.113.77", "2001:db8::5", "192.0.2.7"):
        async with client_from(runtime, address) as inside:
            assert (await inside.get("/v4/domains", auth=auth)).status_code == 200, address
    async with client_from(runtime, "192.0.2.8") as outside:
        assert (await outside.get("/v4/domains", auth=auth)).status_code == 401
        # Keys without ranges work from anywhere.
        assert (await outside.get("/v4/domains")).status_code == 200


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "not-an-ip", "10.0.0.1/8/2"])
async def test_bad_allowed_ranges_are_400(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.post("/v1/keys", data={"role": "admin", "allowed_ips": bad})
    assert response.status_code == 400
    assert "allowed_ips" in response.json()["message"]


async def test_forwarded_for_is_believed_only_from_trusted_proxies(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    created = await client.post("/v1/keys", data={"role": "admin", "allowed_ips": "203.0.113.0/24"})
    auth = ("api", created.json()["key"]["secret"])
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    # No trusted proxies (the default): the header is the client's own claim and is ignored.
    assert (await client.get("/v4/domains", auth=auth, headers=forwarded)).status_code == 401
    runtime.services.trusted_proxies = (ipaddress.ip_network("127.0.0.0/8"),)
    assert (await client.get("/v4/domains", auth=auth, headers=forwarded)).status_code == 200
    # The client cannot smuggle an address in front of what the proxy appended.
    spoofed = {"X-Forwarded-For": "203.0.113.9, 198.51.100.1"}
    assert (await client.get("/v4/domains", auth=auth, headers=spoofed)).status_code == 401
    async with client_from(runtime, "198.51.100.2") as untrusted:
        assert (await untrusted.get("/v4/domains", auth=auth, headers=forwarded)).status_code == 401


async def test_expiry_is_checked_on_every_use_even_when_cached(store: Store) -> None:
    now = [1_000_000.0]
    row, secret = await create_key(store, role="admin", expiration=60, now=now[0])
    cache = KeyCache(store, seconds=3600, clock=lambda: now[0])
    assert (await cache.authenticate(basic(secret))).key_id == row.id
    now[0] += 59
    assert (await cache.authenticate(basic(secret))).key_id == row.id
    now[0] += 1
    with pytest.raises(Unauthorized):
        await cache.authenticate(basic(secret))
    await cache.close()


async def test_last_used_is_batched_not_written_per_request(store: Store) -> None:
    row, secret = await create_key(store, role="admin", now=1000.0)
    now = [2000.0]
    cache = KeyCache(store, flush_seconds=3600, clock=lambda: now[0])
    for _ in range(20):
        await cache.authenticate(basic(secret))
        now[0] += 1
    assert await last_used(store, row.id) is None  # nothing written yet
    await cache.flush()
    assert await last_used(store, row.id) == 2019.0
    # A process whose uses are older never moves the time backwards.
    stale = KeyCache(store, flush_seconds=3600, clock=lambda: 1500.0)
    await stale.authenticate(basic(secret))
    await stale.close()
    assert await last_used(store, row.id) == 2019.0
    await cache.close()


async def test_last_used_is_flushed_in_the_background(store: Store) -> None:
    row, secret = await create_key(store, role="admin", now=1000.0)
    cache = KeyCache(store, flush_seconds=0)
    await cache.authenticate(basic(secret))
    assert await wait_until(lambda: last_used(store, row.id), within=5)
    await cache.close()


async def test_key_listing_shows_last_used(client: httpx.AsyncClient) -> None:
    created = (await client.post("/v1/keys", data={"role": "basic"})).json()["key"]
    assert created["last_used_at"] is None
    listed = {k["id"]: k for k in (await client.get("/v1/keys")).json()["items"]}
    assert listed[created["id"]]["last_used_at"] is None
    primary = next(k for k in listed.values() if k["description"] == "primary private key")
    assert primary["last_used_at"] is not None  # this very request, flushed before listing
    assert (await client.get("/v4/domains", auth=("api", created["secret"]))).status_code == 200
    listed = {k["id"]: k for k in (await client.get("/v1/keys")).json()["items"]}
    assert listed[created["id"]]["last_used_at"].endswith(" GMT")


async def test_revocation_reaches_other_processes_at_once(postgres_database: str) -> None:
    """Two API processes, each with its own pool and a cache that would trust an answer for
    an hour: deleting the key through one makes the other refuse it within moments."""
    here, there = Store.from_url(postgres_database), Store.from_url(postgres_database)
    caches = [KeyCache(here, seconds=3600), KeyCache(there, seconds=3600)]
    try:
        for cache in caches:
            await cache.start()
        row, secret = await create_key(here, role="admin", now=1000.0)
        for cache in caches:
            assert (await cache.authenticate(basic(secret))).key_id == row.id
        await delete_key(here, row.id)

        async def refused() -> bool:
            try:
                await caches[1].authenticate(basic(secret))
            except Unauthorized:
                return True
            return False

        await wait_until(refused, within=2, interval=0.01)
    finally:
        for cache in caches:
            await cache.close()
        await here.close()
        await there.close()


async def test_lost_listener_forgets_and_listens_again(postgres_database: str) -> None:
    here, there = Store.from_url(postgres_database), Store.from_url(postgres_database)
    cache = KeyCache(there, seconds=3600)
    try:
        await cache.start()
        row, secret = await create_key(here, role="admin", now=1000.0)
        await cache.authenticate(basic(secret))
        [first] = await listeners(here)
        async with here.engine.begin() as conn:  # the listening connection dies
            await conn.exec_driver_sql(f"SELECT pg_terminate_backend({first})")

        async def listening_again() -> bool:
            return bool(await listeners(here)) and first not in await listeners(here)

        await wait_until(listening_again, within=LISTEN_RETRY_SECONDS + 5)
        await delete_key(here, row.id)

        async def refused() -> bool:
            try:
                await cache.authenticate(basic(secret))
            except Unauthorized:
                return True
            return False

        await wait_until(refused, within=2, interval=0.01)
    finally:
        await cache.close()
        await here.close()
        await there.close()


async def listeners(store: Store) -> list[int]:
    """Backends of this database listening for key changes."""
    async with store.read() as conn:
        rows = await conn.exec_driver_sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()"
        )
        return [int(r[0]) for r in rows]


async def test_roles_full_sending_and_read_only(client: httpx.AsyncClient, sandbox: str) -> None:
    """admin/developer: full; sending: send only; basic: read only (no sending either)."""
    send = {"from": f"me@{sandbox}", "to": "a@example.com", "text": "x"}
    answers = {}
    for role in ("admin", "developer", "sending", "basic"):
        secret = (await client.post("/v1/keys", data={"role": role})).json()["key"]["secret"]
        auth = ("api", secret)
        answers[role] = (
            (await client.post(f"/v3/{sandbox}/messages", data=send, auth=auth)).status_code,
            (await client.get("/v4/domains", auth=auth)).status_code,
            (
                await client.post("/v4/domains", data={"name": f"{role}.example"}, auth=auth)
            ).status_code,
        )
    assert answers == {
        "admin": (200, 200, 200),
        "developer": (200, 200, 200),
        "sending": (200, 403, 403),
        "basic": (403, 200, 403),
    }
