"""Suppressions of one domain: bounces, unsubscribes, complaints and the allowlist, in address
order with Mailgun's cursor paging; add one, delete one."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import services
from mailwright.domains import get_domain
from mailwright.errors import InvalidInput, NotFound
from mailwright.suppressions import (
    KINDS,
    add_entries,
    delete_entry,
    list_entries,
    parse_entry,
)
from mailwright.web.forms import domain_names, link, param, see_other
from mailwright.web.session import page
from mailwright.web.templating import render

PAGE_SIZE = 50
LABELS = {
    "bounces": "Bounces",
    "unsubscribes": "Unsubscribes",
    "complaints": "Complaints",
    "whitelists": "Allowlist",
}
PAGES = ("first", "next", "prev", "last")
ADD_FIELDS = ("address", "code", "error", "tag", "reason")


def _kind(value: str) -> str:
    kind = value or KINDS[0]
    if kind not in KINDS:
        raise InvalidInput(f"'kind' must be one of {', '.join(KINDS)}", field="kind")
    return kind


async def _domain(request: Request, name: str) -> str:
    if not name:
        raise InvalidInput("Choose a domain", field="domain")
    return (await get_domain(services(request).store, name)).name


def _here(domain: str, kind: str, term: str = "") -> str:
    return link("/suppressions", {"domain": domain, "kind": kind, "term": term})


async def _show(
    request: Request,
    values: dict[str, str],
    *,
    added: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    """The list page for ``values`` (domain, kind, term, page, address); an ``error`` (with
    the add form's ``added`` values kept) is shown above the list."""
    svc = services(request)
    domains = await domain_names(request)
    domain = values["domain"] or (domains[0] if domains else "")
    kind = values["kind"] if values["kind"] in KINDS else KINDS[0]
    context: dict[str, Any] = {
        "title": "Suppressions",
        "domains": domains,
        "domain": domain,
        "kind": kind,
        "kinds": LABELS,
        "term": values["term"],
        "entries": [],
        "next": "",
        "previous": "",
        "added": added or dict.fromkeys(ADD_FIELDS, ""),
        "error": error,
    }
    if not domain:
        return render(request, "suppressions.html", context, status)
    where = values["page"] or "first"
    try:
        kind = _kind(values["kind"])
        domain = await _domain(request, domain)
        if where not in PAGES:
            raise InvalidInput("'page' must be one of first, next, prev, last", field="page")
        found = await list_entries(
            svc.store,
            domain,
            kind,
            limit=PAGE_SIZE,
            page=where,
            cursor=values["address"] or None,
            term=values["term"] or None,
        )
    except (InvalidInput, NotFound) as exc:
        context["error"] = exc.message
        return render(
            request, "suppressions.html", context, 404 if isinstance(exc, NotFound) else 400
        )
    is_full = len(found.entries) == PAGE_SIZE
    backwards = where in ("prev", "last")
    base = {"domain": domain, "kind": kind, "term": values["term"]}
    if found.entries and (backwards or is_full) and where != "last":
        context["next"] = link(
            "/suppressions", {**base, "page": "next", "address": found.last_value or ""}
        )
    if found.entries and (is_full if backwards else where != "first"):
        context["previous"] = link(
            "/suppressions", {**base, "page": "prev", "address": found.first_value or ""}
        )
    context |= {"entries": found.entries, "domain": domain, "kind": kind}
    return render(request, "suppressions.html", context, status)


@page
async def suppressions(request: Request) -> Response:
    names = ("domain", "kind", "term", "page", "address")
    return await _show(request, {n: param(request.query_params, n) for n in names})


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {str(k): v.strip() for k, v in form.items() if isinstance(v, str)}


@page
async def add(request: Request) -> Response:
    form = await _form(request)
    values = {
        "domain": form.get("domain", ""),
        "kind": form.get("kind", ""),
        "term": "",
        "page": "",
        "address": "",
    }
    added = {name: form.get(name, "") for name in ADD_FIELDS}
    try:
        domain = await _domain(request, values["domain"])
    except (InvalidInput, NotFound) as exc:
        return await _show(request, {**values, "domain": ""}, error=exc.message, status=400)
    try:
        kind = _kind(values["kind"])
        fields = {name: [value] for name, value in added.items() if value}
        given = fields.pop("address", [""])[0]
        if kind == "whitelists" and given and "@" not in given:
            fields["domain"] = [given]  # the allowlist takes a whole domain too
        elif given:
            fields["address"] = [given]
        entry = parse_entry(kind, fields, services(request).clock())
        await add_entries(services(request).store, domain, kind, [entry])
    except (InvalidInput, NotFound) as exc:
        return await _show(request, values, added=added, error=exc.message, status=400)
    return see_other(_here(domain, kind))


@page
async def remove(request: Request) -> Response:
    form = await _form(request)
    values = {
        "domain": form.get("domain", ""),
        "kind": form.get("kind", ""),
        "term": "",
        "page": "",
        "address": "",
    }
    try:
        domain = await _domain(request, values["domain"])
    except (InvalidInput, NotFound) as exc:
        return await _show(request, {**values, "domain": ""}, error=exc.message, status=400)
    try:
        kind = _kind(values["kind"])
        await delete_entry(services(request).store, domain, kind, form.get("address", ""))
    except (InvalidInput, NotFound) as exc:
        return await _show(request, values, error=exc.message, status=400)
    return see_other(_here(domain, kind))


ROUTES = [
    Route("/suppressions", suppressions, methods=["GET"]),
    Route("/suppressions/add", add, methods=["POST"]),
    Route("/suppressions/delete", remove, methods=["POST"]),
]
