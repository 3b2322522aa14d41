"""The inbound MX listener's aiosmtpd handler: accept mail for our domains only, store the raw
message durably, then answer 250; everything else (routes, DSNs, complaints) happens later, off
the connection, in ``processor.py``.

No open relay: a recipient is accepted only at one of our domains (or a subdomain of a
wildcard domain), and there only when something can take it: a bounce address of ours, the
RFC 5321 4.5.1 ``postmaster`` (and ``abuse``/``fbl`` for feedback reports), or a route that may
match (``Recipients.accepts``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Protocol

from aiosmtpd.smtp import SMTP, Envelope, Session

from mailwright import jsontext
from mailwright.errors import NotFound
from mailwright.inbound.line_ends import has_bare_newline
from mailwright.inbound.replies import S550_BARE_NEWLINE
from mailwright.logs import get_logger
from mailwright.store import InsertRows, Store, schema

log = get_logger(__name__)

# RFC 5321 4.2.2 / RFC 3463 reply texts, with the code in the name as aiosmtpd does.
S250_QUEUED = "250 2.0.0 Ok: queued as {id}"
S250_RCPT_OK = "250 2.1.5 Recipient ok"
S451_STORE_FAILED = "451 4.3.0 Could not store the message, try again later"
S550_RELAY_DENIED = "550 5.7.1 Relaying denied: {domain} is not a domain of this server"
S550_NO_ROUTE = "550 5.1.1 {address}: no route accepts this recipient"
S550_BAD_ADDRESS = "550 5.1.3 Bad recipient address syntax"
S554_NO_RECIPIENTS = "554 5.5.1 No valid recipients"

# Local parts every domain of ours accepts, whatever the routes (RFC 5321 4.5.1; RFC 2142).
ALWAYS_ACCEPTED = frozenset({"postmaster", "abuse", "fbl"})


class Domains(Protocol):
    async def get(self, name: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Received:
    """One stored message: what the processor reads back."""

    id: int
    peer: str
    helo: str
    mail_from: str
    recipients: tuple[str, ...]
    raw: bytes


class MxHandler:
    """aiosmtpd hooks: ``handle_RCPT`` decides, ``handle_DATA`` stores and replies."""

    def __init__(
        self,
        store: Store,
        domains: Domains,
        *,
        accepts: Callable[[str], Awaitable[bool]],
        hostname: str,
        on_received: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._domains = domains
        self._accepts = accepts
        self._hostname = hostname
        self._on_received = on_received
        self._clock = clock

    async def _is_our_domain(self, domain: str) -> bool:
        labels = domain.split(".")
        for i in range(len(labels) - 1):
            candidate = ".".join(labels[i:])
            try:
                row = await self._domains.get(candidate)
            except NotFound:
                continue
            if i == 0 or bool(getattr(row, "wildcard", False)):
                return True
        return False

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        local, at, domain = address.rpartition("@")
        if not at or not local or not domain:
            return S550_BAD_ADDRESS
        domain = domain.lower().rstrip(".")
        if not await self._is_our_domain(domain):
            log.info("inbound_relay_denied", recipient_domain=domain, peer=_peer(session))
            return S550_RELAY_DENIED.format(domain=domain)
        if local.lower() not in ALWAYS_ACCEPTED and not await self._accepts(address):
            return S550_NO_ROUTE.format(address=address)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return S250_RCPT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if not envelope.rcpt_tos:
            return S554_NO_RECIPIENTS
        raw = envelope.original_content or b""
        if isinstance(envelope.content, bytes) and not raw:
            raw = envelope.content
        if has_bare_newline(raw):  # SMTP smuggling (line_ends.py): never store or relay it
            log.info("inbound_bare_newline_refused", peer=_peer(session), size=len(raw))
            return S550_BARE_NEWLINE
        now = self._clock()
        queue_id = secrets.token_hex(6)
        raw = self._trace(session, envelope, now, queue_id) + raw
        row = {
            "received_at": now,
            "peer": _peer(session),
            "helo": str(session.host_name or "")[:255],
            "mail_from": envelope.mail_from or "",
            "recipients": jsontext.dumps(list(envelope.rcpt_tos)),
            "size": len(raw),
            "raw": raw,
            "status": "queued",
            "due_at": now,
            "attempts": 0,
            "claimed_by": None,
            "claimed_until": None,
            "updated_at": now,
            "outcome": None,
        }
        try:
            # Grouped with concurrent sessions' messages into one commit (group commit).
            await self._store.write(InsertRows([(schema.inbound_messages, [row])]))
        except Exception:
            log.exception("inbound_store_failed", peer=row["peer"], size=row["size"])
            return S451_STORE_FAILED
        log.info(
            "inbound_received",
            queue_id=queue_id,
            peer=row["peer"],
            recipients=len(envelope.rcpt_tos),
            size=row["size"],
        )
        self._on_received()
        return S250_QUEUED.format(id=queue_id)

    def _trace(self, session: Session, envelope: Envelope, now: float, queue_id: str) -> bytes:
        """RFC 5321 4.4: the Received line a receiving server prepends (it also lets a route
        that forwards back to us see the loop, RFC 5321 6.3)."""
        helo = str(session.host_name or "unknown")
        rcpt = envelope.rcpt_tos[0] if len(envelope.rcpt_tos) == 1 else ""
        when = format_datetime(datetime.fromtimestamp(now, UTC))
        line = (
            f"Received: from {helo} ([{_peer(session)}])\r\n\tby {self._hostname} (mailwright)"
            f" with {'ESMTPS' if session.ssl else 'ESMTP'} id {queue_id}"
            + (f"\r\n\tfor <{rcpt}>" if rcpt else "")
            + f"; {when}\r\n"
        )
        return line.encode("utf-8", "replace")


def _peer(session: Session) -> str:
    peer = session.peer
    if isinstance(peer, tuple) and peer:
        return str(peer[0])[:64]
    return str(peer or "")[:64]
