"""Event rows: Mailgun's event JSON, built once and stored with the columns the filters use.

``record`` writes in the caller's transaction, so an event exists exactly when the state change
it describes was committed.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright import jsontext
from mailwright.events.counters import counter_rows, stats_of, stats_of_payload, tag_keys
from mailwright.events.outbox import outbox_rows, with_account
from mailwright.events.types import EventType, LogLevel
from mailwright.store import queries
from mailwright.store.upsert import COUNTERS, TAGS_SEEN, TEST_COUNTERS, Upsert, UpsertRows


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What every event of one message says about that message."""

    domain: str
    message_id: str
    storage_key: str
    storage_url: str
    sender: str
    from_header: str
    to_header: str
    subject: str
    size: int
    method: str = "http"
    is_test_mode: bool = False
    is_batch: bool = False  # recipient-variables: each recipient's copy is addressed to it alone
    tags: list[str] = field(default_factory=list)
    user_variables: dict[str, Any] = field(default_factory=dict)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    # A batch send's ``v:`` values that name ``%recipient.KEY%``, substituted for each
    # recipient (by lowercased address): its events carry its own values, as Mailgun's do
    # (django-anymail's merge_metadata is sent this way).
    recipient_user_variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The To header is stored once in ``event_to_headers`` (see ``to_is_apart``): the events
    # keep an empty ``to`` and readers fill it in.
    to_apart: bool = False

    def user_variables_of(self, recipient: str) -> dict[str, Any]:
        own = self.recipient_user_variables.get(recipient.lower())
        return self.user_variables | own if own else self.user_variables

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FACT_FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MessageFacts:
        return cls(**data)


FACT_FIELDS = tuple(f.name for f in fields(MessageFacts))

# A To header longer than this, shared by every recipient (not a batch send), is kept once per
# message rather than in each of its events (``schema.event_to_headers``).
LONG_TO = 1000


def to_is_apart(to_header: str, *, is_batch: bool) -> bool:
    """Whether a message's events keep its To header apart: one the recipients share that is
    longer than ``LONG_TO`` (its size times the recipients would grow with their square)."""
    return not is_batch and len(to_header) > LONG_TO


def new_event_id() -> str:
    return secrets.token_urlsafe(16)


def _payload(
    facts: MessageFacts, event: EventType, recipient: str, timestamp: float, to: str
) -> dict[str, Any]:
    return {
        "id": new_event_id(),
        "event": str(event),
        "timestamp": timestamp,
        "log-level": str(LogLevel.INFO),
        "recipient": recipient,
        "recipient-domain": recipient.rpartition("@")[2].lower(),
        "envelope": {"sender": facts.sender, "targets": recipient, "transport": "smtp"},
        "message": {
            "headers": {
                "message-id": facts.message_id,
                "from": facts.from_header,
                "to": to,
                "subject": facts.subject,
            },
            "attachments": facts.attachments,
            "size": facts.size,
        },
        "flags": {
            "is-routed": False,
            "is-authenticated": True,
            "is-system-test": False,
            "is-test-mode": facts.is_test_mode,
        },
        "tags": facts.tags,
        "user-variables": facts.user_variables_of(recipient),
        "storage": {"url": facts.storage_url, "key": facts.storage_key},
        "campaigns": [],
    }


def event_row(
    facts: MessageFacts,
    event: EventType,
    recipient: str,
    timestamp: float,
    **extra: Any,
) -> dict[str, Any]:
    """One row of the events table; ``extra`` adds or replaces top-level event fields."""
    to = recipient if facts.is_batch else facts.to_header
    if facts.to_apart:  # never a batch send (to_is_apart)
        to = ""  # in event_to_headers; readers fill it in (events.to_headers)
    payload = _payload(facts, event, recipient, timestamp, to) | extra
    return {
        "id": payload["id"],
        "domain": facts.domain,
        "timestamp": timestamp,
        "event": str(event),
        "severity": payload.get("severity"),
        "recipient": recipient.lower(),
        "message_id": facts.message_id,
        "sender": facts.from_header,
        "to": to,
        "subject": facts.subject,
        "tags_key": "|" + "|".join(t.lower() for t in facts.tags) + "|",
        "attachments": "|".join(str(a.get("filename", "")) for a in facts.attachments),
        "size": facts.size,
        "list": None,
        "payload": jsontext.dumps(payload),
        "is_test_mode": facts.is_test_mode,
    }


async def record(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Write event rows, an outbox row per webhook URL they trigger (their domain's webhooks
    and the account's, each URL once), and their stat counter increments, in the caller's
    transaction (so no committed event can miss its webhooks or its counts)."""
    if not rows:
        return
    await queries.insert_events(conn, rows)
    domains = [row["domain"] for row in rows]
    webhooks = with_account(domains, await queries.event_webhooks(conn, domains))
    if webhooks:
        now = max(row["timestamp"] for row in rows)
        await queries.insert_outbox(conn, outbox_rows(rows, webhooks, now))
    counted = [(row, orjson.loads(row["payload"])) for row in rows]
    counted = [(row, payload) for row, payload in counted if stats_of_payload(payload)]
    if not counted:
        return
    known = await _known_tags(conn, [(row["domain"], p.get("tags") or []) for row, p in counted])
    every: list[dict[str, Any]] = []
    test: list[dict[str, Any]] = []
    for row, payload in counted:
        tags = [t for t in tag_keys(payload.get("tags") or []) if (row["domain"], t) in known]
        increments = counter_rows(row["domain"], tags, stats_of_payload(payload), row["timestamp"])
        every.extend(increments)
        if row.get("is_test_mode"):
            test.extend(increments)
    # Live credentials see all traffic, test mode included (as Mailgun counts it); test
    # credentials see test-mode traffic only, as with events.
    await queries.apply_upserts(conn, [(COUNTERS, every), (TEST_COUNTERS, test)])


async def _known_tags(
    conn: AsyncConnection, wanted: Sequence[tuple[str, Sequence[Any]]]
) -> set[tuple[str, str]]:
    """The (domain, tag) pairs that exist: a deleted tag gets no counters from messages that
    were still in flight when it was deleted."""
    by_domain: dict[str, set[str]] = {}
    for domain, tags in wanted:
        if tags:
            by_domain.setdefault(domain, set()).update(tag_keys(tags))
    known: set[tuple[str, str]] = set()
    for domain, names in by_domain.items():
        found = await queries.existing_tags(conn, domain, sorted(names))
        known.update((domain, tag) for tag in found)
    return known


ACCEPTED_STATS = stats_of("accepted")


def accepted_upserts(
    domain: str, tags: Sequence[str], timestamp: float, recipients: int, *, is_test: bool = False
) -> UpsertRows:
    """The counter increments and tag rows of one accepted message (for ``InsertRows``): the
    accept path builds them from what it knows, without reading back its event rows."""
    keys = tag_keys(tags)
    counts = counter_rows(domain, keys, ACCEPTED_STATS, timestamp, recipients)
    upserts: list[tuple[Upsert, list[dict[str, Any]]]] = [(COUNTERS, counts)]
    if is_test:
        upserts.append((TEST_COUNTERS, counts))
    if keys:
        seen = [
            {
                "domain": domain,
                "tag": tag,
                "description": "",
                "first_seen": timestamp,
                "last_seen": timestamp,
            }
            for tag in keys
        ]
        upserts.insert(0, (TAGS_SEEN, seen))
    return upserts
