"""Mailing lists (``/v3/lists``): validate the Mailgun form, read and write through
``store.lists``, shape lists and members as Mailgun's JSON.

Addresses are lower-cased: a list and its members are keyed case-insensitively. Adding a member
that exists is a 400 unless ``upsert=yes``; bulk adds skip existing members unless ``upsert``.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email

from mailwright.errors import Conflict, InvalidInput, NotFound
from mailwright.store import Store, lists, queries

ACCESS_LEVELS = ("readonly", "members", "everyone")
REPLY_PREFERENCES = ("list", "sender")
MAX_BULK = 1000  # Mailgun: up to 1,000 members per members.json call
PAGES = ("first", "last", "next", "prev")
_BOOLEANS = {"yes": True, "true": True, "no": False, "false": False}

Fields = Mapping[str, str]


@functools.lru_cache(maxsize=65536)
def normalise(address: str) -> str | None:
    try:
        valid = validate_email(
            address.strip(), check_deliverability=False, allow_smtputf8=True, test_environment=True
        )
    except EmailNotValidError:
        return None
    return str(valid.normalized).lower()


def _address(value: object, field: str) -> str:
    if value is None or value == "":
        raise InvalidInput(f"'{field}' parameter is missing", field=field)
    found = normalise(value) if isinstance(value, str) else None
    if found is None:
        given = repr(value)[:200]
        raise InvalidInput(f"'{field}' parameter is not a valid address: {given}", field=field)
    return found


def _choice(value: str | None, field: str, allowed: tuple[str, ...], default: str) -> str:
    if value is None or value == "":
        return default
    if value not in allowed:
        raise InvalidInput(f"'{field}' parameter must be one of {', '.join(allowed)}", field=field)
    return value


def boolean(value: str | bool | None, field: str, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    found = _BOOLEANS.get(str(value).strip().lower())
    if found is None:
        raise InvalidInput(f"'{field}' parameter must be yes or no", field=field)
    return found


def _vars(value: Any, field: str = "vars") -> dict[str, Any]:
    if value is None or value == "":
        return {}
    decoded = value
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = None
    if not isinstance(decoded, dict):
        raise InvalidInput(f"'{field}' parameter is not a valid JSON object", field=field)
    return decoded


def rfc2822(ts: float) -> str:
    return format_datetime(datetime.fromtimestamp(ts, UTC), usegmt=True)


def list_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "address": row["address"],
        "name": row["name"],
        "description": row["description"],
        "access_level": row["access_level"],
        "reply_preference": row["reply_preference"],
        "members_count": int(row.get("members_count") or 0),
        "created_at": rfc2822(row["created_at"]),
    }


def member_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "address": row["address"],
        "name": row["name"],
        "subscribed": bool(row["subscribed"]),
        "vars": json.loads(row["vars"]) if isinstance(row["vars"], str) else row["vars"],
    }


def _not_found(address: str) -> NotFound:
    return NotFound(f"Mailing list {address} not found")


class ListDirectory:
    """Which addresses are mailing lists, remembered ``seconds`` so that a send to ordinary
    recipients costs no query; this process forgets on its own writes at once, others within
    ``seconds``."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time, seconds: float = 5.0):
        self._store = store
        self._clock = clock
        self._seconds = seconds
        self._known: tuple[float, dict[str, str]] | None = None

    def forget(self) -> None:
        self._known = None

    async def lists_among(self, addresses: list[str]) -> dict[str, str]:
        """The addresses that are lists, each with its reply preference."""
        now = self._clock()
        if self._known is None or self._known[0] <= now:
            async with self._store.read() as conn:
                found = await lists.reply_preferences(conn)
            self._known = (now + self._seconds, found)
        known = self._known[1]
        return {a.lower(): known[a.lower()] for a in addresses if a.lower() in known}


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    limit: int


async def _require(store: Store, address: str) -> dict[str, Any]:
    async with store.read() as conn:
        row = await lists.get_list(conn, address.lower())
    if row is None:
        raise _not_found(address)
    return row


async def get(store: Store, address: str) -> dict[str, Any]:
    return list_json(await _require(store, address))


async def _check_domain(store: Store, address: str) -> None:
    async with store.read() as conn:
        domain = await queries.get_domain(conn, address.rpartition("@")[2])
    if domain is None:
        raise InvalidInput("'address' must be on one of your domains", field="address")


async def create(store: Store, fields: Fields, *, now: float) -> dict[str, Any]:
    address = _address(fields.get("address"), "address")
    await _check_domain(store, address)
    values = {
        "address": address,
        "name": fields.get("name") or "",
        "description": fields.get("description") or "",
        "access_level": _choice(
            fields.get("access_level"), "access_level", ACCESS_LEVELS, "readonly"
        ),
        "reply_preference": _choice(
            fields.get("reply_preference"), "reply_preference", REPLY_PREFERENCES, "list"
        ),
        "created_at": now,
    }

    async def write(conn: Any) -> None:
        if await lists.get_list(conn, address) is not None:
            raise Conflict(f"Duplicate object: mailing list {address} already exists")
        await lists.insert_list(conn, values)

    await store.write(write)
    return list_json(values)


def _list_changes(fields: Fields) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if fields.get("address"):
        values["address"] = _address(fields.get("address"), "address")
    for name in ("name", "description"):
        if name in fields:
            values[name] = fields[name]
    for name, allowed in (
        ("access_level", ACCESS_LEVELS),
        ("reply_preference", REPLY_PREFERENCES),
    ):
        if fields.get(name):
            values[name] = _choice(fields[name], name, allowed, allowed[0])
    return values


async def update(store: Store, address: str, fields: Fields) -> dict[str, Any]:
    row = await _require(store, address)
    values = _list_changes(fields)
    if "address" in values:
        await _check_domain(store, values["address"])

    async def write(conn: Any) -> None:
        moved = values.get("address")
        if moved and moved != row["address"] and await lists.get_list(conn, moved) is not None:
            raise Conflict(f"Duplicate object: mailing list {moved} already exists")
        if values:
            await lists.update_list(conn, row["id"], values)

    await store.write(write)
    return list_json(row | values)


async def delete(store: Store, address: str) -> str:
    row = await _require(store, address)

    async def write(conn: Any) -> None:
        await lists.delete_list(conn, row["id"])

    await store.write(write)
    return str(row["address"])


async def page_lists(store: Store, *, limit: int, page: str, cursor: str | None) -> Page:
    async with store.read() as conn:
        rows = await lists.page_lists(conn, limit=limit, page=page, cursor=cursor)
    return Page([list_json(r) for r in rows], limit)


# --- members ---------------------------------------------------------------------------------


def _member_values(
    fields: Mapping[str, Any], now: float, *, field: str = "address"
) -> dict[str, Any]:
    return {
        "address": _address(fields.get("address"), field),
        "name": str(fields.get("name") or ""),
        "vars": json.dumps(_vars(fields.get("vars"))),
        "subscribed": boolean(fields.get("subscribed"), "subscribed", True),
        "created_at": now,
    }


async def get_member(store: Store, list_address: str, address: str) -> dict[str, Any]:
    row = await _require(store, list_address)
    async with store.read() as conn:
        member = await lists.get_member(conn, row["id"], address.lower())
    if member is None:
        raise NotFound(f"Member {address} not found")
    return member_json(member)


async def add_member(
    store: Store, list_address: str, fields: Fields, *, now: float
) -> dict[str, Any]:
    row = await _require(store, list_address)
    values = _member_values(fields, now) | {"list_id": row["id"]}
    is_upsert = boolean(fields.get("upsert"), "upsert", False)

    async def write(conn: Any) -> None:
        if await lists.get_member(conn, row["id"], values["address"]) is None:
            await lists.insert_members(conn, [values])
        elif is_upsert:
            changed = {k: values[k] for k in ("name", "vars", "subscribed")}
            await lists.update_member(conn, row["id"], values["address"], changed)
        else:
            raise Conflict(f"Address already exists '{values['address']}'")

    await store.write(write)
    return member_json(values)


def _member_changes(fields: Fields) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if fields.get("address"):
        values["address"] = _address(fields.get("address"), "address")
    if "name" in fields:
        values["name"] = fields["name"]
    if "vars" in fields:
        values["vars"] = json.dumps(_vars(fields["vars"]))
    if fields.get("subscribed"):
        values["subscribed"] = boolean(fields["subscribed"], "subscribed", True)
    return values


async def update_member(
    store: Store, list_address: str, address: str, fields: Fields
) -> dict[str, Any]:
    row = await _require(store, list_address)
    key = address.lower()
    values = _member_changes(fields)

    async def write(conn: Any) -> dict[str, Any]:
        member = await lists.get_member(conn, row["id"], key)
        if member is None:
            raise NotFound(f"Member {address} not found")
        moved = values.get("address")
        if moved and moved != key and await lists.get_member(conn, row["id"], moved):
            raise Conflict(f"Address already exists '{moved}'")
        if values:
            await lists.update_member(conn, row["id"], key, values)
        return member | values

    return member_json(await store.write(write))


async def delete_member(store: Store, list_address: str, address: str) -> str:
    row = await _require(store, list_address)
    key = address.lower()

    async def write(conn: Any) -> int:
        return await lists.delete_member(conn, row["id"], key)

    if not await store.write(write):
        raise NotFound(f"Member {address} not found")
    return key


def parse_members_json(value: str | None, now: float) -> list[dict[str, Any]]:
    """``members``: a JSON array of address strings or member objects."""
    if value is None or value == "":
        raise InvalidInput("'members' parameter is missing", field="members")
    try:
        decoded = json.loads(value)
    except ValueError:
        decoded = None
    if not isinstance(decoded, list):
        raise InvalidInput("'members' parameter is not a valid JSON array", field="members")
    if len(decoded) > MAX_BULK:
        raise InvalidInput(
            f"'members' accepts at most {MAX_BULK} members per request", field="members"
        )
    members = []
    for item in decoded:
        if isinstance(item, str):
            item = {"address": item}
        if not isinstance(item, dict):
            raise InvalidInput("'members' items must be addresses or objects", field="members")
        members.append(_member_values(item, now, field="members"))
    return members


def parse_members_csv(data: bytes, now: float) -> list[dict[str, Any]]:
    """A CSV file with a header row: ``address`` (required), ``name``, ``vars``, ``subscribed``."""
    try:
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
        rows = list(reader)
    except (UnicodeDecodeError, csv.Error):
        raise InvalidInput("'members' file is not a valid CSV file", field="members") from None
    if not reader.fieldnames or "address" not in reader.fieldnames:
        raise InvalidInput("'members' CSV file needs an 'address' column", field="members")
    if len(rows) > MAX_BULK * 100:
        raise InvalidInput("'members' CSV file has too many rows", field="members")
    return [_member_values(row, now, field="members") for row in rows]


async def add_members(
    store: Store, list_address: str, members: list[dict[str, Any]], *, upsert: bool
) -> dict[str, Any]:
    """Add members in one transaction; existing ones are updated only with ``upsert``."""
    row = await _require(store, list_address)
    unique = {m["address"]: m | {"list_id": row["id"]} for m in members}

    async def write(conn: Any) -> None:
        # Address order: concurrent bulk adds lock shared rows in the same order.
        ordered = [unique[a] for a in sorted(unique)]
        await lists.merge_members(conn, ordered, is_upsert=upsert)

    await store.write(write)
    return list_json(await _require(store, list_address))


async def page_members(
    store: Store,
    list_address: str,
    *,
    subscribed: bool | None,
    limit: int,
    page: str,
    cursor: str | None,
) -> Page:
    row = await _require(store, list_address)
    async with store.read() as conn:
        rows = await lists.page_members(
            conn, row["id"], subscribed=subscribed, limit=limit, page=page, cursor=cursor
        )
    return Page([member_json(r) for r in rows], limit)


async def member_addresses(
    store: Store, list_address: str, *, chunk: int
) -> AsyncIterator[list[str]]:
    """Every member's address (subscribed or not), ``chunk`` at a time in address order. Each
    chunk is its own short read (keyset paging), so neither memory nor a transaction grows with
    the list."""
    row = await _require(store, list_address)
    last: str | None = None
    while True:
        async with store.read() as conn:
            found = await lists.member_addresses(conn, row["id"], after=last, limit=chunk)
        if not found:
            return
        yield found
        last = found[-1]


async def unsubscribe(store: Store, list_address: str, address: str) -> bool:
    async def write(conn: Any) -> bool:
        return await lists.unsubscribe_member(conn, list_address.lower(), address.lower())

    return await store.write(write)
