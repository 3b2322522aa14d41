"""Queue health: the delivery queue per destination (deferred count, oldest message, last
error), and the webhook and inbound backlogs. The same figures as ``/metrics`` and
``mailwright status``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import services
from mailwright.delivery import queue_health, settled_last_day
from mailwright.inbound import received_backlog
from mailwright.store import Backlog
from mailwright.web.session import page
from mailwright.web.templating import render
from mailwright.webhooks import outbox_backlog


def _row(name: str, backlog: Backlog, now: float) -> dict[str, object]:
    oldest = None if backlog.oldest_at is None else max(0.0, now - backlog.oldest_at)
    return {
        "name": name,
        "queued": backlog.queued,
        "deferred": backlog.deferred,
        "oldest": oldest,
    }


@page
async def queues_page(request: Request) -> Response:
    svc = services(request)
    now = svc.clock()
    health = await queue_health(svc.store, now)
    backlogs = [
        _row("Deliveries", health.deliveries, now),
        _row("Webhooks", await outbox_backlog(svc.store), now),
        _row("Inbound", await received_backlog(svc.store), now),
    ]
    context = {
        "title": "Queues",
        "backlogs": backlogs,
        "destinations": health.destinations,
        "last_day": await settled_last_day(svc.store, now),
    }
    return render(request, "queues.html", context)


ROUTES = [Route("/queues", queues_page, methods=["GET"])]
