"""Composition root: Settings -> Store -> services -> ASGI app and workers.

The only module that imports every package. ``Runtime`` owns the lifetime of what it builds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.applications import Starlette

from mailwright.api import Services, create_app
from mailwright.auth import KeyCache, ensure_primary_key
from mailwright.config import Settings
from mailwright.delivery import DeliveryWorker, WorkerConfig
from mailwright.domains import DnsPlan, DomainCache, ensure_sandbox
from mailwright.logs import get_logger
from mailwright.resolver import Resolver
from mailwright.store import Store, queries

log = get_logger(__name__)

PURGE_EVERY_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class FirstStart:
    """What first start created and must be told once."""

    api_key: str | None
    sandbox: str | None


def build_store(settings: Settings) -> Store:
    return Store.from_url(settings.effective_database_url)


def build_services(settings: Settings, store: Store) -> Services:
    public = settings.effective_public_url
    return Services(
        store=store,
        keys=KeyCache(store),
        domains=DomainCache(store, time.monotonic),
        resolver=Resolver(settings.dns_server),
        dns_plan=DnsPlan.for_host(urlsplit(public).hostname or "localhost"),
        public_url=public,
        retention=settings.retention_hours * 3600,
    )


async def first_start(settings: Settings, store: Store) -> FirstStart:
    """Create the primary key and the sandbox domain when they do not exist yet."""
    configured = str(settings.api_key) if settings.api_key else None
    now = time.time()
    key = await ensure_primary_key(store, configured, now)
    sandbox = await ensure_sandbox(store, now=now)
    return FirstStart(api_key=key, sandbox=None if sandbox is None else sandbox.name)


@dataclass
class Runtime:
    """The running server: the HTTP app plus the background workers of the chosen roles."""

    settings: Settings
    store: Store
    services: Services
    roles: frozenset[str]
    app: Starlette = field(init=False)
    worker: DeliveryWorker | None = None
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = create_app(self.services)

    async def start(self) -> None:
        if "worker" in self.roles:
            self.worker = DeliveryWorker(
                self.store, WorkerConfig(retention=self.services.retention)
            )
            self.services.on_accepted = self.worker.kick
            self.worker.start()
            self._tasks.append(asyncio.create_task(self._purge_loop()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.worker is not None:
            await self.worker.stop()
        await self.store.close()

    async def _purge_loop(self) -> None:
        while True:
            now = time.time()

            async def purge(conn: AsyncConnection, now: float = now) -> int:
                removed = await queries.purge_expired(conn, now)
                await queries.purge_events(conn, now - self.services.retention)
                return removed

            try:
                removed = await self.store.write(purge)
                if removed:
                    log.info("retention_purged", messages=removed)
            except Exception:
                log.exception("retention_purge_failed")
            await asyncio.sleep(PURGE_EVERY_SECONDS)


def build_runtime(settings: Settings, roles: frozenset[str], store: Store | None = None) -> Runtime:
    store = store or build_store(settings)
    return Runtime(
        settings=settings, store=store, services=build_services(settings, store), roles=roles
    )
