"""A To header many recipients share is stored once per message, on SQLite and PostgreSQL:
its events keep an empty ``to`` and every reader (Events API, ``to`` filter, webhooks) shows
the whole header, as Mailgun does. Before, each event held its own copy, so a send to 1,000
addresses wrote 1,000 copies of a 20 KB header per event type."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from mailwright.config import Settings
from mailwright.events import LONG_TO
from mailwright.store import Store, queries, schema
from tests.integration.test_webhooks import arrived, hook
from tests.support.receiver import Receiver
from tests.support.wait import wait_until


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The conftest's server (API and capture worker), webhooks allowed to loopback."""
    return settings.with_changes(allow_private_urls=True)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as running:
        yield running


PEOPLE = [(f"Recipient Number {i}", f"recipient-number-{i}@example.com") for i in range(30)]
TO = ", ".join(f"{name} <{address}>" for name, address in PEOPLE)


async def _send(client: httpx.AsyncClient, sandbox: str, **extra: str) -> str:
    data = {"from": f"Shop <shop@{sandbox}>", "to": TO, "subject": "All of you", "text": "x"}
    response = await client.post(f"/v3/{sandbox}/messages", data=data | extra)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])[1:-1]


async def _events(client: httpx.AsyncClient, sandbox: str, **params: str) -> list[dict]:
    page = await client.get(f"/v3/{sandbox}/events", params={"limit": "300", **params})
    assert page.status_code == 200, page.text
    items: list[dict] = page.json()["items"]
    return items


async def _stored(store: Store, message_id: str) -> tuple[list[dict], list[dict]]:
    async with store.read() as conn:
        events = await conn.execute(
            select(schema.events).where(schema.events.c.message_id == message_id)
        )
        kept = await conn.execute(
            select(schema.event_to_headers).where(
                schema.event_to_headers.c.message_id == message_id
            )
        )
        return [dict(r._mapping) for r in events], [dict(r._mapping) for r in kept]


async def test_a_shared_long_to_header_is_stored_once_and_shown_whole(
    client: httpx.AsyncClient, sandbox: str, receiver: Receiver, store: Store
) -> None:
    assert len(TO) > LONG_TO
    await hook(client, sandbox, "accepted", receiver.url("/accepted"))
    await hook(client, sandbox, "delivered", receiver.url("/delivered"))
    message_id = await _send(client, sandbox)
    await wait_until(arrived(receiver, 2 * len(PEOPLE)))

    # Stored: one copy of the header; every event row and payload without it.
    events, kept = await _stored(store, message_id)
    assert [row["to"] for row in kept] == [TO]
    assert len(events) == 2 * len(PEOPLE)
    assert all(row["to"] == "" and TO not in row["payload"] for row in events)

    # The Events API shows each event with the whole header, as Mailgun does.
    items = await _events(client, sandbox, **{"message-id": message_id})
    assert len(items) == 2 * len(PEOPLE)
    assert {e["message"]["headers"]["to"] for e in items} == {TO}
    assert {e["recipient"] for e in items} == {address for _, address in PEOPLE}

    # So does every webhook POST.
    posted = [r.json()["event-data"] for r in receiver.received]
    assert sorted(e["event"] for e in posted) == ["accepted"] * 30 + ["delivered"] * 30
    assert {e["message"]["headers"]["to"] for e in posted} == {TO}

    # The `to` filter matches inside the header kept apart, and only there.
    short = await _send_short(client, sandbox)
    found = await _events(client, sandbox, to="recipient-number-29@example.com", event="accepted")
    assert len(found) == len(PEOPLE)
    assert {e["message"]["headers"]["message-id"] for e in found} == {message_id}
    found = await _events(
        client, sandbox, to="NOT recipient-number-29@example.com", event="accepted"
    )
    assert {e["message"]["headers"]["message-id"] for e in found} == {short}
    assert await _events(client, sandbox, to="nobody@example.com") == []


async def _send_short(client: httpx.AsyncClient, sandbox: str) -> str:
    data = {"from": f"Shop <shop@{sandbox}>", "to": "solo@example.com", "subject": "s", "text": "x"}
    response = await client.post(f"/v3/{sandbox}/messages", data=data)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])[1:-1]


async def test_batch_sends_and_short_headers_keep_their_own(
    client: httpx.AsyncClient, sandbox: str, store: Store
) -> None:
    # A batch send addresses each copy to its recipient alone: nothing to keep apart.
    variables = {address: {"n": i} for i, (_, address) in enumerate(PEOPLE)}
    batch = await _send(client, sandbox, **{"recipient-variables": json.dumps(variables)})
    events, kept = await _stored(store, batch)
    assert kept == []
    assert {row["to"] for row in events} == {row["recipient"] for row in events}
    items = await _events(client, sandbox, **{"message-id": batch, "event": "accepted"})
    assert {e["message"]["headers"]["to"] for e in items} == {a for _, a in PEOPLE}

    short = await _send_short(client, sandbox)
    events, kept = await _stored(store, short)
    assert kept == []
    assert {row["to"] for row in events} == {"solo@example.com"}


async def test_the_kept_header_goes_with_its_message_and_last_event(
    client: httpx.AsyncClient, sandbox: str, store: Store
) -> None:
    message_id = await _send(client, sandbox)

    async def delivered() -> bool:
        found = await _events(client, sandbox, **{"message-id": message_id, "event": "delivered"})
        return len(found) == len(PEOPLE)

    await wait_until(delivered)
    now = time.time()

    async def purge(before: float, *, messages: bool = False) -> int:
        async def run(conn):  # type: ignore[no-untyped-def]
            if messages:
                await queries.purge_expired(conn, now + 365 * 86400)
            await queries.purge_events(conn, before)
            t = schema.event_to_headers
            return (await conn.execute(select(func.count()).select_from(t))).scalar_one()

        return int(await store.write(run))

    assert await purge(now - 3600) == 1  # its events are younger: kept
    items = await _events(client, sandbox, **{"message-id": message_id, "event": "accepted"})
    assert {e["message"]["headers"]["to"] for e in items} == {TO}
    # Its events are gone, but the message is stored still (it may have events to come).
    assert await purge(now + 3600) == 1
    assert await _events(client, sandbox, **{"message-id": message_id}) == []
    # The message past its retention too: so is the header.
    assert await purge(now + 3600, messages=True) == 0
