"""``GET /v3/{domain}/events`` with Mailgun's filters and page-token URLs."""

from __future__ import annotations

from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response

from mailwright.api.context import json_response, path_param, principal, services
from mailwright.domains import get_domain
from mailwright.events import EventQuery, fetch, paging, parse_query


async def _domain(request: Request) -> str:
    (await principal(request)).require_account()
    return (await get_domain(services(request).store, path_param(request, "domain"))).name


async def _page(request: Request, query: EventQuery, domain: str) -> Response:
    svc = services(request)
    who = await principal(request)
    page = await fetch(svc.store, replace(query, is_test_only=who.is_test))
    base = f"{svc.public_url}/v3/{domain}/events"
    return json_response({"items": page.items, "paging": paging(page, base)})


async def search(request: Request) -> Response:
    """Events of a domain: `begin`, `end`, `ascending`, `limit` (max 300) and field filters."""
    domain = await _domain(request)
    token = request.query_params.get("page")
    if token:
        return await _page(request, EventQuery.from_token(token, domain), domain)
    query = parse_query(
        dict(request.query_params), domain, list(request.query_params.multi_items())
    )
    return await _page(request, query, domain)


async def page(request: Request) -> Response:
    """A page of events named by a token from a `paging` URL."""
    domain = await _domain(request)
    query = EventQuery.from_token(path_param(request, "token"), domain)
    return await _page(request, query, domain)
