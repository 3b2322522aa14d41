"""Monitoring endpoints: ``/metrics`` (Prometheus) and ``/readyz`` (readiness)."""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mailwright.api.context import client_of, principal, services
from mailwright.api.metrics import CONTENT_TYPE, Metrics, Scrape
from mailwright.delivery import is_queue_readable, queue_health
from mailwright.domains import current_listings
from mailwright.inbound import is_loopback, received_backlog
from mailwright.uptime import endpoint_rates, role_uptime
from mailwright.webhooks import outbox_backlog


async def metrics(request: Request) -> Response:
    """Prometheus metrics: HTTP requests by route, queues per destination, delivery attempts,
    webhook and inbound backlogs, database pool, and the last day's availability per node and
    role and success rate per endpoint.

    No key is needed from a loopback client; others need an account key."""
    if not _is_local(request):
        (await principal(request)).require_account()
    found = services(request)
    store, now = found.store, found.clock()
    size, checked_out = store.pool_usage()
    is_up = await store.ping()
    scrape = Scrape(
        now=now,
        is_database_up=is_up,
        pool_size=size,
        pool_checked_out=checked_out,
        attempts=found.attempt_counts(),
    )
    if is_up:
        queue = await queue_health(store, now)
        scrape = dataclasses.replace(
            scrape,
            destinations=queue.destinations,
            deliveries=queue.deliveries,
            webhooks=await outbox_backlog(store),
            inbound=await received_backlog(store),
            listings=[(r.kind, r.target, r.zone) for r in await current_listings(store)],
            uptime=await role_uptime(store, now),
            endpoints=await endpoint_rates(store, now),
        )
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(scrape), media_type=CONTENT_TYPE)


def _is_local(request: Request) -> bool:
    """A loopback client not speaking through a proxy: a reverse proxy on this machine that is
    not in MAILWRIGHT_TRUSTED_PROXIES connects from loopback for every client it forwards."""
    headers = request.headers
    if "forwarded" in headers or "x-forwarded-for" in headers:
        return False
    return is_loopback(client_of(request))


async def readyz(request: Request) -> Response:
    """Readiness: 200 when the database answers and the delivery queue can be read, else 503
    naming the failing check."""
    store = services(request).store
    is_database_up = await store.ping()
    checks = {
        "database": "ok" if is_database_up else "unavailable",
        "queue": "ok" if is_database_up and await is_queue_readable(store) else "unavailable",
    }
    if all(value == "ok" for value in checks.values()):
        return JSONResponse({"status": "ready", "checks": checks})
    return JSONResponse({"status": "unavailable", "checks": checks}, status_code=503)
