"""Sending domains: the list, adding one, and a domain's DNS records with a live check."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailwright.api.context import path_param, services
from mailwright.domains import DnsRecord, create_domain, get_domain, list_domains, verify_domain
from mailwright.errors import ServiceError
from mailwright.web.forms import MAX_DOMAINS, failure, read_form, text
from mailwright.web.session import page
from mailwright.web.templating import render

KEY_SIZES = ("2048", "1024")


async def _list(request: Request, *, error: str = "", status: int = 200) -> Response:
    total, rows = await list_domains(services(request).store, limit=MAX_DOMAINS)
    context = {"title": "Domains", "domains": rows, "total": total, "error": error}
    return render(request, "domains.html", context | {"key_sizes": KEY_SIZES}, status=status)


@page
async def domains(request: Request) -> Response:
    return await _list(request)


@page
async def add(request: Request) -> Response:
    svc = services(request)
    form = await read_form(request)
    options = {"name": text(form, "name"), "dkim_key_size": text(form, "dkim_key_size") or "2048"}
    try:
        row = await create_domain(svc.store, options["name"], options, now=svc.clock())
    except ServiceError as exc:
        message, status = failure(exc)
        return await _list(request, error=message, status=status)
    return RedirectResponse(f"/domains/{quote(row.name)}", status_code=303)


def _detail(
    request: Request,
    row: Any,  # a DomainRow; web does not import the store
    sending: list[DnsRecord],
    receiving: list[DnsRecord],
    *,
    checked: bool,
) -> Response:
    context: dict[str, Any] = {
        "title": row.name,
        "domain": row,
        "sending": sending,
        "receiving": receiving,
        "checked": checked,
    }
    return render(request, "domain.html", context)


@page
async def domain(request: Request) -> Response:
    svc = services(request)
    try:
        row = await get_domain(svc.store, path_param(request, "name"))
    except ServiceError as exc:
        message, status = failure(exc)
        context = {"title": "Domain not found", "message": message}
        return render(request, "error.html", context, status=status)
    sending, receiving = svc.dns_plan.sending(row), svc.dns_plan.receiving(row)
    return _detail(request, row, sending, receiving, checked=False)


@page
async def verify(request: Request) -> Response:
    """The same check as ``PUT /v4/domains/{name}/verify``: real DNS lookups, now."""
    svc = services(request)
    try:
        row, sending, receiving = await verify_domain(
            svc.store, svc.resolver, svc.dns_plan, path_param(request, "name"), now=svc.clock()
        )
        svc.domains.forget(row.name)  # a rotated DKIM key may have become the active one
    except ServiceError as exc:
        message, status = failure(exc)
        context = {"title": "Domain not found", "message": message}
        return render(request, "error.html", context, status=status)
    return _detail(request, row, sending, receiving, checked=True)


ROUTES = [
    Route("/domains", domains, methods=["GET"]),
    Route("/domains", add, methods=["POST"]),
    Route("/domains/{name}", domain, methods=["GET"]),
    Route("/domains/{name}/verify", verify, methods=["POST"]),
]
