"""Every dashboard page, in one table, plus the static files (served locally, no CDN)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from mailwright.web.pages import (
    blocklists,
    domains,
    inbox,
    ips,
    keys,
    login,
    messages,
    overview,
    queues,
    sso,
    suppressions,
    templates,
    uptime,
    webhooks,
)

ROUTES: list[BaseRoute] = [
    *login.ROUTES,
    *sso.ROUTES,
    *overview.ROUTES,
    *domains.ROUTES,
    *messages.ROUTES,
    *inbox.ROUTES,
    *suppressions.ROUTES,
    *webhooks.ROUTES,
    *templates.ROUTES,
    *keys.ROUTES,
    *queues.ROUTES,
    *uptime.ROUTES,
    *ips.ROUTES,
    *blocklists.ROUTES,
    Mount("/static", StaticFiles(packages=[("mailwright.web", "static")]), name="static"),
]
