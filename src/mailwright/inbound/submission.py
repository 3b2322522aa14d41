"""Authenticated SMTP submission: an aiosmtpd handler that accepts mail through the same
path as ``POST /v3/{domain}/messages.mime``.

A session must AUTH (PLAIN or LOGIN) with a domain's SMTP credentials before MAIL, and may
only AUTH over STARTTLS, unless the client is on loopback (a local app or relay talking to
us on the same machine). The credential's domain is the sending domain: the envelope sender
and the From header must belong to it (``senders.py``). After DATA the ``X-Mailgun-*``
control headers become send options (``headers.py``), the message goes through
``parse_mime_send`` and ``accept`` with ``method="smtp"``, and we reply 250 only once the
message is committed; a store error answers 451 so the client keeps the message and retries.

aiosmtpd's ``authenticator`` callback is synchronous, so the handler brings its own
``auth_PLAIN``/``auth_LOGIN`` mechanisms (aiosmtpd prefers a handler's ``auth_*`` methods
to its built-in ones) and checks the password off the loop. AUTH arguments never reach our
logs, and aiosmtpd masks them in its own.
"""

from __future__ import annotations

import binascii
import ipaddress
from base64 import b64decode
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiosmtpd.smtp import (
    MISSING,
    SMTP,
    AuthResult,
    Envelope,
    Session,
    TLSSetupException,
    _Missing,
)

from mailwright.auth import Credential, CredentialCache
from mailwright.domains import DomainCache
from mailwright.errors import InvalidInput, NotFound, PayloadTooLarge, SendingLimitReached
from mailwright.events import WebhookCache
from mailwright.inbound import replies
from mailwright.inbound.headers import HEADER_OF, split_controls
from mailwright.inbound.line_ends import has_bare_newline, to_crlf
from mailwright.inbound.senders import is_sender_allowed
from mailwright.lists import ListDirectory
from mailwright.logs import get_logger
from mailwright.messages import (
    MAX_RECIPIENTS,
    MonthlyLimit,
    SendRequest,
    Upload,
    accept,
    parse_mime_send,
)
from mailwright.store import Store

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SubmissionConfig:
    public_url: str
    retention: float  # seconds a stored message is kept
    # Loopback clients may AUTH without STARTTLS (nothing crosses a network). Tests turn this
    # off to see what a remote client sees.
    is_loopback_trusted: bool = True
    # MAILWRIGHT_SUBMISSION_TRUSTED_NETWORKS: clients here may submit without AUTH (printers,
    # legacy apps on a LAN; Postfix's mynetworks), as any of our domains.
    trusted_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()


def is_loopback(peer: Any) -> bool:
    host = peer[0] if isinstance(peer, tuple) and peer else peer
    try:
        address = ipaddress.ip_address(str(host))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


# The login a trusted network's session runs under: no SMTP credential can have it (no "@").
TRUSTED_LOGIN = "(trusted network)"


class SubmissionHandler:
    """The aiosmtpd handler of the submission listener (one instance for all sessions)."""

    def __init__(
        self,
        store: Store,
        config: SubmissionConfig,
        *,
        credentials: CredentialCache,
        domains: DomainCache,
        webhooks: WebhookCache,
        lists: ListDirectory,
        on_accepted: Callable[[], None],
        clock: Callable[[], float],
        monthly_limit: MonthlyLimit | None = None,
    ) -> None:
        self._store = store
        self._monthly_limit = monthly_limit
        self._config = config
        self._credentials = credentials
        self._domains = domains
        self._webhooks = webhooks
        self._lists = lists
        self._on_accepted = on_accepted
        self._clock = clock

    # -- session policy --------------------------------------------------------------------

    def _needs_tls(self, session: Session) -> bool:
        if session.ssl is not None:
            return False
        return not (self._config.is_loopback_trusted and is_loopback(session.peer))

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self._needs_tls(session):  # RFC 4954 4: offer AUTH only where it may be used
            return [line for line in responses if not line[4:].startswith("AUTH")]
        return responses

    async def handle_AUTH(
        self, server: SMTP, session: Session, envelope: Envelope, args: list[str]
    ) -> Any:
        if self._needs_tls(session):
            return replies.S538_ENCRYPTION_REQUIRED
        return MISSING  # go on with the mechanism

    # -- AUTH mechanisms (RFC 4616 PLAIN, draft-murchison-sasl-login LOGIN) ------------------

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        response: bytes | _Missing | None
        if len(args) == 1:
            response = await server.challenge_auth("")
            if response is MISSING:
                return AuthResult(success=False, handled=True)
        else:
            response = _b64(args[1])
            if response is None:
                return AuthResult(
                    success=False, handled=False, message="501 5.5.2 Can't decode base64"
                )
        assert isinstance(response, bytes)
        parts = response.split(b"\x00")
        if len(parts) != 3:
            return AuthResult(
                success=False, handled=False, message="501 5.5.2 Can't split auth value"
            )
        return await self._verify(server, parts[1], parts[2])

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        login: bytes | _Missing | None
        if len(args) == 1:
            login = await server.challenge_auth(server.AuthLoginUsernameChallenge)
            if login is MISSING:
                return AuthResult(success=False, handled=True)
        else:
            login = _b64(args[1])
            if login is None:
                return AuthResult(
                    success=False, handled=False, message="501 5.5.2 Can't decode base64"
                )
        password = await server.challenge_auth(server.AuthLoginPasswordChallenge)
        if password is MISSING:
            return AuthResult(success=False, handled=True)
        assert isinstance(login, bytes)
        assert isinstance(password, bytes)
        return await self._verify(server, login, password)

    async def _verify(self, server: SMTP, login: bytes, password: bytes) -> AuthResult:
        peer = server.session.peer if server.session is not None else None
        name = login.decode("utf-8", "replace")
        try:
            credential = await self._credentials.verify(name, password.decode("utf-8", "replace"))
            if credential is not None:
                await self._domains.get(credential.domain)
        except NotFound:
            credential = None
        except Exception:
            log.exception("smtp_auth_error", login=name, peer=str(peer))
            return AuthResult(success=False, handled=False, message=replies.S454_AUTH_TEMPORARY)
        if credential is None:
            log.info("smtp_auth_failed", login=name, peer=str(peer))
            return AuthResult(success=False, handled=False, message=replies.S535_AUTH_INVALID)
        return AuthResult(success=True, auth_data=credential)

    # -- the transaction -------------------------------------------------------------------

    def _is_trusted(self, session: Session) -> bool:
        host = session.peer[0] if isinstance(session.peer, tuple) and session.peer else ""
        try:
            address = ipaddress.ip_address(str(host))
        except ValueError:
            return False
        return any(address in network for network in self._config.trusted_networks)

    async def _trusted_credential(self, session: Session, address: str) -> Credential | None:
        """A trusted network's client sends as the domain of its envelope sender, when that
        domain is ours; the session counts as authenticated for that domain."""
        domain = address.rpartition("@")[2].lower()
        if not domain:
            return None
        try:
            row = await self._domains.get(domain)
        except NotFound:
            return None
        credential = Credential(login=TRUSTED_LOGIN, domain=row.name, created_at=0.0)
        session.auth_data = credential  # type: ignore[assignment]  # aiosmtpd types it None
        session.authenticated = True
        return credential

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        credential = _credential(session)
        if (credential is None or credential.login == TRUSTED_LOGIN) and self._is_trusted(session):
            credential = await self._trusted_credential(session, address)
        if credential is None:
            return replies.S530_AUTH_REQUIRED
        # A null reverse-path (RFC 5321 4.5.5) is allowed; the From header is checked anyway.
        if address and not is_sender_allowed(address, credential.domain):
            return replies.S550_SENDER_NOT_ALLOWED.format(
                what="Envelope sender", address=address, domain=credential.domain
            )
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return replies.S250_SENDER_OK

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if _credential(session) is None:
            return replies.S530_AUTH_REQUIRED
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return replies.S452_TOO_MANY_RECIPIENTS  # RFC 5321 4.5.3.1.10
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return replies.S250_RECIPIENT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        credential = _credential(session)
        if credential is None:
            return replies.S530_AUTH_REQUIRED
        if has_bare_newline(envelope.original_content or b""):  # SMTP smuggling (line_ends.py)
            # Authenticated (or trusted) clients: normalise, as Postfix's default does for
            # them; the smuggled "end of data" stays a line inside this one message, and our
            # SMTP client dot-stuffs it on the way out.
            log.info("smtp_bare_newline_normalised", login=credential.login, peer=str(session.peer))
            envelope.original_content = to_crlf(envelope.original_content or b"")
        trace = received_header(
            helo=session.host_name or "unknown",
            peer=session.peer,
            by=server.hostname,
            is_tls=session.ssl is not None,
            when=datetime.now(UTC),
        )
        parsed = _parse(envelope, trace)
        if isinstance(parsed, str):
            return parsed
        if not is_sender_allowed(parsed.sender, credential.domain):
            return replies.S550_SENDER_NOT_ALLOWED.format(
                what="From header address", address=parsed.sender, domain=credential.domain
            )
        return await self._accept(credential, parsed, session)

    async def _accept(self, credential: Credential, req: SendRequest, session: Session) -> str:
        try:
            domain = (await self._domains.get(credential.domain)).name
            accepted = await accept(
                self._store,
                req,
                domain=domain,
                public_url=self._config.public_url,
                retention=self._config.retention,
                now=self._clock(),
                method="smtp",
                webhooks=self._webhooks,
                lists=await self._lists.lists_among(req.recipients),
                monthly_limit=self._monthly_limit,
            )
        except NotFound:
            return replies.S550_DOMAIN_GONE.format(domain=credential.domain)
        except InvalidInput as exc:  # e.g. a template or list the message names is wrong
            return replies.S554_INVALID.format(text=replies.one_line(exc.message))
        except SendingLimitReached as exc:  # refused, as the HTTP API refuses it: not queued
            return replies.S550_SENDING_LIMIT.format(text=replies.one_line(exc.message))
        except Exception:
            # Never lose a message silently: a 4xx keeps it in the client's queue.
            log.exception("smtp_accept_failed", login=credential.login, peer=str(session.peer))
            return replies.S451_STORE_ERROR
        self._on_accepted()
        log.info("smtp_accepted", message_id=accepted.id, login=credential.login)
        return replies.S250_QUEUED.format(message_id=accepted.id)

    async def handle_exception(self, error: Exception) -> str:
        """A session failed outside our hooks (a client hanging up during TLS...)."""
        if isinstance(error, TLSSetupException | ConnectionError):  # the client's side failed
            log.info("smtp_session_dropped", error=type(error).__name__, detail=str(error))
        else:
            log.error("smtp_session_error", error=type(error).__name__, exc_info=error)
        # aiosmtpd replies with what we return and keeps the session: a 4xx lets the client
        # retry the command or the whole message later.
        return replies.S451_INTERNAL


def _credential(session: Session) -> Credential | None:
    data = session.auth_data if session.authenticated else None
    return data if isinstance(data, Credential) else None


def _b64(value: str) -> bytes | None:
    try:
        return b64decode(value.encode(), validate=True)
    except (binascii.Error, ValueError):
        return None


def received_header(*, helo: str, peer: Any, by: str, is_tls: bool, when: datetime) -> bytes:
    """RFC 5321 4.4 trace field; ESMTPA/ESMTPSA (RFC 3848) say the sender authenticated."""
    address = peer[0] if isinstance(peer, tuple) and peer else "unknown"
    protocol = "ESMTPSA" if is_tls else "ESMTPA"
    value = f"from {helo} ([{address}]) by {by} with {protocol}; {format_datetime(when)}"
    return f"Received: {replies.one_line(value)}\r\n".encode("utf-8", "replace")


def _parse(envelope: Envelope, trace: bytes) -> SendRequest | str:
    """The send request for this message, or the reply refusing it."""
    raw = envelope.original_content or b""
    fields, stripped = split_controls(raw)
    stripped = trace + stripped
    fields += [("to", rcpt) for rcpt in envelope.rcpt_tos]
    upload = Upload(
        field="message", filename="message", content_type="message/rfc822", data=stripped
    )
    try:
        return parse_mime_send(fields, [upload], now=datetime.now(UTC))
    except PayloadTooLarge as exc:
        return replies.S552_TOO_BIG.format(text=replies.one_line(exc.message))
    except InvalidInput as exc:
        return replies.S554_INVALID.format(text=replies.one_line(_header_message(exc)))


def _header_message(exc: InvalidInput) -> str:
    """Name the header the client wrote, not the API field it stands for."""
    if exc.field == "to":
        return exc.message.replace("'to' parameter", "A recipient (RCPT TO)")
    if exc.field == "message":
        return exc.message.replace("'message' parameter", "The message")
    header = HEADER_OF.get(exc.field or "")
    if header is None:
        return exc.message
    text = exc.message.replace(f"'{exc.field}' parameter", "the value")
    return f"{_title(header)}: {text}"


def _title(header: str) -> str:
    return "-".join(part.capitalize() for part in header.split("-"))
