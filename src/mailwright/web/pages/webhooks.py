"""Webhooks per domain: each kind's URLs (add, change, delete, send a test event) and the
domain's recent webhook deliveries with what the receivers answered."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailwright.api.context import path_param, services
from mailwright.domains import get_domain
from mailwright.errors import ServiceError
from mailwright.events import WebhookKind
from mailwright.web.forms import domain_names, failure, pick_domain, read_form
from mailwright.web.session import page
from mailwright.web.templating import render
from mailwright.webhooks import (
    KINDS,
    delete_webhook,
    list_deliveries,
    list_webhooks,
    parse_kind,
    parse_urls,
    put_webhook,
    send_test,
)

RECENT = 50
URL_FIELDS = 3


async def _show(
    request: Request,
    domain: str | None = None,
    *,
    error: str = "",
    status: int = 200,
    tested: list[dict[str, Any]] | None = None,
) -> Response:
    store = services(request).store
    names = await domain_names(request)
    chosen = pick_domain(request, names, domain)
    hooks = await list_webhooks(store, chosen) if chosen else {}
    recent = (
        await list_deliveries(store, status=None, domain=chosen, limit=RECENT) if chosen else []
    )
    context = {
        "title": "Webhooks",
        "domains": names,
        "domain": chosen,
        "kinds": KINDS,
        "hooks": hooks,
        "url_fields": URL_FIELDS,
        "deliveries": recent,
        "tested": tested,
        "error": error,
    }
    return render(request, "webhooks.html", context, status=status)


@page
async def webhooks(request: Request) -> Response:
    return await _show(request)


async def _target(request: Request) -> tuple[str, WebhookKind]:
    domain = (await get_domain(services(request).store, path_param(request, "domain"))).name
    return domain, parse_kind(path_param(request, "kind"), field="kind")


def _back(domain: str) -> Response:
    return RedirectResponse(f"/webhooks?domain={quote(domain)}", status_code=303)


@page
async def save(request: Request) -> Response:
    """Create the kind's webhook, or replace its URLs when it exists (like POST or PUT)."""
    svc = services(request)
    given = path_param(request, "domain")
    try:
        domain, kind = await _target(request)
        form = await read_form(request)
        urls = await parse_urls(
            form.get_all("url"), svc.resolver, allow_private=svc.allow_private_urls
        )
        exists = kind in await list_webhooks(svc.store, domain)
        await put_webhook(svc.store, domain, kind, urls, create=not exists, now=svc.clock())
    except ServiceError as exc:
        message, status = failure(exc)
        return await _show(request, given, error=message, status=status)
    svc.webhooks.forget(domain)
    return _back(domain)


@page
async def delete(request: Request) -> Response:
    svc = services(request)
    given = path_param(request, "domain")
    try:
        domain, kind = await _target(request)
        await delete_webhook(svc.store, domain, kind)
    except ServiceError as exc:
        message, status = failure(exc)
        return await _show(request, given, error=message, status=status)
    svc.webhooks.forget(domain)
    return _back(domain)


@page
async def test(request: Request) -> Response:
    """POST a signed test event to each URL now (as the API's test endpoint does)."""
    svc = services(request)
    given = path_param(request, "domain")
    try:
        domain, kind = await _target(request)
        results = await send_test(
            svc.store,
            svc.webhook_poster,
            svc.resolver,
            domain,
            kind,
            allow_private=svc.allow_private_urls,
            now=svc.clock(),
        )
    except ServiceError as exc:
        message, status = failure(exc)
        return await _show(request, given, error=message, status=status)
    return await _show(request, domain, tested=[{"kind": str(kind), **r} for r in results])


ONE = "/webhooks/{domain}/{kind}"

ROUTES = [
    Route("/webhooks", webhooks, methods=["GET"]),
    Route(ONE, save, methods=["POST"]),
    Route(ONE + "/delete", delete, methods=["POST"]),
    Route(ONE + "/test", test, methods=["POST"]),
]
