"""Stored templates (Mailgun's ``/v3/{domain}/templates``): validate input, keep templates and
versions through ``store.templates``, answer Mailgun's JSON shapes, and pin a version for a send.

Names and tags are lower-cased and may hold letters, digits and ``.-_~``. At most one version
is active: the first version of a template always is, and making another one active (on create,
update or copy) deactivates the rest. Deleting the active version is allowed, as Mailgun's API
reference states no restriction; a send without ``t:version`` then fails with 400.
Lists page in name (tag) order with Mailgun's ``page=first|last|next|prev`` and ``p`` cursor.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.errors import Conflict, InvalidInput, NotFound
from mailwright.messages.form import LINE_BREAKS
from mailwright.messages.handlebars import TemplateError, compile_template
from mailwright.messages.handlebars import render as render_template
from mailwright.store import Store
from mailwright.store import templates as sql

ENGINES = ("handlebars",)
DEFAULT_TAG = "initial"
MAX_NAME = 255
MAX_TAG = 191
MAX_DESCRIPTION = 1024
MAX_COMMENT = 1024
MAX_CONTENT = 100 * 1024  # bytes; Mailgun's documented template size limit
MAX_LIMIT = 100
HEADER_NAMES = {"from": "From", "subject": "Subject", "reply-to": "Reply-To"}
_NAME = re.compile(r"[a-z0-9._~-]+")
_PAGES = ("first", "last", "next", "prev", "previous")


@dataclass(frozen=True, slots=True)
class VersionInput:
    """A version's fields as given; None means "not given"."""

    template: str | None = None
    tag: str | None = None
    engine: str | None = None
    comment: str | None = None
    headers: str | None = None
    active: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    first: str | None  # cursor values for the previous/next links
    last: str | None


def parse_name(value: str | None, field: str = "name", limit: int = MAX_NAME) -> str:
    if value is None or not value.strip():
        raise InvalidInput(f"'{field}' parameter is missing", field=field)
    name = value.strip().lower()
    if len(name) > limit:
        raise InvalidInput(f"'{field}' must be at most {limit} characters long", field=field)
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            f"'{field}' may only contain letters, digits and the characters . - _ ~", field=field
        )
    return name


def _text(value: str | None, field: str, limit: int) -> str:
    value = value or ""
    if len(value) > limit:
        raise InvalidInput(f"'{field}' must be at most {limit} characters long", field=field)
    return value


def _content(value: str | None) -> str:
    if value is None or not value.strip():
        raise InvalidInput("'template' parameter is missing", field="template")
    if len(value.encode()) > MAX_CONTENT:
        raise InvalidInput("'template' is larger than 100 KB", field="template")
    try:
        compile_template(value)
    except TemplateError as exc:
        raise InvalidInput(
            f"'template' is not a valid handlebars template: {exc}", field="template"
        ) from None
    return value


def _engine(value: str | None) -> str:
    engine = (value or "handlebars").strip().lower()
    if engine not in ENGINES:
        raise InvalidInput(f"'engine' must be one of: {', '.join(ENGINES)}", field="engine")
    return engine


def _headers(value: str | None) -> str:
    if value is None or not value.strip():
        return "{}"
    try:
        decoded = json.loads(value)
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict) or not all(isinstance(v, str) for v in decoded.values()):
        raise InvalidInput("'headers' must be a JSON object of strings", field="headers")
    headers = {}
    for name, header_value in decoded.items():
        known = HEADER_NAMES.get(name.lower())
        if known is None:
            raise InvalidInput("'headers' may only set From, Subject and Reply-To", field="headers")
        if LINE_BREAKS.search(header_value):
            raise InvalidInput("'headers' values must not contain CR or LF", field="headers")
        headers[known] = header_value
    return json.dumps(headers)


def _yes(value: str | None, field: str) -> bool:
    if value is None:
        return False
    decoded = {"yes": True, "true": True, "no": False, "false": False}.get(value.strip().lower())
    if decoded is None:
        raise InvalidInput(f"'{field}' parameter must be one of yes, no, true, false", field=field)
    return decoded


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%a, %d %b %Y %H:%M:%S UTC")


def template_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": row["name"],
        "description": row["description"],
        "createdAt": _date(row["created_at"]),
        "createdBy": row["created_by"],
        "id": row["id"],
    }


def version_json(row: Mapping[str, Any], *, content: bool = True) -> dict[str, Any]:
    version = {
        "tag": row["tag"],
        "engine": row["engine"],
        "mjml": row["mjml"],
        "createdAt": _date(row["created_at"]),
        "comment": row["comment"],
        "active": bool(row["active"]),
        "id": row["id"],
        "headers": json.loads(row["headers"]),
    }
    if content:
        version["template"] = row["template"]
    return version


def _version_row(
    template_id: str, given: VersionInput, *, active: bool, now: float
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "template_id": template_id,
        "tag": parse_name(given.tag or DEFAULT_TAG, "tag", MAX_TAG),
        "template": _content(given.template),
        "engine": _engine(given.engine),
        "mjml": "",
        "comment": _text(given.comment, "comment", MAX_COMMENT),
        "headers": _headers(given.headers),
        "active": active,
        "created_at": now,
    }


async def _template(conn: AsyncConnection, domain: str, name: str) -> dict[str, Any]:
    row = await sql.get_template(conn, domain, name.lower())
    if row is None:
        raise NotFound("template not found")
    return row


async def _version(conn: AsyncConnection, template_id: str, tag: str) -> dict[str, Any]:
    row = await sql.get_version(conn, template_id, tag.lower())
    if row is None:
        raise NotFound("version not found")
    return row


async def create_template(
    store: Store,
    domain: str,
    name: str | None,
    description: str | None,
    version: VersionInput,
    *,
    now: float,
) -> dict[str, Any]:
    """The new template's JSON, with ``version`` when ``version.template`` was given."""
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "domain": domain,
        "name": parse_name(name),
        "description": _text(description, "description", MAX_DESCRIPTION),
        "created_by": "api",
        "created_at": now,
    }
    first = _version_row(row["id"], version, active=True, now=now) if version.template else None

    async def op(conn: AsyncConnection) -> None:
        if await sql.get_template(conn, domain, row["name"]) is not None:
            raise Conflict(f"template with name '{row['name']}' already exists")
        await sql.insert_template(conn, row)
        if first is not None:
            await sql.insert_version(conn, first)

    await store.write(op)
    out = template_json(row)
    if first is not None:
        out["version"] = version_json(first)
    return out


def _cursors(page: str | None, cursor: str | None) -> tuple[str | None, str | None, bool]:
    """(after, before, descending) for Mailgun's ``page`` and ``p`` parameters."""
    page = (page or "first").lower()
    if page not in _PAGES:
        raise InvalidInput("'page' must be one of first, last, next, prev", field="page")
    if page == "next" and cursor:
        return cursor, None, False
    if page in ("prev", "previous") and cursor:
        return None, cursor, True
    return None, None, page == "last"


async def list_templates(
    store: Store, domain: str, *, limit: int, page: str | None, cursor: str | None
) -> Page:
    after, before, descending = _cursors(page, cursor)
    async with store.read() as conn:
        rows = await sql.select_templates(
            conn, domain, limit=limit, after=after, before=before, descending=descending
        )
    names = [r["name"] for r in rows]
    return Page(
        [template_json(r) for r in rows],
        names[0] if names else cursor,
        names[-1] if names else cursor,
    )


async def get_template(store: Store, domain: str, name: str, *, active: bool) -> dict[str, Any]:
    async with store.read() as conn:
        row = await _template(conn, domain, name)
        version = await sql.get_version(conn, row["id"], None) if active else None
    out = template_json(row)
    if version is not None:
        out["version"] = version_json(version)
    return out


async def update_template(store: Store, domain: str, name: str, description: str | None) -> str:
    text = _text(description, "description", MAX_DESCRIPTION)
    if description is None:
        raise InvalidInput("'description' parameter is missing", field="description")

    async def op(conn: AsyncConnection) -> str:
        row = await _template(conn, domain, name)
        await sql.update_template(conn, row["id"], text)
        return str(row["name"])

    return await store.write(op)


async def delete_template(store: Store, domain: str, name: str) -> str:
    async def op(conn: AsyncConnection) -> str:
        row = await _template(conn, domain, name)
        await sql.delete_template(conn, row["id"])
        return str(row["name"])

    return await store.write(op)


async def delete_templates(store: Store, domain: str) -> None:
    async def op(conn: AsyncConnection) -> None:
        await sql.delete_templates(conn, domain)

    await store.write(op)


async def create_version(
    store: Store, domain: str, name: str, given: VersionInput, *, now: float
) -> dict[str, Any]:
    if not given.tag:
        raise InvalidInput("'tag' parameter is missing", field="tag")
    is_active = _yes(given.active, "active")

    async def op(conn: AsyncConnection) -> dict[str, Any]:
        row = await _template(conn, domain, name)
        first = await sql.count_versions(conn, row["id"]) == 0
        version = _version_row(row["id"], given, active=is_active or first, now=now)
        if await sql.get_version(conn, row["id"], version["tag"]) is not None:
            raise Conflict(f"version with tag '{version['tag']}' already exists")
        await sql.insert_version(conn, version)
        return {**template_json(row), "version": version_json(version)}

    return await store.write(op)


async def list_versions(
    store: Store, domain: str, name: str, *, limit: int, page: str | None, cursor: str | None
) -> tuple[dict[str, Any], Page]:
    after, before, descending = _cursors(page, cursor)
    async with store.read() as conn:
        row = await _template(conn, domain, name)
        rows = await sql.select_versions(
            conn, row["id"], limit=limit, after=after, before=before, descending=descending
        )
    tags = [r["tag"] for r in rows]
    items = [version_json(r, content=False) for r in rows]
    return template_json(row), Page(
        items, tags[0] if tags else cursor, tags[-1] if tags else cursor
    )


async def get_version(store: Store, domain: str, name: str, tag: str) -> dict[str, Any]:
    async with store.read() as conn:
        row = await _template(conn, domain, name)
        version = await _version(conn, row["id"], tag)
    return {**template_json(row), "version": version_json(version)}


async def update_version(
    store: Store, domain: str, name: str, tag: str, given: VersionInput
) -> tuple[str, str]:
    values: dict[str, Any] = {}
    if given.template is not None:
        values["template"] = _content(given.template)
    if given.comment is not None:
        values["comment"] = _text(given.comment, "comment", MAX_COMMENT)
    if given.headers is not None:
        values["headers"] = _headers(given.headers)
    if given.engine is not None:
        values["engine"] = _engine(given.engine)
    activate = _yes(given.active, "active")

    async def op(conn: AsyncConnection) -> tuple[str, str]:
        row = await _template(conn, domain, name)
        version = await _version(conn, row["id"], tag)
        if activate:
            await sql.deactivate_versions(conn, row["id"])
            values["active"] = True
        if values:
            await sql.update_version(conn, version["id"], values)
        return str(row["name"]), str(version["tag"])

    return await store.write(op)


async def delete_version(store: Store, domain: str, name: str, tag: str) -> tuple[str, str]:
    async def op(conn: AsyncConnection) -> tuple[str, str]:
        row = await _template(conn, domain, name)
        version = await _version(conn, row["id"], tag)
        await sql.delete_version(conn, version["id"])
        return str(row["name"]), str(version["tag"])

    return await store.write(op)


async def copy_version(
    store: Store, domain: str, name: str, tag: str, new_tag: str, comment: str | None, *, now: float
) -> dict[str, Any]:
    """A new inactive version ``new_tag`` with the content, engine and headers of ``tag``."""
    target = parse_name(new_tag, "new_tag", MAX_TAG)
    text = None if comment is None else _text(comment, "comment", MAX_COMMENT)

    async def op(conn: AsyncConnection) -> dict[str, Any]:
        row = await _template(conn, domain, name)
        source = await _version(conn, row["id"], tag)
        if await sql.get_version(conn, row["id"], target) is not None:
            raise Conflict(f"version with tag '{target}' already exists")
        copy = {
            **source,
            "id": str(uuid.uuid4()),
            "tag": target,
            "comment": source["comment"] if text is None else text,
            "active": False,
            "created_at": now,
        }
        await sql.insert_version(conn, copy)
        return version_json(copy)

    return await store.write(op)


def preview(source: str | None, variables: str | None) -> str:
    """``source`` rendered with ``variables`` (a JSON object, as in ``t:variables``) by the
    renderer sends use; a bad template or bad JSON is ``InvalidInput`` naming the problem."""
    content = _content(source)
    try:
        decoded = json.loads(variables or "{}")
    except ValueError as exc:
        raise InvalidInput(f"'variables' is not valid JSON: {exc}", field="variables") from None
    if not isinstance(decoded, dict):
        raise InvalidInput("'variables' must be a JSON object", field="variables")
    return render_template(content, decoded)


async def pin_version(store: Store, domain: str, name: str, tag: str | None) -> dict[str, Any]:
    """What a send stores of its template: the version's content, so later changes to the
    template do not change queued mail. A missing template or version is bad input (400)."""
    async with store.read() as conn:
        row = await sql.get_template(conn, domain, name.lower())
        if row is None:
            raise InvalidInput(f"template '{name}' not found", field="template")
        version = await sql.get_version(conn, row["id"], tag.lower() if tag else None)
    if version is None:
        if tag:
            raise InvalidInput(f"template '{name}' has no version '{tag}'", field="t:version")
        raise InvalidInput(f"template '{name}' has no active version", field="t:version")
    return {
        "version": version["tag"],
        "engine": version["engine"],
        "content": version["template"],
        "headers": json.loads(version["headers"]),
    }
