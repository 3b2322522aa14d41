"""A domain's tags: created when a message carrying one is accepted, then listed with Mailgun's
tag-cursor paging, described, and deleted with their counters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.errors import InvalidInput, NotFound
from mailwright.store import Store, queries

PAGES = ("first", "last", "next", "prev", "previous")
MAX_DESCRIPTION = 1024
MISSING = "tag not found"


@dataclass(frozen=True, slots=True)
class Tag:
    tag: str
    description: str
    first_seen: float
    last_seen: float

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Tag:
        return cls(
            tag=str(row["tag"]),
            description=str(row["description"]),
            first_seen=float(row["first_seen"]),
            last_seen=float(row["last_seen"]),
        )


@dataclass(frozen=True, slots=True)
class TagPage:
    tags: list[Tag]
    first_tag: str | None
    last_tag: str | None


def _seen(timestamp: float) -> str:
    # Mailgun's sample: "2023-01-02 02:14:27 +0000 UTC".
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def tag_json(tag: Tag) -> dict[str, Any]:
    return {
        "tag": tag.tag,
        "description": tag.description,
        "first-seen": _seen(tag.first_seen),
        "last-seen": _seen(tag.last_seen),
    }


async def list_tags(
    store: Store,
    domain: str,
    *,
    limit: int,
    page: str | None = None,
    cursor: str | None = None,
    prefix: str | None = None,
) -> TagPage:
    """``first`` (the default), ``last``, and ``next`` or ``prev`` relative to ``cursor``
    (exclusive), in tag order."""
    page = page or "first"
    if page not in PAGES:
        raise InvalidInput("'page' must be one of first, last, next, prev", field="page")
    cursor = cursor.lower() if cursor else None
    backwards = page == "last" or (page in ("prev", "previous") and cursor is not None)
    async with store.read() as conn:
        rows = await queries.select_tags(
            conn,
            domain=domain,
            limit=limit,
            after=cursor if page == "next" else None,
            before=cursor if backwards and page != "last" else None,
            prefix=prefix.lower() if prefix else None,
            descending=backwards,
        )
    tags = [Tag.from_row(r) for r in (reversed(rows) if backwards else rows)]
    if not tags:
        return TagPage(tags, cursor, cursor)
    return TagPage(tags, tags[0].tag, tags[-1].tag)


async def get_tag(store: Store, domain: str, tag: str) -> Tag:
    async with store.read() as conn:
        row = await queries.get_tag(conn, domain, tag.lower())
    if row is None:
        raise NotFound(MISSING)
    return Tag.from_row(row)


async def describe_tag(store: Store, domain: str, tag: str, description: str) -> None:
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"'description' must be at most {MAX_DESCRIPTION} characters long",
            field="description",
        )

    async def update(conn: AsyncConnection) -> bool:
        return await queries.update_tag(conn, domain, tag.lower(), description)

    if not await store.write(update):
        raise NotFound(MISSING)


async def delete_tag(store: Store, domain: str, tag: str) -> None:
    """Delete the tag and its counters; a later message with it creates it afresh."""

    async def remove(conn: AsyncConnection) -> bool:
        return await queries.delete_tag(conn, domain, tag.lower())

    if not await store.write(remove):
        raise NotFound(MISSING)


# -- account-wide tags (the ``/v1/analytics/tags`` API) ----------------------------------

ACCOUNT_SORTS = ("tag", "firstseen", "lastseen")


@dataclass(frozen=True, slots=True)
class AccountTagPage:
    tags: list[Tag]
    total: int


async def list_account_tags(
    store: Store,
    *,
    prefix: str | None,
    sort: str = "lastseen",
    descending: bool = True,
    skip: int = 0,
    limit: int = 10,
) -> AccountTagPage:
    """The tags of every domain, each once: a tag used on several domains counts as one."""
    if sort not in ACCOUNT_SORTS:
        raise InvalidInput(f"'sort' must be one of {', '.join(ACCOUNT_SORTS)}", field="sort")
    async with store.read() as conn:
        rows, total = await queries.select_account_tags(
            conn,
            prefix=prefix.lower() if prefix else None,
            sort=sort,
            descending=descending,
            skip=skip,
            limit=limit,
        )
    return AccountTagPage([Tag.from_row(r) for r in rows], total)


async def count_account_tags(store: Store) -> int:
    return (await list_account_tags(store, prefix=None, limit=1)).total


async def describe_account_tag(store: Store, tag: str, description: str) -> None:
    """Set the description of the tag on every domain that has it."""
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"'description' must be at most {MAX_DESCRIPTION} characters long",
            field="description",
        )

    async def update(conn: AsyncConnection) -> bool:
        domains = await queries.domains_with_tag(conn, tag.lower())
        for domain in domains:
            await queries.update_tag(conn, domain, tag.lower(), description)
        return bool(domains)

    if not await store.write(update):
        raise NotFound(MISSING)


async def delete_account_tag(store: Store, tag: str) -> None:
    """Delete the tag and its counters on every domain."""

    async def remove(conn: AsyncConnection) -> bool:
        domains = await queries.domains_with_tag(conn, tag.lower())
        for domain in domains:
            await queries.delete_tag(conn, domain, tag.lower())
        return bool(domains)

    if not await store.write(remove):
        raise NotFound(MISSING)
