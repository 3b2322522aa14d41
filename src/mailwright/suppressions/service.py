"""The four suppression lists in the database, and the check the delivery engine makes.

``check`` and ``add_bounce`` take the caller's connection so they run inside the delivery
worker's (or inbound processor's) transaction; the rest serve the API through ``Store``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.errors import InvalidInput, NotFound
from mailwright.store import Store, queries
from mailwright.suppressions.entries import DEFAULT_CODE, TEXTS
from mailwright.suppressions.policy import (
    BOUNCES,
    COMPLAINTS,
    KINDS,
    UNSUBSCRIBES,
    WHITELISTS,
    Entry,
    decide,
    domain_of,
    is_whitelisted,
    merge_tags,
)

PAGES = ("first", "last", "next", "prev", "previous")


@dataclass(frozen=True, slots=True)
class Page:
    """A page of one list in address order, with the cursors its paging URLs carry."""

    entries: list[Entry]
    first_value: str | None
    last_value: str | None


def require_kind(kind: str) -> str:
    if kind not in KINDS:
        raise NotFound("Not found")
    return kind


def _entry(row: dict[str, Any]) -> Entry:
    return Entry(
        kind=row["kind"],
        value=row["address"],
        type=row["type"],
        code=row["code"],
        error=row["error"],
        tags=tuple(json.loads(row["tags"])) if row["tags"] else (),
        reason=row["reason"],
        created_at=float(row["created_at"]),
    )


def _row(domain: str, entry: Entry) -> dict[str, Any]:
    return {
        "domain": domain,
        "kind": entry.kind,
        "address": entry.value,
        "type": entry.type,
        "code": entry.code,
        "error": entry.error,
        "tags": json.dumps(list(entry.tags)) if entry.kind == UNSUBSCRIBES else None,
        "reason": entry.reason,
        "created_at": entry.created_at,
    }


async def check(
    conn: AsyncConnection, domain: str, address: str, *, tags: Sequence[str] = ()
) -> str | None:
    """None if a message to ``address`` may be attempted, else the failed event's reason:
    ``suppress-bounce``, ``suppress-complaint`` or ``suppress-unsubscribe``."""
    return (await check_many(conn, [(domain, address, tags)]))[0]


async def check_many(
    conn: AsyncConnection,
    wanted: Sequence[tuple[str, str, Sequence[str]]],
    *,
    test: Sequence[bool] = (),
) -> list[str | None]:
    """``check`` for many ``(domain, address, tags)`` at once: one query per sending domain.
    ``test[i]`` true checks the i-th against the lists of test-environment credentials."""
    flags = [bool(test[i]) if i < len(test) else False for i in range(len(wanted))]
    by_domain: dict[tuple[str, bool], set[str]] = {}
    for (domain, address, _), is_test in zip(wanted, flags, strict=True):
        address = address.lower()
        by_domain.setdefault((domain.lower(), is_test), set()).update((address, domain_of(address)))
    entries: dict[tuple[str, bool], list[Entry]] = {}
    for (domain, is_test), addresses in by_domain.items():
        rows = await queries.find_suppressions(
            conn, domain=domain, addresses=sorted(addresses), test=is_test
        )
        entries[(domain, is_test)] = [_entry(r) for r in rows]
    answers: list[str | None] = []
    for (domain, address, tags), is_test in zip(wanted, flags, strict=True):
        found = entries[(domain.lower(), is_test)]
        answers.append(decide(found, address, tags) if found else None)
    return answers


async def add_bounce(
    conn: AsyncConnection, domain: str, address: str, *, code: int | None, error: str, now: float
) -> bool:
    """Add or refresh a bounce; False (nothing added) when the address is whitelisted."""
    domain, address = domain.lower(), address.lower()
    rows = await queries.find_suppressions(
        conn, domain=domain, addresses=[address, domain_of(address)], kind=WHITELISTS
    )
    if is_whitelisted([_entry(r) for r in rows], address):
        return False
    entry = Entry(
        kind=BOUNCES,
        value=address,
        code=DEFAULT_CODE if code is None else str(code),
        error=error,
        created_at=now,
    )
    await queries.upsert_suppressions(conn, [_row(domain, entry)])
    return True


async def add_unsubscribe(
    conn: AsyncConnection,
    domain: str,
    address: str,
    *,
    tags: Sequence[str],
    now: float,
    test: bool = False,
) -> None:
    """Add an unsubscribe in the caller's transaction; tags accumulate as in ``add_entries``.
    ``test``: from a test-mode message, so onto the test lists."""
    domain, address = domain.lower(), address.lower()
    rows = await queries.find_suppressions(
        conn, domain=domain, addresses=[address], kind=UNSUBSCRIBES, test=test
    )
    entry = Entry(kind=UNSUBSCRIBES, value=address, tags=tuple(tags), created_at=now)
    merged = _merge([entry], [_entry(r) for r in rows])
    await queries.upsert_suppressions(conn, [_row(domain, e) for e in merged], test=test)


async def add_complaint(conn: AsyncConnection, domain: str, address: str, *, now: float) -> None:
    """Add (or refresh) a complaint in the caller's transaction: a feedback-loop report."""
    entry = Entry(kind=COMPLAINTS, value=address.lower(), created_at=now)
    await queries.upsert_suppressions(conn, [_row(domain.lower(), entry)])


async def list_entries(
    store: Store,
    domain: str,
    kind: str,
    *,
    limit: int,
    page: str | None = None,
    cursor: str | None = None,
    term: str | None = None,
    test: bool = False,
) -> Page:
    """Mailgun's address-cursor paging: ``first`` (the default), ``last``, and ``next`` or
    ``prev`` relative to ``cursor`` (exclusive)."""
    page = page or "first"
    if page not in PAGES:
        raise InvalidInput("'page' must be one of first, last, next, prev", field="page")
    cursor = cursor.lower() if cursor else None
    backwards = page == "last" or (page in ("prev", "previous") and cursor is not None)
    async with store.read() as conn:
        rows = await queries.select_suppressions(
            conn,
            domain=domain,
            kind=require_kind(kind),
            limit=limit,
            after=cursor if page == "next" else None,
            before=cursor if backwards and page != "last" else None,
            prefix=term.lower() if term else None,
            descending=backwards,
            test=test,
        )
    entries = [_entry(r) for r in (reversed(rows) if backwards else rows)]
    if not entries:
        return Page(entries, cursor, cursor)
    return Page(entries, entries[0].value, entries[-1].value)


async def get_entry(
    store: Store, domain: str, kind: str, value: str, *, test: bool = False
) -> Entry:
    async with store.read() as conn:
        rows = await queries.find_suppressions(
            conn, domain=domain, addresses=[value.lower()], kind=require_kind(kind), test=test
        )
    if not rows:
        raise NotFound(TEXTS[kind].missing)
    return _entry(rows[0])


def _merge(entries: Sequence[Entry], existing: Sequence[Entry]) -> list[Entry]:
    """One entry per value, the last given winning; unsubscribe tags accumulate."""
    merged: dict[str, Entry] = {}
    for entry in [*existing, *entries]:
        before = merged.get(entry.value)
        if before is not None and entry.kind == UNSUBSCRIBES:
            entry = Entry(
                kind=entry.kind,
                value=entry.value,
                tags=merge_tags(before.tags, entry.tags),
                created_at=entry.created_at,
            )
        merged[entry.value] = entry
    return list(merged.values())


async def add_entries(
    store: Store, domain: str, kind: str, entries: Sequence[Entry], *, test: bool = False
) -> int:
    """Add entries to one list, updating those already there; returns how many were given.
    ``test``: the lists of test-environment credentials, not the live ones."""
    require_kind(kind)

    async def upsert(conn: AsyncConnection) -> None:
        existing: list[Entry] = []
        if kind == UNSUBSCRIBES:
            rows = await queries.find_suppressions(
                conn, domain=domain, addresses=[e.value for e in entries], kind=kind, test=test
            )
            existing = [_entry(r) for r in rows]
        merged = _merge(entries, existing)
        await queries.upsert_suppressions(conn, [_row(domain, e) for e in merged], test=test)

    await store.write(upsert)
    return len(entries)


async def delete_entry(
    store: Store,
    domain: str,
    kind: str,
    value: str,
    *,
    tag: str | None = None,
    test: bool = False,
) -> None:
    """Remove one address (or, for an unsubscribe, only one of its tags)."""
    require_kind(kind)
    value = value.lower()

    async def remove(conn: AsyncConnection) -> bool:
        if tag and kind == UNSUBSCRIBES:
            return await _remove_tag(conn, domain, value, tag, test)
        return bool(
            await queries.delete_suppressions(
                conn, domain=domain, kind=kind, address=value, test=test
            )
        )

    if not await store.write(remove):
        raise NotFound(TEXTS[kind].missing)


async def _remove_tag(conn: AsyncConnection, domain: str, value: str, tag: str, test: bool) -> bool:
    rows = await queries.find_suppressions(
        conn, domain=domain, addresses=[value], kind=UNSUBSCRIBES, test=test
    )
    if not rows:
        return False
    entry = _entry(rows[0])
    left = tuple(t for t in entry.tags if t != tag)
    if not left:
        await queries.delete_suppressions(
            conn, domain=domain, kind=UNSUBSCRIBES, address=value, test=test
        )
        return True
    kept = Entry(kind=UNSUBSCRIBES, value=value, tags=left, created_at=entry.created_at)
    await queries.upsert_suppressions(conn, [_row(domain, kept)], test=test)
    return True


async def delete_all(store: Store, domain: str, kind: str, *, test: bool = False) -> int:
    require_kind(kind)

    async def remove(conn: AsyncConnection) -> int:
        return await queries.delete_suppressions(conn, domain=domain, kind=kind, test=test)

    return await store.write(remove)
