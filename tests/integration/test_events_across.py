"""Events read across domains (the dashboard's message log), on SQLite and PostgreSQL: pages
merged on the cursor order, free text, and scanning filters bounded per page without ever
skipping or repeating an event."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.events import EventQuery, fetch_across, page_tokens
from mailwright.store import Store, queries

DOMAINS = ["a.example.com", "b.example.com"]
BASE = EventQuery(domain="", ascending=False, limit=4)


def row(n: int, domain: str, ts: float, subject: str, recipient: str) -> dict[str, Any]:
    return {
        "id": f"ev{n}",
        "domain": domain,
        "timestamp": ts,
        "event": "delivered" if n % 2 else "accepted",
        "severity": None,
        "recipient": recipient,
        "message_id": f"m{n}@{domain}",
        "sender": f"Shop <shop@{domain}>",
        "to": recipient,
        "subject": subject,
        "tags_key": "||",
        "attachments": "",
        "size": 100,
        "list": None,
        "payload": json.dumps({"id": f"ev{n}", "timestamp": ts}),
    }


@pytest.fixture
async def events(store: Store) -> list[dict[str, Any]]:
    """60 events over two domains, some sharing a timestamp; every third subject says 'sale'."""
    rows = []
    for n in range(60):
        domain = DOMAINS[n % 2] if n % 5 else DOMAINS[0]
        ts = 1_700_000_000 + (n // 2)  # pairs share a timestamp
        subject = f"Big sale {n}" if n % 3 == 0 else f"Receipt {n}"
        rows.append(row(n, domain, ts, subject, f"user{n % 7}@example.com"))

    async def insert(conn: AsyncConnection) -> None:
        await queries.insert_events(conn, rows)

    await store.write(insert)
    return rows


async def walk(store: Store, query: EventQuery, scan: int | None) -> list[str]:
    """Every item, following ``next`` while the page says there is more."""
    seen: list[str] = []
    for _ in range(100):
        page = await fetch_across(store, query, DOMAINS, scan=scan)
        seen += [item["id"] for item in page.items]
        if not page.has_more:
            return seen
        query = EventQuery.from_token(page_tokens(page)["next"], "")
    raise AssertionError("paging did not end")


def newest_first(rows: list[dict[str, Any]]) -> list[str]:
    order = sorted(rows, key=lambda r: (r["timestamp"], int(r["id"][2:])), reverse=True)
    return [r["id"] for r in order]


@pytest.mark.parametrize("scan", [None, 3, 7, 1000])
async def test_scanning_filters_page_through_every_match_once(
    store: Store, events: list[dict[str, Any]], scan: int | None
) -> None:
    sale = replace(BASE, filters=(("subject", "sale"),))
    expected = newest_first([r for r in events if "sale" in r["subject"]])
    assert await walk(store, sale, scan) == expected
    assert await walk(store, BASE, scan) == newest_first(events)


async def test_a_bounded_page_stops_at_the_nearest_domain_bound(
    store: Store, events: list[dict[str, Any]]
) -> None:
    sale = replace(BASE, text="sale")
    page = await fetch_across(store, sale, DOMAINS, scan=6)  # 3 events of each domain
    assert page.has_more
    assert len(page.items) < sale.limit
    read = newest_first(events)[:6]  # no further than three events of each domain
    assert all(item["id"] in read for item in page.items)
    assert page.last_cursor is not None


async def test_previous_pages_come_back_the_same(
    store: Store, events: list[dict[str, Any]]
) -> None:
    pages = []
    page = await fetch_across(store, BASE, DOMAINS)
    for _ in range(3):
        pages.append([item["id"] for item in page.items])
        page = await fetch_across(
            store, EventQuery.from_token(page_tokens(page)["next"], ""), DOMAINS
        )
    for expected in reversed(pages):
        page = await fetch_across(
            store, EventQuery.from_token(page_tokens(page)["previous"], ""), DOMAINS
        )
        assert [item["id"] for item in page.items] == expected


@pytest.mark.parametrize("scan", [None, 5])
async def test_reading_backwards_from_the_last_page_finds_every_match(
    store: Store, events: list[dict[str, Any]], scan: int | None
) -> None:
    sale = replace(BASE, text="sale")
    first = await fetch_across(store, sale, DOMAINS, scan=scan)
    query = EventQuery.from_token(page_tokens(first)["last"], "")
    pages: list[list[str]] = []
    for _ in range(100):
        page = await fetch_across(store, query, DOMAINS, scan=scan)
        pages.append([item["id"] for item in page.items])
        if not page.has_more:
            break
        query = EventQuery.from_token(page_tokens(page)["previous"], "")
    found = [item for one in reversed(pages) for item in one]
    assert found == newest_first([r for r in events if "sale" in r["subject"]])


async def test_free_text_needs_every_word_in_some_field(
    store: Store, events: list[dict[str, Any]]
) -> None:
    async def ids(text: str) -> set[str]:
        page = await fetch_across(store, replace(BASE, limit=100, text=text), DOMAINS)
        return {item["id"] for item in page.items}

    assert await ids("SALE user3@") == {
        r["id"] for r in events if "sale" in r["subject"] and r["recipient"] == "user3@example.com"
    }
    assert await ids("m12@a.example") == {"ev12"}  # message-id, a substring
    assert await ids("shop@b.example.com receipt") == {
        r["id"] for r in events if r["domain"] == DOMAINS[1] and "Receipt" in r["subject"]
    }
    assert await ids("100%") == set()


async def test_recipient_and_event_match_as_stored(
    store: Store, events: list[dict[str, Any]]
) -> None:
    query = replace(
        BASE, limit=100, filters=(("recipient", "USER3@example.com"), ("event", "Delivered"))
    )
    page = await fetch_across(store, query, DOMAINS)
    expected = {
        r["id"]
        for r in events
        if r["recipient"] == "user3@example.com" and r["event"] == "delivered"
    }
    assert {item["id"] for item in page.items} == expected
    assert expected
