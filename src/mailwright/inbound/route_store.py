"""Stored routes (Mailgun's ``/v3/routes``): validate a route's fields with the pure language in
``inbound.routes``, keep routes through ``store.routes``, and read them back as ``Route`` records.

Routes are account-wide. A route's expression and every action are parsed before it is stored,
so the processor never meets one it cannot run. Ids are 24 hex characters, as Mailgun's.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.errors import InvalidInput, NotFound
from mailwright.inbound.routes import Route, first_match, parse_action, parse_expression
from mailwright.store import Store
from mailwright.store import routes as sql

MAX_DESCRIPTION = 4096
_INTEGER = re.compile(r"[+-]?\d{1,9}")


@dataclass(frozen=True, slots=True)
class RouteInput:
    """A route's fields as given; None means "not given" (PUT keeps the stored value)."""

    priority: str | None = None
    description: str | None = None
    expression: str | None = None
    actions: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class RoutePage:
    total_count: int
    items: list[Route]


def _not_found() -> NotFound:
    return NotFound("Route not found")


def _route(row: Mapping[str, Any]) -> Route:
    return Route(
        id=row["id"],
        priority=int(row["priority"]),
        description=row["description"],
        expression=row["expression"],
        actions=tuple(json.loads(row["actions"])),
        created_at=float(row["created_at"]),
    )


def _priority(value: str) -> int:
    if not _INTEGER.fullmatch(value.strip()):
        raise InvalidInput("'priority' parameter must be an integer", field="priority")
    return int(value)


def _expression(value: str) -> str:
    parse_expression(value.strip())
    return value.strip()


def _actions(values: tuple[str, ...]) -> str:
    if not values:
        raise InvalidInput("'action' parameter is missing", field="action")
    for value in values:
        parse_action(value.strip())
    return json.dumps([v.strip() for v in values])


def _description(value: str) -> str:
    if len(value) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"'description' is longer than {MAX_DESCRIPTION} characters", field="description"
        )
    return value


def _changes(given: RouteInput) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if given.priority is not None and given.priority != "":
        values["priority"] = _priority(given.priority)
    if given.description is not None:
        values["description"] = _description(given.description)
    if given.expression is not None:
        values["expression"] = _expression(given.expression)
    if given.actions is not None:
        values["actions"] = _actions(given.actions)
    return values


async def create_route(store: Store, given: RouteInput, *, now: float) -> Route:
    if not (given.expression or "").strip():
        raise InvalidInput("'expression' parameter is missing", field="expression")
    values = {"priority": 0, "description": "", **_changes(given)}
    if "actions" not in values:
        raise InvalidInput("'action' parameter is missing", field="action")
    row = {"id": secrets.token_hex(12), "created_at": now, **values}

    async def write(conn: AsyncConnection) -> None:
        await sql.insert_route(conn, row)

    await store.write(write)
    return _route(row)


async def list_routes(store: Store, *, skip: int = 0, limit: int = 100) -> RoutePage:
    """One page of routes in evaluation order, and how many there are in all."""
    async with store.read() as conn:
        total = await sql.count_routes(conn)
        rows = await sql.select_routes(conn, skip=skip, limit=limit)
    return RoutePage(total, [_route(r) for r in rows])


async def get_route(store: Store, route_id: str) -> Route:
    async with store.read() as conn:
        row = await sql.get_route(conn, route_id)
    if row is None:
        raise _not_found()
    return _route(row)


async def update_route(store: Store, route_id: str, given: RouteInput) -> Route:
    """Change the given fields, keep the others (Mailgun's PUT)."""
    values = _changes(given)

    async def write(conn: AsyncConnection) -> dict[str, Any]:
        row = await sql.get_route(conn, route_id)
        if row is None:
            raise _not_found()
        if values:
            await sql.update_route(conn, route_id, values)
        return {**row, **values}

    return _route(await store.write(write))


async def delete_route(store: Store, route_id: str) -> None:
    async def write(conn: AsyncConnection) -> bool:
        return await sql.delete_route(conn, route_id)

    if not await store.write(write):
        raise _not_found()


async def all_routes(store: Store) -> list[Route]:
    """Every route, in evaluation order."""
    async with store.read() as conn:
        return [_route(r) for r in await sql.select_routes(conn)]


async def match_route(store: Store, address: str) -> Route:
    """The first route whose expression matches ``address`` (Mailgun's ``/v3/routes/match``)."""
    if not address.strip():
        raise InvalidInput("'address' parameter is missing", field="address")
    found = first_match(await all_routes(store), address.strip())
    if found is None:
        raise _not_found()
    return found
