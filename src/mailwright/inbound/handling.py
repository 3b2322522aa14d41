"""The steps each received message goes through (``processor.py`` runs them, see its docstring).

``Inbound.handle`` returns a JSON-able outcome kept on the row; an exception means "try again".
Every write of one message's outcome (events, suppressions, stored copies, outbox rows) is one
transaction; a forward to an address is a new send through ``messages.accept`` (its own commit).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright import jsontext
from mailwright.errors import SendingLimitReached
from mailwright.events import (
    EventType,
    LogLevel,
    MessageFacts,
    Severity,
    event_row,
    form_payload,
    form_row,
    record,
)
from mailwright.inbound.arf import classify_report
from mailwright.inbound.authentication import AuthResults
from mailwright.inbound.authentication import check as check_authentication
from mailwright.inbound.parse import (
    InboundMessage,
    forward_form,
    forward_mime_form,
    parse_inbound,
)
from mailwright.inbound.reports import Bounce, Complaint
from mailwright.inbound.route_store import all_routes
from mailwright.inbound.routes import (
    ForwardAction,
    MatchHeader,
    Route,
    Step,
    StoreAction,
    parse_expression,
    plan,
)
from mailwright.logs import get_logger
from mailwright.messages import MonthlyLimit, Upload, accept, parse_mime_send, storage_url
from mailwright.messages.verp import ReturnPathMatch, parse_return_path
from mailwright.resolver import Resolver
from mailwright.store import Store, inbound, queries, schema
from mailwright.suppressions import add_bounce, add_complaint

log = get_logger(__name__)

BOUNCE_PREFIX = "bounce+"
# RFC 5321 6.3: a message that has passed this many hops is looping; it is not forwarded again.
MAX_HOPS = 25
SIGNATURE_FIELDS = frozenset({"timestamp", "token", "signature"})
# RFC 5965 3.1 feedback types that are complaints about the mail (not "not-spam").
COMPLAINT_TYPES = frozenset({"abuse", "fraud", "virus", "other", "complaint"})


class RouteCache:
    """Every route, remembered a few seconds: the MX asks on each RCPT."""

    def __init__(self, store: Store, clock: Callable[[], float], *, seconds: float = 2.0) -> None:
        self._store = store
        self._clock = clock
        self._seconds = seconds
        self._until = 0.0
        self._routes: list[Route] = []
        self._lock = asyncio.Lock()

    async def get(self) -> list[Route]:
        if self._clock() < self._until:
            return self._routes
        async with self._lock:
            if self._clock() >= self._until:
                self._routes = await all_routes(self._store)
                self._until = self._clock() + self._seconds
        return self._routes

    async def accepts(self, address: str) -> bool:
        """True when some route may take ``address``: its recipient filters match it (header
        filters can only be judged once the message is here)."""
        for route in await self.get():
            filters = parse_expression(route.expression).filters
            if all(isinstance(f, MatchHeader) or f.find(address, ()) for f in filters):
                return True
        return False


class RecipientCheck:
    """Which local parts the MX takes at our domains (``MxHandler`` asks it on each RCPT):
    our bounce addresses when their VERP tag verifies, else what a route may take."""

    def __init__(self, routes: RouteCache, verp_key: Callable[[], Awaitable[bytes]]) -> None:
        self._routes = routes
        self._verp_key = verp_key
        self._key: bytes | None = None

    async def accepts(self, address: str) -> bool:
        if self._key is None:
            self._key = await self._verp_key()
        if parse_return_path(address, self._key) is not None:
            return True
        if address.lower().startswith(BOUNCE_PREFIX):
            return False  # a forged or damaged return path: nothing of ours
        return await self._routes.accepts(address)


@dataclass(frozen=True, slots=True)
class InboundConfig:
    public_url: str
    retention: float  # seconds a stored message stays retrievable
    authserv_id: str  # our name in Authentication-Results
    allow_private_urls: bool = False


@dataclass
class Inbound:
    store: Store
    config: InboundConfig
    resolver: Resolver
    routes: RouteCache
    verp_key: Callable[[], Awaitable[bytes]]
    on_accepted: Callable[[], None] = lambda: None
    clock: Callable[[], float] = time.time
    monthly_limit: MonthlyLimit | None = None  # a forward is a send: it counts and may be refused
    _key: bytes | None = field(default=None, init=False)
    # SPF and DKIM checks wait on DNS in threads: enough of them for the processor's concurrency.
    _threads: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(64, thread_name_prefix="mailwright-auth"),
        init=False,
    )

    async def _verp(self) -> bytes:
        if self._key is None:
            self._key = await self.verp_key()
        return self._key

    async def handle(self, row: dict[str, Any]) -> dict[str, Any]:
        raw: bytes = row["raw"]
        recipients = [str(r) for r in jsontext.loads(row["recipients"])]
        key = await self._verp()
        report = classify_report(raw)
        if report is not None:
            handled = await self._report(report, recipients, key)
            if handled is not None:
                return handled
        bounces = [r for r in recipients if parse_return_path(r, key) is not None]
        routed = [r for r in recipients if r not in bounces]
        outcome: dict[str, Any] = {}
        if bounces:
            log.info("inbound_bounce_unparsed", received_id=row["id"], note="not a DSN or ARF")
            outcome["unparsed_reports"] = len(bounces)
        if routed:
            outcome["routes"] = await self._route(row, raw, routed)
        return outcome

    # -- reports: DSNs and feedback loops ---------------------------------------------------

    async def _report(
        self, report: Bounce | Complaint, recipients: Sequence[str], key: bytes
    ) -> dict[str, Any] | None:
        """Record the report against its delivery; None when it names no delivery of ours."""
        if isinstance(report, Bounce):
            if report.is_delayed:
                log.info("inbound_dsn_delayed", recipient=report.recipient, status=report.status)
                return {"report": "delayed", "recipient": report.recipient}
            reported = [r.original_recipient or r.recipient for r in report.recipients]
            reported += [r.recipient for r in report.recipients]
            quoted = report.original.return_path if report.original else None
        else:
            reported = [r for r in (report.recipient, *report.original_rcpt_to) if r]
            if report.original is not None:
                reported += list(report.original.to)
            quoted = report.return_path
        now = self.clock()

        async def write(conn: AsyncConnection) -> dict[str, Any] | None:
            found = await _find_delivery(
                conn, [*recipients, *([quoted] if quoted else [])], key, reported, report
            )
            if found is None:
                return None
            message_key, recipient = found
            message = await queries.get_message(conn, message_key)
            if message is None:
                return None
            facts = MessageFacts.from_json(jsontext.loads(message.spec)["facts"])
            if isinstance(report, Bounce):
                return await _record_bounce(conn, report, facts, recipient, now)
            return await _record_complaint(conn, report, facts, recipient, now)

        return await self.store.write(write)

    # -- routes ----------------------------------------------------------------------------

    async def _route(
        self, row: dict[str, Any], raw: bytes, recipients: Sequence[str]
    ) -> dict[str, Any]:
        auth = await check_authentication(
            raw,
            ip=row["peer"],
            helo=row["helo"],
            mail_from=row["mail_from"],
            resolver=self.resolver,
            now=self.clock(),
            executor=self._threads,
        )
        raw = _with_trace(raw, auth, self.config.authserv_id)
        message = parse_inbound(raw)
        routes = await self.routes.get()
        hops = sum(1 for name, _ in message.message_headers if name.lower() == "received")
        now = self.clock()
        outcome: dict[str, Any] = {}
        rows: list[tuple[Any, list[dict[str, Any]]]] = []
        events: list[dict[str, Any]] = []
        forwards: list[tuple[str, str]] = []
        for rcpt in recipients:
            steps = plan(routes, rcpt, message.message_headers)
            if not steps:
                log.warning("inbound_unrouted", received_id=row["id"], recipient=rcpt)
                outcome[rcpt] = "no route matched"
                continue
            done = _Routing(self, row, raw, message, rcpt, steps, auth, now)
            events += done.events()
            rows += done.rows()
            forwards += [(rcpt, a) for a in done.addresses] if hops < MAX_HOPS else []
            if hops >= MAX_HOPS and done.addresses:
                log.warning("inbound_forward_loop", received_id=row["id"], hops=hops)
            outcome[rcpt] = [s.route_id for s in steps]

        async def write(conn: AsyncConnection) -> None:
            for table, values in rows:
                if values:
                    await conn.execute(table.insert(), values)
            await record(conn, events)

        await self.store.write(write)
        for rcpt, address in forwards:
            await self._forward_to_address(raw, rcpt, address, now)
        return outcome

    async def _forward_to_address(self, raw: bytes, rcpt: str, address: str, now: float) -> None:
        """``forward("addr")``: a new send of the message as received, from the route's domain."""
        domain = rcpt.rpartition("@")[2].lower()
        upload = Upload(
            field="message", filename="message.mime", content_type="message/rfc822", data=raw
        )
        req = parse_mime_send([("to", address)], [upload], now=datetime.fromtimestamp(now, UTC))
        try:
            await accept(
                self.store,
                req,
                domain=domain,
                public_url=self.config.public_url,
                retention=self.config.retention,
                now=now,
                method="smtp",
                monthly_limit=self.monthly_limit,
            )
        except SendingLimitReached as exc:  # the route's other actions are done; this one is not
            log.warning(
                "inbound_forward_refused", recipient=rcpt, forward=address, reason=exc.message
            )
            return
        self.on_accepted()


@dataclass
class _Routing:
    """What one recipient's matching routes produce: events, stored copies, outbox rows."""

    inbound: Inbound
    row: dict[str, Any]
    raw: bytes
    message: InboundMessage
    recipient: str
    steps: list[Step]
    auth: AuthResults
    now: float
    addresses: list[str] = field(default_factory=list)
    _rows: list[tuple[Any, list[dict[str, Any]]]] = field(default_factory=list)
    _events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        config = self.inbound.config
        domain = self.recipient.rpartition("@")[2].lower()
        stores = [a for s in self.steps for a in s.actions if isinstance(a, StoreAction)]
        key = secrets.token_urlsafe(18) if stores else ""
        url = storage_url(config.public_url, domain, key) if key else ""
        facts = _facts(self.message, self.row, domain, key, url)
        routes = [{"id": s.route_id, "match": {"recipient": self.recipient}} for s in self.steps]
        flags = {
            "is-routed": True,
            "is-authenticated": False,
            "is-system-test": False,
            "is-test-mode": False,
        }
        common = {
            "flags": flags,
            "routes": routes,
            "method": "smtp",
            "envelope": {
                "sender": self.row["mail_from"],
                "targets": self.recipient,
                "transport": "smtp",
                "sending-ip": self.row["peer"],
            },
            "authentication": self.auth.to_json(),
        }
        self._events.append(
            event_row(facts, EventType.ACCEPTED, self.recipient, self.now, **common)
        )
        fields, files = self._form()
        if key:
            self._store(facts, key, domain)
            self._events.append(
                event_row(facts, EventType.STORED, self.recipient, self.now, **common)
            )
        for action in (a for s in self.steps for a in s.actions):
            if isinstance(action, ForwardAction):
                for target in action.urls:
                    if urlsplit(target).path.endswith("mime"):  # Mailgun posts raw MIME there
                        self._post("route-forward", domain, target, self._mime_form(), [])
                    else:
                        self._post("route-forward", domain, target, fields, files)
                self.addresses += list(action.addresses)
            elif isinstance(action, StoreAction) and action.notify:
                notify = [*fields, ("message-url", url)]
                self._post("route-notify", domain, action.notify, notify, [])

    def _form(self) -> tuple[list[tuple[str, str]], list[tuple[str, str, str, bytes]]]:
        fields, files = forward_form(
            self.message,
            recipient=self.recipient,
            envelope_sender=self.row["mail_from"],
            signing_key="",
            timestamp=0,
            token="",
        )
        kept = [(k, v) for k, v in fields if k not in SIGNATURE_FIELDS]
        return kept, [(name, f[0], f[2], f[1]) for name, f in files]

    def _mime_form(self) -> list[tuple[str, str]]:
        fields = forward_mime_form(
            self.raw,
            recipient=self.recipient,
            envelope_sender=self.row["mail_from"],
            signing_key="",
            timestamp=0,
            token="",
        )
        return [(k, v) for k, v in fields if k not in SIGNATURE_FIELDS]

    def _post(
        self,
        kind: str,
        domain: str,
        url: str,
        fields: Sequence[tuple[str, str]],
        files: Sequence[tuple[str, str, str, bytes]],
    ) -> None:
        payload = form_payload(fields, files)
        self._rows.append(
            (
                schema.webhook_outbox,
                [
                    form_row(
                        domain=domain,
                        kind=kind,
                        url=url,
                        event_id=self._events[0]["id"],
                        payload=payload,
                        now=self.now,
                    )
                ],
            )
        )

    def _store(self, facts: MessageFacts, key: str, domain: str) -> None:
        spec = {"spec": {"kind": "inbound", "raw": 0}, "facts": facts.to_json()}
        message = {
            "id": key,
            "domain": domain,
            "message_id": facts.message_id,
            "sender": facts.sender,
            "subject": facts.subject,
            "spec": jsontext.dumps(spec),
            "recipients": jsontext.dumps([self.recipient]),
            "size": len(self.raw),
            "method": "smtp",
            "is_test_mode": False,
            "created_at": self.now,
            "expires_at": self.now + self.inbound.config.retention,
        }
        self._rows.append((schema.messages, [message]))
        self._rows.append(
            (schema.message_blobs, [{"message_key": key, "idx": 0, "data": self.raw}])
        )

    def events(self) -> list[dict[str, Any]]:
        return self._events

    def rows(self) -> list[tuple[Any, list[dict[str, Any]]]]:
        # Stored messages before their blobs and the outbox (foreign keys).
        return self._rows


def _facts(
    message: InboundMessage, row: dict[str, Any], domain: str, key: str, url: str
) -> MessageFacts:
    to = next((v for k, v in message.message_headers if k.lower() == "to"), "")
    message_id = (message.message_id or "").strip().strip("<>") or (
        f"{secrets.token_hex(8)}@{domain}"
    )
    return MessageFacts(
        domain=domain,
        message_id=message_id,
        storage_key=key,
        storage_url=url,
        sender=row["mail_from"] or message.sender,
        from_header=message.from_,
        to_header=to,
        subject=message.subject,
        size=len(row["raw"]),
        method="smtp",
        attachments=[
            {"filename": a.filename, "content-type": a.content_type, "size": len(a.content)}
            for a in message.attachments
        ],
    )


def _with_trace(raw: bytes, auth: AuthResults, authserv_id: str) -> bytes:
    """The message with our Authentication-Results and Mailgun's X-Mailgun-* check headers on
    top (RFC 8601 5: added by the receiving border MTA)."""
    results = auth.to_json()
    lines = [
        f"Authentication-Results: {auth.header(authserv_id)}",
        f"X-Mailgun-Spf: {str(results.get('spf', 'none')).capitalize()}",
        f"X-Mailgun-Dkim-Check-Result: {str(results.get('dkim', 'none')).capitalize()}",
        "X-Mailgun-Incoming: Yes",
    ]
    return ("\r\n".join(lines) + "\r\n").encode() + raw


async def _find_delivery(
    conn: AsyncConnection,
    addresses: Sequence[str],
    key: bytes,
    reported: Sequence[str],
    report: Bounce | Complaint,
) -> tuple[str, str] | None:
    """(message key, recipient) the report is about: through a VERP address we sent from,
    else through the original Message-Id; the recipient is the reported one when that message
    had it, else the delivery's own."""
    wanted = {r.lower() for r in reported}
    for address in addresses:
        match: ReturnPathMatch | None = parse_return_path(address, key)
        if match is None:
            continue
        origin = await inbound.delivery_origin(conn, match.delivery_id)
        if origin is None:
            continue
        others = await inbound.message_recipients(conn, origin["message_key"])
        named = [r for r in others if r.lower() in wanted]
        return origin["message_key"], named[0] if named else str(origin["recipient"])
    message_id = report.original_message_id
    if not message_id:
        return None
    for found in await inbound.messages_by_message_id(conn, message_id):
        others = await inbound.message_recipients(conn, found["id"])
        named = [r for r in others if r.lower() in wanted]
        if named:
            return str(found["id"]), named[0]
        if len(others) == 1:
            return str(found["id"]), others[0]
    return None


def _code(diagnostic: str | None, status: str) -> int:
    head = (diagnostic or "").strip()[:3]
    if head.isdigit():
        return int(head)
    return 550 if status.startswith("5.") else 450


async def _record_bounce(
    conn: AsyncConnection, report: Bounce, facts: MessageFacts, recipient: str, now: float
) -> dict[str, Any]:
    status = next(
        (r for r in report.recipients if r.recipient.lower() == recipient.lower()), report.primary
    )
    code = _code(status.diagnostic, status.status)
    text = status.diagnostic or f"{status.status} {status.action}"
    permanent = status.is_permanent
    event = event_row(
        facts,
        EventType.FAILED,
        recipient,
        now,
        severity=str(Severity.PERMANENT),
        **{"log-level": str(LogLevel.ERROR)},
        reason="bounce" if permanent else "generic",
        **{
            "delivery-status": {
                "code": code,
                "message": text,
                "description": text,
                "enhanced-code": status.status,
                "mx-host": status.remote_mta or "",
                "bounce-type": "async",
                "attempt-no": 1,
            }
        },
    )
    await record(conn, [event])
    if permanent:
        await add_bounce(conn, facts.domain, recipient, code=code, error=text, now=now)
    log.info(
        "inbound_async_bounce",
        domain=facts.domain,
        message_id=facts.message_id,
        status=status.status,
        permanent=permanent,
    )
    return {"report": "bounce", "recipient": recipient, "status": status.status}


async def _record_complaint(
    conn: AsyncConnection, report: Complaint, facts: MessageFacts, recipient: str, now: float
) -> dict[str, Any]:
    if report.feedback_type.lower() not in COMPLAINT_TYPES:
        log.info("inbound_feedback_ignored", feedback_type=report.feedback_type)
        return {"report": "feedback", "feedback_type": report.feedback_type}
    event = event_row(facts, EventType.COMPLAINED, recipient, now)
    await record(conn, [event])
    await add_complaint(conn, facts.domain, recipient, now=now)
    log.info("inbound_complaint", domain=facts.domain, message_id=facts.message_id)
    return {"report": "complaint", "recipient": recipient, "feedback_type": report.feedback_type}
