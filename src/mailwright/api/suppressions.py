"""Mailgun's suppression endpoints: ``/v3/{domain}/{bounces|unsubscribes|complaints|whitelists}``.

Each list has the same six calls (list with address-cursor paging, get, add by form, JSON
batch or CSV file, CSV import, delete one, delete all); ``ROUTES`` binds them per list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import (
    Form,
    int_param,
    json_response,
    path_param,
    principal,
    read_form,
    services,
)
from mailwright.api.nul import refuse_nul_json
from mailwright.domains import get_domain
from mailwright.errors import InvalidInput
from mailwright.suppressions import (
    KINDS,
    TEXTS,
    Entry,
    Page,
    add_entries,
    delete_all,
    delete_entry,
    entry_json,
    get_entry,
    list_entries,
    parse_csv,
    parse_entry,
    parse_json,
)

Handler = Callable[[Request, str], Awaitable[Response]]
MAX_LIMIT = 10_000


async def _domain(request: Request, *, write: bool = False) -> str:
    (await principal(request)).require_account(write=write)
    return (await get_domain(services(request).store, path_param(request, "domain"))).name


async def _test(request: Request) -> bool:
    """A test-environment credential reads and changes the test lists, never the live ones."""
    return (await principal(request)).is_test


def _value(request: Request, kind: str) -> str:
    return path_param(request, "value" if kind == "whitelists" else "address")


def _paging(base: str, page: Page, limit: int, term: str | None) -> dict[str, str]:
    def url(name: str, address: str | None = None) -> str:
        params = [("page", name)]
        if address:
            params.append(("address", address))
        params.append(("limit", str(limit)))
        if term:
            params.append(("term", term))
        return f"{base}?{urlencode(params)}"

    return {
        "first": url("first"),
        "last": url("last"),
        "next": url("next", page.last_value),
        "previous": url("prev", page.first_value),
    }


async def list_all(request: Request, kind: str) -> Response:
    """List {kind} in address order: `limit` (max 10000), `page` (first, last, next, prev)
    relative to the `address` cursor, `term` (address prefix)."""
    domain = await _domain(request)
    svc = services(request)
    limit = int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
    term = request.query_params.get("term") or None
    page = await list_entries(
        svc.store,
        domain,
        kind,
        limit=limit,
        page=request.query_params.get("page") or None,
        cursor=request.query_params.get("address") or None,
        term=term,
        test=await _test(request),
    )
    base = f"{svc.public_url}/v3/{domain}/{kind}"
    return json_response(
        {
            "items": [entry_json(e) for e in page.entries],
            "paging": _paging(base, page, limit, term),
        }
    )


async def get_one(request: Request, kind: str) -> Response:
    """One entry of {kind}; 404 when the address is not there."""
    domain = await _domain(request)
    return json_response(
        entry_json(
            await get_entry(
                services(request).store,
                domain,
                kind,
                _value(request, kind),
                test=await _test(request),
            )
        )
    )


def _added(kind: str, entry: Entry) -> dict[str, Any]:
    if kind == "whitelists":
        return {"message": TEXTS[kind].added, "type": entry.type, "value": entry.value}
    return {"message": TEXTS[kind].added, "address": entry.value}


async def _json_body(request: Request) -> Any:
    try:
        body = await request.json()
    except ValueError:
        raise InvalidInput("request body is not valid JSON", field="body") from None
    refuse_nul_json(body)
    return body


def _csv_file(form: Form, kind: str, now: float) -> list[Entry] | None:
    files = [u for u in form.uploads if u.field == "file"]
    return None if not files else parse_csv(kind, files[0].data, now)


async def create(request: Request, kind: str) -> Response:
    """Add to {kind}: one entry by form, up to 1000 as a JSON array, or a CSV `file`;
    entries already there are updated."""
    domain = await _domain(request, write=True)
    svc = services(request)
    now = svc.clock()
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await _json_body(request)
        entries = parse_json(kind, body, now)
        await add_entries(svc.store, domain, kind, entries, test=await _test(request))
        if isinstance(body, dict):
            return json_response(_added(kind, entries[0]))
        return json_response({"message": TEXTS[kind].batch.format(n=len(entries))})
    form = await read_form(request)
    from_file = _csv_file(form, kind, now)
    if from_file is not None:
        await add_entries(svc.store, domain, kind, from_file, test=await _test(request))
        return json_response({"message": TEXTS[kind].batch.format(n=len(from_file))})
    fields: dict[str, list[str]] = {}
    for key, value in form.fields:
        fields.setdefault(key, []).append(value)
    entry = parse_entry(kind, fields, now)
    await add_entries(svc.store, domain, kind, [entry], test=await _test(request))
    return json_response(_added(kind, entry))


async def import_csv(request: Request, kind: str) -> Response:
    """Import {kind} from a CSV `file` with an `address` column (whitelists: `address` or
    `domain`); answers 202 once the file is stored."""
    domain = await _domain(request, write=True)
    svc = services(request)
    entries = _csv_file(await read_form(request), kind, svc.clock())
    if entries is None:
        raise InvalidInput("'file' parameter is missing", field="file")
    await add_entries(svc.store, domain, kind, entries, test=await _test(request))
    return json_response({"message": "file uploaded successfully"}, status=202)


async def delete_one(request: Request, kind: str) -> Response:
    """Remove one address from {kind} (unsubscribes: only the given `tag`, if any)."""
    domain = await _domain(request, write=True)
    value = _value(request, kind).lower()
    tag = request.query_params.get("tag") or None
    test = await _test(request)
    await delete_entry(services(request).store, domain, kind, value, tag=tag, test=test)
    key = "value" if kind == "whitelists" else "address"
    return json_response({"message": TEXTS[kind].removed, key: value})


async def delete_every(request: Request, kind: str) -> Response:
    """Remove every entry of {kind} for the domain."""
    domain = await _domain(request, write=True)
    await delete_all(services(request).store, domain, kind, test=await _test(request))
    return json_response({"message": TEXTS[kind].cleared})


def _bind(kind: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await handler(request, kind)

    endpoint.__name__ = f"{handler.__name__}_{kind}"
    endpoint.__doc__ = (handler.__doc__ or "").replace("{kind}", kind)
    return endpoint


def _routes(kind: str) -> list[Route]:
    base = f"/v3/{{domain}}/{kind}"
    one = base + ("/{value}" if kind == "whitelists" else "/{address}")
    return [
        Route(base, _bind(kind, list_all), methods=["GET"]),
        Route(base, _bind(kind, create), methods=["POST"]),
        Route(base, _bind(kind, delete_every), methods=["DELETE"]),
        Route(base + "/import", _bind(kind, import_csv), methods=["POST"]),
        Route(one, _bind(kind, get_one), methods=["GET"]),
        Route(one, _bind(kind, delete_one), methods=["DELETE"]),
    ]


ROUTES = [route for kind in KINDS for route in _routes(kind)]
