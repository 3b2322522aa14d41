"""The API without its worker, and delivery workers the test builds itself.

``serving()`` in ``tests/integration/test_delivery_mx.py`` runs the API and the worker together, as
``mailwright serve`` does. Tests of leases, crashes and SMTP timeouts need to choose when a worker
starts and with which ``WorkerConfig`` and ``Timeouts``; neither is a setting, so these helpers
compose the same real parts (``build_runtime``, ``DeliveryWorker``, ``SmtpTransport``) by hand.

    async with accepting(settings, store) as (services, client):
        ... send through client ...
        worker = delivery_worker(settings, services, lease=1.5)
        worker.start()
        ... [row] = await deliveries(store) ...
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
from sqlalchemy import select

from mailwright.api import Services
from mailwright.app import build_runtime, first_start, worker_config
from mailwright.config import Settings
from mailwright.delivery import DeliveryWorker, MtaSts, MxCache, SmtpConfig, SmtpTransport
from mailwright.delivery.smtp_client import Timeouts
from mailwright.store import Store, schema
from tests.conftest import API_KEY


@contextlib.asynccontextmanager
async def accepting(
    settings: Settings, store: Store
) -> AsyncIterator[tuple[Services, httpx.AsyncClient]]:
    """The API role alone (``serve --role api``): messages are queued, nothing delivers them."""
    runtime = build_runtime(settings, frozenset({"api"}), store=store)
    await first_start(settings, store)
    await runtime.start()
    transport = httpx.ASGITransport(app=runtime.app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", auth=("api", API_KEY)
        ) as client:
            yield runtime.services, client
    finally:
        await runtime.stop()


def delivery_worker(
    settings: Settings,
    services: Services,
    *,
    lease: float = 900.0,
    timeouts: Timeouts | None = None,
    idle_poll: float = 0.05,
) -> DeliveryWorker:
    """An MX-mode worker as ``build_runtime`` makes it, with a chosen lease and SMTP timeouts."""
    config = replace(worker_config(settings, services.retention), lease=lease, idle_poll=idle_poll)
    smtp = SmtpConfig(
        helo_name="mailwright.test",
        mx_port=settings.mx_port,
        concurrency=settings.destination_concurrency,
        rate=settings.destination_rate,
        timeouts=timeouts or Timeouts(),
    )
    transport = SmtpTransport(
        smtp,
        MxCache(services.resolver, time.monotonic),
        MtaSts(services.resolver, time.time),
        services.resolver,
    )
    return DeliveryWorker(services.store, config, transport, services.domains)


async def deliveries(store: Store) -> list[dict[str, Any]]:
    """Every delivery row (the queue), oldest first."""
    async with store.read() as conn:
        rows = await conn.execute(select(schema.deliveries).order_by(schema.deliveries.c.id))
        return [dict(r._mapping) for r in rows]


async def attempts(store: Store) -> list[dict[str, Any]]:
    """Every SMTP attempt row, oldest first."""
    async with store.read() as conn:
        rows = await conn.execute(select(schema.attempts).order_by(schema.attempts.c.id))
        return [dict(r._mapping) for r in rows]
