"""The suppression decision: may a message to this address be attempted? Pure, no I/O.

Mailgun keeps four lists per sending domain. Bounces, complaints and unsubscribes stop
delivery; the whitelist (allowlist) only exempts an address, or every address at a domain,
from the bounce list. An unsubscribe carries tags: ``*`` blocks every message, other tags
block only messages carrying one of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

BOUNCES = "bounces"
UNSUBSCRIBES = "unsubscribes"
COMPLAINTS = "complaints"
WHITELISTS = "whitelists"
KINDS = (BOUNCES, UNSUBSCRIBES, COMPLAINTS, WHITELISTS)
ALL_TAGS = "*"

# Mailgun's ``reason`` of the failed event when a list stops a message, checked in this order:
# a dead mailbox first, then the recipient's explicit wishes.
REASONS = (
    (BOUNCES, "suppress-bounce"),
    (COMPLAINTS, "suppress-complaint"),
    (UNSUBSCRIBES, "suppress-unsubscribe"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One row of one list. ``value`` is a lower-cased address, or a domain (whitelists)."""

    kind: str
    value: str
    type: str = "address"  # address | domain (whitelists)
    code: str | None = None  # bounces: SMTP reply code, as Mailgun's string
    error: str | None = None  # bounces: the reply text
    tags: tuple[str, ...] = ()  # unsubscribes
    reason: str | None = None  # whitelists
    created_at: float


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def merge_tags(old: Sequence[str], new: Sequence[str]) -> tuple[str, ...]:
    """Tags of an unsubscribe added again: the union, in first-seen order."""
    return tuple(dict.fromkeys([*old, *new]))


def is_unsubscribed(unsubscribed: Sequence[str], message_tags: Sequence[str]) -> bool:
    """``*`` blocks everything; otherwise one shared tag blocks the message."""
    return ALL_TAGS in unsubscribed or not set(unsubscribed).isdisjoint(message_tags)


def is_whitelisted(entries: Iterable[Entry], address: str) -> bool:
    address = address.lower()
    allowed = {address, domain_of(address)}
    return any(e.kind == WHITELISTS and e.value in allowed for e in entries)


def decide(entries: Sequence[Entry], address: str, tags: Sequence[str] = ()) -> str | None:
    """The failed-event reason that stops a message to ``address``, or None to attempt it.

    ``entries`` are the domain's rows that may concern the address (its own rows and the
    whitelist rows for it and its domain); rows for other addresses are ignored.
    """
    address = address.lower()
    mine = {e.kind: e for e in entries if e.kind != WHITELISTS and e.value == address}
    for kind, reason in REASONS:
        entry = mine.get(kind)
        if entry is None:
            continue
        if kind == BOUNCES and is_whitelisted(entries, address):
            continue
        if kind == UNSUBSCRIBES and not is_unsubscribed(entry.tags, tags):
            continue
        return reason
    return None
