"""Stored messages: load what ``accept`` stored, render it for a recipient, resend it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import getaddresses
from typing import Any

from mailwright import jsontext
from mailwright.errors import InvalidInput, NotFound
from mailwright.events import MessageFacts
from mailwright.messages.form import MAX_RECIPIENTS, SendRequest
from mailwright.messages.render import render, subject_for
from mailwright.messages.tracking import Tracking
from mailwright.store import MessageRow, Store, queries


@dataclass(frozen=True, slots=True)
class StoredMessage:
    row: MessageRow
    spec: dict[str, Any]
    facts: MessageFacts
    blobs: list[bytes]

    @property
    def recipients(self) -> list[str]:
        return [str(r) for r in jsontext.loads(self.row.recipients)]

    @property
    def is_inbound(self) -> bool:
        """Received mail kept by a route's ``store()``: its bytes are stored as they came."""
        return self.spec.get("kind") == "inbound"

    def subject_for(self, recipient: str, member: Mapping[str, Any] | None = None) -> str:
        if self.spec.get("kind") in ("mime", "inbound"):
            return self.facts.subject
        return subject_for(self.spec, recipient, member)

    def render_for(
        self,
        recipient: str,
        index: int = 0,
        tracking: Tracking | None = None,
        member: Mapping[str, Any] | None = None,
    ) -> bytes:
        """The recipient's final bytes: the same inputs always give the same bytes."""
        if self.is_inbound:
            return self.blobs[0]
        return render(
            self.spec,
            self.blobs,
            recipient=recipient,
            message_id=self.row.message_id,
            date=datetime.fromtimestamp(self.row.created_at, UTC),
            recipient_index=index,
            tracking=tracking,
            member=member,
        )


def decode(row: MessageRow, blobs: list[bytes]) -> StoredMessage:
    stored = jsontext.loads(row.spec)
    return StoredMessage(
        row=row, spec=stored["spec"], facts=MessageFacts.from_json(stored["facts"]), blobs=blobs
    )


async def load(store: Store, key: str, *, domain: str | None = None) -> StoredMessage:
    async with store.read() as conn:
        row = await queries.get_message(conn, key)
        if row is None or (domain is not None and row.domain != domain.lower()):
            raise NotFound("Message not found")
        blobs = await queries.get_blobs(conn, key)
    return decode(row, blobs)


async def load_facts(store: Store, key: str) -> MessageFacts | None:
    """What events say about a stored message, without reading its blobs; None once purged."""
    async with store.read() as conn:
        row = await queries.get_message(conn, key)
    if row is None:
        return None
    return MessageFacts.from_json(jsontext.loads(row.spec)["facts"])


async def load_many(store: Store, keys: Sequence[str]) -> dict[str, StoredMessage]:
    """Stored messages by key, in two queries however many there are."""
    async with store.read() as conn:
        rows = await queries.get_messages(conn, keys)
        blobs = await queries.get_blobs_many(conn, keys)
    return {row.id: decode(row, blobs.get(row.id, [])) for row in rows}


def resend_request(stored: StoredMessage, to: list[str]) -> SendRequest:
    """A new send of a stored message to other recipients (``POST`` on the storage URL)."""
    recipients = [addr for _, addr in getaddresses(to) if addr]
    if not recipients or any("@" not in r for r in recipients):
        raise InvalidInput(
            "'to' parameter is not a valid address. please check documentation", field="to"
        )
    if len(recipients) > MAX_RECIPIENTS:
        raise InvalidInput("Too many recipients: at most 1000 are allowed per message", field="to")
    facts = stored.facts
    return SendRequest(
        spec=stored.spec,
        blobs=stored.blobs,
        recipients=recipients,
        sender=facts.sender,
        from_header=facts.from_header,
        subject=facts.subject,
        tags=list(facts.tags),
        user_variables=dict(facts.user_variables),
        deliver_at=None,
        is_test_mode=facts.is_test_mode,
        is_batch=bool(stored.spec.get("recipient_variables")),
        size=facts.size,
        attachments=list(facts.attachments),
        template=None,
    )


__all__ = ["StoredMessage", "decode", "load", "load_facts", "load_many", "resend_request"]
