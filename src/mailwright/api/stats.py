"""Mailgun's stats and tags endpoints: ``/v3/{domain}/stats/total``, ``/v3/stats/total`` and
``/v3/{domain}/tags[/{tag}[/stats[/aggregates/...]]]``."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import (
    int_param,
    json_response,
    path_param,
    principal,
    read_form,
    services,
)
from mailwright.domains import get_domain
from mailwright.errors import InvalidInput
from mailwright.events import (
    StatsQuery,
    TagPage,
    delete_tag,
    describe_tag,
    get_tag,
    list_tags,
    parse_stats_query,
    stats_body,
    tag_json,
    totals,
)

MAX_LIMIT = 1000
AGGREGATES = ("countries", "providers", "devices")


async def _domain(request: Request, *, write: bool = False) -> str:
    (await principal(request)).require_account(write=write)
    return (await get_domain(services(request).store, path_param(request, "domain"))).name


def _query(request: Request) -> StatsQuery:
    params = request.query_params
    return parse_stats_query(params, params.getlist("event"), services(request).clock())


async def domain_total(request: Request) -> Response:
    """Stat totals of a domain: `event` (repeatable, required), `start`, `end` (RFC 2822 or
    epoch), `resolution` (hour, day, month), `duration` (e.g. 24h, 7d, 1m; overrides start)."""
    domain = await _domain(request)
    query = _query(request)
    test = (await principal(request)).is_test
    entries = await totals(services(request).store, query, domain=domain, test=test)
    return json_response(stats_body(query, entries))


async def account_total(request: Request) -> Response:
    """Stat totals of every domain of the account, with the parameters of the domain totals."""
    who = await principal(request)
    who.require_account()
    query = _query(request)
    entries = await totals(services(request).store, query, domain=None, test=who.is_test)
    return json_response(stats_body(query, entries))


def _paging(base: str, page: TagPage, limit: int, prefix: str | None) -> dict[str, str]:
    def url(name: str, tag: str | None) -> str:
        params = [("limit", str(limit)), ("page", name), ("tag", tag or "")]
        if prefix:
            params.append(("prefix", prefix))
        return f"{base}?{urlencode(params)}"

    return {
        "first": url("first", None),
        "last": url("last", None),
        "next": url("next", page.last_tag),
        "previous": url("prev", page.first_tag),
    }


async def list_all(request: Request) -> Response:
    """Tags of a domain in tag order: `limit` (max 1000), `page` (first, last, next, prev)
    relative to the `tag` cursor, `prefix`."""
    domain = await _domain(request)
    svc = services(request)
    limit = int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
    prefix = request.query_params.get("prefix") or None
    page = await list_tags(
        svc.store,
        domain,
        limit=limit,
        page=request.query_params.get("page") or None,
        cursor=request.query_params.get("tag") or None,
        prefix=prefix,
    )
    base = f"{svc.public_url}/v3/{domain}/tags"
    return json_response(
        {"items": [tag_json(t) for t in page.tags], "paging": _paging(base, page, limit, prefix)}
    )


async def get_one(request: Request) -> Response:
    """One tag: description, first and last time a message carried it."""
    domain = await _domain(request)
    tag = await get_tag(services(request).store, domain, path_param(request, "tag"))
    return json_response(tag_json(tag))


async def update(request: Request) -> Response:
    """Set a tag's `description`."""
    domain = await _domain(request, write=True)
    form = await read_form(request)
    description = form.get("description")
    if description is None:
        description = request.query_params.get("description")
    if description is None:
        raise InvalidInput("'description' parameter is missing", field="description")
    await describe_tag(services(request).store, domain, path_param(request, "tag"), description)
    return json_response({"message": "Tag updated"})


async def delete(request: Request) -> Response:
    """Delete a tag and its stats."""
    domain = await _domain(request, write=True)
    await delete_tag(services(request).store, domain, path_param(request, "tag"))
    return json_response({"message": "Tag deleted"})


async def tag_total(request: Request) -> Response:
    """Stats of one tag, with the parameters of the domain totals."""
    domain = await _domain(request)
    svc = services(request)
    tag = await get_tag(svc.store, domain, path_param(request, "tag"))
    query = _query(request)
    test = (await principal(request)).is_test
    entries = await totals(svc.store, query, domain=domain, tag=tag.tag, test=test)
    return json_response(stats_body(query, entries, tag.description) | {"tag": tag.tag})


def _aggregate(kind: str) -> Route:
    async def endpoint(request: Request) -> Response:
        domain = await _domain(request)
        tag = await get_tag(services(request).store, domain, path_param(request, "tag"))
        return json_response({"tag": tag.tag, kind: {}})

    endpoint.__name__ = f"aggregate_{kind}"
    endpoint.__doc__ = (
        f"A tag's stats per {kind[:-1] if kind != 'countries' else 'country'}: always empty, "
        "as mailwright records no geolocation or client facts per tag."
    )
    return Route(f"/v3/{{domain}}/tags/{{tag}}/stats/aggregates/{kind}", endpoint, methods=["GET"])


TAG = "/v3/{domain}/tags/{tag}"

ROUTES = [
    Route("/v3/stats/total", account_total, methods=["GET"]),
    Route("/v3/{domain}/stats/total", domain_total, methods=["GET"]),
    Route("/v3/{domain}/tags", list_all, methods=["GET"]),
    Route(TAG, get_one, methods=["GET"]),
    Route(TAG, update, methods=["PUT"]),
    Route(TAG, delete, methods=["DELETE"]),
    Route(TAG + "/stats", tag_total, methods=["GET"]),
    *(_aggregate(kind) for kind in AGGREGATES),
]
