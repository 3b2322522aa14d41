"""Mailgun's inbound routes (``/v3/routes``): account-wide, so any account key may read them
and any key above ``basic`` may change them; domain sending keys are refused."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright import inbound
from mailwright.api.context import Form, int_param, json_response, path_param, principal, read_form
from mailwright.api.context import services as services_of

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


async def _authorise(request: Request, *, write: bool = False) -> None:
    (await principal(request)).require_account(write=write)


def _input(form: Form) -> inbound.RouteInput:
    actions = form.get_all("action")
    return inbound.RouteInput(
        priority=form.get("priority"),
        description=form.get("description"),
        expression=form.get("expression"),
        actions=tuple(actions) if actions else None,
    )


async def list_all(request: Request) -> Response:
    """List routes in evaluation order (priority, then oldest first): `skip`, `limit`
    (default 100, max 1000)."""
    await _authorise(request)
    skip = int_param(request, "skip", 0, high=10**9)
    limit = int_param(request, "limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
    page = await inbound.list_routes(services_of(request).store, skip=skip, limit=limit)
    return json_response(
        {"total_count": page.total_count, "items": [r.to_json() for r in page.items]}
    )


async def create(request: Request) -> Response:
    """Create a route: `priority` (integer, lower runs first, default 0), `description`,
    `expression` (required), `action` (repeatable, at least one)."""
    await _authorise(request, write=True)
    svc = services_of(request)
    route = await inbound.create_route(svc.store, _input(await read_form(request)), now=svc.clock())
    return json_response({"message": "Route has been created", "route": route.to_json()})


async def match(request: Request) -> Response:
    """The first route whose expression matches `address` (headers are not considered)."""
    await _authorise(request)
    address = request.query_params.get("address") or ""
    route = await inbound.match_route(services_of(request).store, address)
    return json_response({"route": route.to_json()})


async def get_one(request: Request) -> Response:
    """One route."""
    await _authorise(request)
    route = await inbound.get_route(services_of(request).store, path_param(request, "route_id"))
    return json_response({"route": route.to_json()})


async def update(request: Request) -> Response:
    """Change any of `priority`, `description`, `expression`, `action` (repeatable; replaces
    all actions); the other fields stay."""
    await _authorise(request, write=True)
    route = await inbound.update_route(
        services_of(request).store,
        path_param(request, "route_id"),
        _input(await read_form(request)),
    )
    body = route.to_json()
    # Mailgun's older reference answers the route's fields at the top level, the newer one
    # under "route"; both are given so either kind of client finds them.
    return json_response({**body, "message": "Route has been updated", "route": body})


async def delete(request: Request) -> Response:
    """Delete a route."""
    await _authorise(request, write=True)
    route_id = path_param(request, "route_id")
    await inbound.delete_route(services_of(request).store, route_id)
    return json_response({"message": "Route has been deleted", "id": route_id})


BASE = "/v3/routes"

ROUTES = [
    Route(BASE, list_all, methods=["GET"]),
    Route(BASE, create, methods=["POST"]),
    Route(BASE + "/match", match, methods=["GET"]),
    Route(BASE + "/{route_id}", get_one, methods=["GET"]),
    Route(BASE + "/{route_id}", update, methods=["PUT"]),
    Route(BASE + "/{route_id}", delete, methods=["DELETE"]),
]
