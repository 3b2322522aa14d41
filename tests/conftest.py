"""Shared fixtures: a clean environment, a store on SQLite and PostgreSQL, an API client."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from mailwright.app import Runtime, build_runtime, first_start
from mailwright.config import Settings
from mailwright.store import Store, schema
from tests.support.postgres import create_database, drop_database, url_of

API_KEY = "test-primary-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's MAILWRIGHT_* variables must not leak into a test (procrastinate)."""
    for name in list(os.environ):
        if name.startswith("MAILWRIGHT_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """One migrated PostgreSQL database for the session; tests empty it before they run."""
    name = f"mailwright_test_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(create_database(name))
    url = url_of(name)

    async def migrate() -> None:
        store = Store.from_url(url)
        await store.migrate()
        await store.close()

    asyncio.run(migrate())
    yield url
    asyncio.run(drop_database(name))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mailwright.db'}"
    url: str = request.getfixturevalue("postgres_database")
    return url


async def _truncate(store: Store) -> None:
    async with store.engine.begin() as conn:
        names = ", ".join(t.name for t in schema.metadata.sorted_tables)
        await conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    store = Store.from_url(database_url)
    await store.migrate()
    if store.is_postgres:
        await _truncate(store)
    yield store
    await store.close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings.from_env(
        environ={
            "MAILWRIGHT_DATA_DIR": str(tmp_path),
            "MAILWRIGHT_DATABASE_URL": database_url,
            "MAILWRIGHT_API_KEY": API_KEY,
            "MAILWRIGHT_PUBLIC_URL": "http://testserver",
        }
    )


@pytest.fixture
async def runtime(settings: Settings, store: Store) -> AsyncIterator[Runtime]:
    """The whole server (API and capture worker) in this event loop, without sockets."""
    runtime = build_runtime(settings, frozenset({"api", "worker"}), store=store)
    await first_start(settings, store)
    await runtime.start()
    yield runtime
    await runtime.stop()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=runtime.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", auth=("api", API_KEY)
    ) as client:
        yield client


@pytest.fixture
async def sandbox(client: httpx.AsyncClient) -> str:
    response = await client.get("/v4/domains")
    name: str = response.json()["items"][0]["name"]
    return name
