"""Mailgun's mailing lists: ``/v3/lists`` and ``/v3/lists/{address}/members``. A list's
validation (``/v3/lists/{address}/validate``) is served with the other validation jobs, in
``api/validation.py``."""

from __future__ import annotations

import contextlib
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright import lists
from mailwright.api.context import (
    Form,
    int_param,
    json_response,
    path_param,
    principal,
    read_form,
    services,
)
from mailwright.errors import InvalidInput, NotFound

MAX_LIMIT = 1000


async def _authorise(request: Request, *, write: bool = False) -> None:
    (await principal(request)).require_account(write=write)


def _fields(form: Form) -> dict[str, str]:
    return form.as_dict()


def _page_params(request: Request) -> tuple[int, str, str | None]:
    limit = int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
    page = request.query_params.get("page") or "first"
    if page not in lists.PAGES:
        raise InvalidInput("'page' must be one of first, last, next, prev", field="page")
    cursor = (request.query_params.get("address") or "").lower() or None
    return limit, page, cursor


def _paging(base: str, page: lists.Page, extra: list[tuple[str, str]]) -> dict[str, str]:
    items = page.items

    def url(name: str, address: str | None = None) -> str:
        params = [("page", name)]
        if address:
            params.append(("address", address))
        params += [("limit", str(page.limit)), *extra]
        return f"{base}?{urlencode(params)}"

    return {
        "first": url("first"),
        "last": url("last"),
        "next": url("next", items[-1]["address"] if items else None),
        "previous": url("prev", items[0]["address"] if items else None),
    }


async def create(request: Request) -> Response:
    """Create a mailing list: `address` (on one of your domains), `name`, `description`,
    `access_level` (readonly, members, everyone), `reply_preference` (list, sender)."""
    await _authorise(request, write=True)
    svc = services(request)
    created = await lists.create(svc.store, _fields(await read_form(request)), now=svc.clock())
    svc.lists.forget()
    return json_response({"message": "Mailing list has been created", "list": created})


async def pages(request: Request) -> Response:
    """Mailing lists in address order: `limit`, `page` (first, last, next, prev), `address`."""
    await _authorise(request)
    svc = services(request)
    limit, page, cursor = _page_params(request)
    found = await lists.page_lists(svc.store, limit=limit, page=page, cursor=cursor)
    base = f"{svc.public_url}/v3/lists/pages"
    return json_response({"items": found.items, "paging": _paging(base, found, [])})


async def list_all(request: Request) -> Response:
    """Mailing lists (legacy): `limit` (max 1000), `address` to start after."""
    await _authorise(request)
    svc = services(request)
    limit = int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
    cursor = (request.query_params.get("address") or "").lower() or None
    found = await lists.page_lists(
        svc.store, limit=limit, page="next" if cursor else "first", cursor=cursor
    )
    return json_response({"items": found.items, "total_count": len(found.items)})


async def get_one(request: Request) -> Response:
    """One mailing list, with its `members_count`."""
    await _authorise(request)
    return json_response(
        {"list": await lists.get(services(request).store, path_param(request, "address"))}
    )


async def update(request: Request) -> Response:
    """Update a mailing list: `address`, `name`, `description`, `access_level`,
    `reply_preference`. A new `address` deletes the list's validation job (it was of the
    old address)."""
    await _authorise(request, write=True)
    svc = services(request)
    form = await read_form(request)
    before = path_param(request, "address")
    changed = await lists.update(svc.store, before, _fields(form))
    svc.lists.forget()
    if changed["address"] != before.lower():  # renamed: its validation was of the old list
        with contextlib.suppress(NotFound):
            await svc.list_validations.delete(before.lower())
    return json_response({"message": "Mailing list has been updated", "list": changed})


async def delete(request: Request) -> Response:
    """Delete a mailing list, its members and its validation job."""
    await _authorise(request, write=True)
    svc = services(request)
    address = await lists.delete(svc.store, path_param(request, "address"))
    svc.lists.forget()
    with contextlib.suppress(NotFound):  # the list had none
        await svc.list_validations.delete(address)
    return json_response({"message": "Mailing list has been removed", "address": address})


async def add_member(request: Request) -> Response:
    """Add a member: `address`, `name`, `vars` (JSON object), `subscribed` (yes, no),
    `upsert` (yes updates an existing member)."""
    await _authorise(request, write=True)
    svc = services(request)
    form = await read_form(request)
    member = await lists.add_member(
        svc.store, path_param(request, "address"), _fields(form), now=svc.clock()
    )
    return json_response({"message": "Mailing list member has been created", "member": member})


async def add_members_json(request: Request) -> Response:
    """Add up to 1000 members: `members` (JSON array of addresses or member objects),
    `upsert` (yes updates existing members)."""
    await _authorise(request, write=True)
    svc = services(request)
    form = await read_form(request)
    members = lists.parse_members_json(form.get("members"), svc.clock())
    upsert = lists.boolean(form.get("upsert"), "upsert", False)
    found = await lists.add_members(
        svc.store, path_param(request, "address"), members, upsert=upsert
    )
    return json_response({"message": "Mailing list has been updated", "list": found})


async def add_members_csv(request: Request) -> Response:
    """Add members from a CSV file `members` (columns `address`, `name`, `vars`,
    `subscribed`), `upsert` (yes updates existing members)."""
    await _authorise(request, write=True)
    svc = services(request)
    form = await read_form(request)
    files = [u for u in form.uploads if u.field == "members"]
    if not files:
        raise InvalidInput("'members' parameter is missing", field="members")
    members = lists.parse_members_csv(files[0].data, svc.clock())
    upsert = lists.boolean(form.get("upsert"), "upsert", False)
    found = await lists.add_members(
        svc.store, path_param(request, "address"), members, upsert=upsert
    )
    return json_response({"message": "Mailing list has been updated", "list": found})


def _subscribed(request: Request) -> bool | None:
    value = request.query_params.get("subscribed")
    return None if not value else lists.boolean(value, "subscribed", True)


async def member_pages(request: Request) -> Response:
    """Members in address order: `subscribed` (yes, no), `limit`, `page`, `address`."""
    await _authorise(request)
    svc = services(request)
    limit, page, cursor = _page_params(request)
    subscribed = _subscribed(request)
    address = path_param(request, "address")
    found = await lists.page_members(
        svc.store, address, subscribed=subscribed, limit=limit, page=page, cursor=cursor
    )
    extra = [] if subscribed is None else [("subscribed", "yes" if subscribed else "no")]
    base = f"{svc.public_url}/v3/lists/{address.lower()}/members/pages"
    return json_response({"items": found.items, "paging": _paging(base, found, extra)})


async def list_members(request: Request) -> Response:
    """Members (legacy): `subscribed` (yes, no), `limit` (max 1000), `address` to start after."""
    await _authorise(request)
    svc = services(request)
    limit = int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
    cursor = (request.query_params.get("address") or "").lower() or None
    found = await lists.page_members(
        svc.store,
        path_param(request, "address"),
        subscribed=_subscribed(request),
        limit=limit,
        page="next" if cursor else "first",
        cursor=cursor,
    )
    return json_response({"items": found.items, "total_count": len(found.items)})


async def get_member(request: Request) -> Response:
    """One member of a mailing list."""
    await _authorise(request)
    member = await lists.get_member(
        services(request).store, path_param(request, "address"), path_param(request, "member")
    )
    return json_response({"member": member})


async def update_member(request: Request) -> Response:
    """Update a member: `address`, `name`, `vars` (JSON object), `subscribed` (yes, no)."""
    await _authorise(request, write=True)
    form = await read_form(request)
    member = await lists.update_member(
        services(request).store,
        path_param(request, "address"),
        path_param(request, "member"),
        _fields(form),
    )
    return json_response({"message": "Mailing list member has been updated", "member": member})


async def delete_member(request: Request) -> Response:
    """Remove a member from a mailing list."""
    await _authorise(request, write=True)
    address = await lists.delete_member(
        services(request).store, path_param(request, "address"), path_param(request, "member")
    )
    return json_response(
        {"message": "Mailing list member has been deleted", "member": {"address": address}}
    )


ONE = "/v3/lists/{address}"
MEMBERS = ONE + "/members"
ROUTES = [
    Route("/v3/lists", create, methods=["POST"]),
    Route("/v3/lists", list_all, methods=["GET"]),
    Route("/v3/lists/pages", pages, methods=["GET"]),
    Route(ONE, get_one, methods=["GET"]),
    Route(ONE, update, methods=["PUT"]),
    Route(ONE, delete, methods=["DELETE"]),
    Route(MEMBERS, add_member, methods=["POST"]),
    Route(MEMBERS, list_members, methods=["GET"]),
    Route(MEMBERS + ".json", add_members_json, methods=["POST"]),
    Route(MEMBERS + ".csv", add_members_csv, methods=["POST"]),
    Route(MEMBERS + "/pages", member_pages, methods=["GET"]),
    Route(MEMBERS + "/{member}", get_member, methods=["GET"]),
    Route(MEMBERS + "/{member}", update_member, methods=["PUT"]),
    Route(MEMBERS + "/{member}", delete_member, methods=["DELETE"]),
]
