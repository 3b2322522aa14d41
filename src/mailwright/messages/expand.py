"""Expanding a send to mailing lists into one delivery (and one ``accepted`` event) per
subscribed member, inside the accept transaction, with bounded memory.

The message is stored once. Members are read from ``list_members`` in chunks of ``CHUNK``
addresses (keyset paging on the address, on the same connection and transaction), and each
chunk's delivery, event and webhook-outbox rows are inserted before the next chunk is read: a
100,000-member list never has more than one chunk in memory. Everything happens in the one
transaction that stores the message, so the API answers only once every delivery is durably
queued, and a crash before the commit leaves nothing half-expanded. The price is that this
transaction holds the database's write lock for the whole expansion (a few seconds for
100,000 members; see ``bench/list_send.py``), delaying other writes meanwhile.

A member's name and vars are copied into its delivery row (``member`` JSON), so the copy that a
retry renders is the one accepted even if the member is edited later. A member who is also a
direct recipient of the send, or a member of two listed lists, gets one copy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright import jsontext
from mailwright.events import EventType, MessageFacts, accepted_upserts, event_row, outbox_rows
from mailwright.messages.schedule import due_at, favourite_hour
from mailwright.store import InsertRows, Store, lists, queries, schema

CHUNK = 2000
OPEN_HISTORY = 90 * 86400  # send-time optimisation looks at the last 90 days of opens


def delivery_row(
    key: str, domain: str, rcpt: str, index: int, due: float, now: float
) -> dict[str, Any]:
    return {
        "message_key": key,
        "domain": domain,
        "recipient": rcpt,
        "recipient_index": index,
        "recipient_domain": rcpt.rpartition("@")[2].lower(),
        "status": "queued",
        "due_at": due,
        "attempts": 0,
        "claimed_by": None,
        "claimed_until": None,
        "created_at": now,
        "updated_at": now,
        "last_code": None,
        "last_message": None,
    }


async def _hours(
    conn: AsyncConnection, domain: str, recipients: Sequence[str], now: float
) -> dict[str, int]:
    opens = await queries.open_times(
        conn, domain, [r.lower() for r in recipients], now - OPEN_HISTORY
    )
    grouped: dict[str, list[float]] = defaultdict(list)
    for recipient, timestamp in opens:
        grouped[recipient].append(timestamp)
    hours = {r: favourite_hour(times) for r, times in grouped.items()}
    return {r: h for r, h in hours.items() if h is not None}


async def open_hours(
    store: Store, domain: str, recipients: Sequence[str], options: dict[str, Any], now: float
) -> dict[str, int]:
    """Each recipient's favourite open hour, when send-time optimisation asks for it."""
    if "deliverytime-optimize-period" not in options or not recipients:
        return {}
    async with store.read() as conn:
        return await _hours(conn, domain, recipients, now)


@dataclass(slots=True)
class Expansion:
    facts: MessageFacts
    key: str
    base: float
    options: dict[str, Any]
    now: float
    method: str
    hooks: Mapping[str, Sequence[str]]
    seen: set[str] = field(default_factory=set)
    count: int = 0

    def write(
        self, head: InsertRows, addresses: Sequence[str], tags: Sequence[str]
    ) -> Callable[[AsyncConnection], Awaitable[None]]:
        """The transaction: the message and its direct recipients (``head``), every list's
        subscribed members chunk by chunk, then the counters of all accepted recipients."""
        direct = [
            r["recipient"].lower() for t, rows in head.rows if t is schema.deliveries for r in rows
        ]

        async def run(conn: AsyncConnection) -> None:
            await head(conn)
            self.seen.update(direct)
            self.count = len(direct)
            for row in await lists.find_lists(conn, addresses):
                async for chunk in lists.stream_subscribed(conn, row["id"], chunk=CHUNK):
                    await self._chunk(conn, row["address"], chunk)
            upserts = accepted_upserts(
                self.facts.domain, tags, self.now, self.count, is_test=self.facts.is_test_mode
            )
            await InsertRows([], upserts)(conn)

        return run

    async def _chunk(
        self, conn: AsyncConnection, list_address: str, members: list[dict[str, Any]]
    ) -> None:
        fresh = [m for m in members if m["address"] not in self.seen]
        self.seen.update(m["address"] for m in fresh)
        hours: dict[str, int] = {}
        if "deliverytime-optimize-period" in self.options:
            hours = await _hours(conn, self.facts.domain, [m["address"] for m in fresh], self.now)
        deliveries, events = [], []
        for member in fresh:
            address = member["address"]
            due = due_at(address, self.base, self.options, hours.get(address))
            row = delivery_row(self.key, self.facts.domain, address, self.count, due, self.now)
            row["member"] = jsontext.dumps(
                {
                    "list": list_address,
                    "name": member["name"],
                    "vars": jsontext.loads(member["vars"]),
                }
            )
            deliveries.append(row)
            event = event_row(self.facts, EventType.ACCEPTED, address, self.now, method=self.method)
            event["list"] = list_address
            events.append(event)
            self.count += 1
        rows: list[tuple[Any, list[dict[str, Any]]]] = [
            (schema.deliveries, deliveries),
            (schema.events, events),
        ]
        if self.hooks.get("accepted"):
            rows.append(
                (
                    schema.webhook_outbox,
                    outbox_rows(events, {self.facts.domain: self.hooks}, self.now),
                )
            )
        await InsertRows(rows)(conn)
