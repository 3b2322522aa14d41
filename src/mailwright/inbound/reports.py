"""What a bounce or complaint arriving by mail says, and the MIME reading DSN and ARF share; pure.

A :class:`Bounce` is a delivery status notification (RFC 3464, or one of the older plain-text
shapes); a :class:`Complaint` is a feedback report (RFC 5965 ARF, or Microsoft JMRP). Both
carry the headers of the message they are about (:class:`OriginalMessage`), which is how the
processor finds the delivery when the return path alone does not name it.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import email.utils
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.header import decode_header, make_header
from email.message import Message
from enum import StrEnum

# RFC 3464 2.3.4 "Status": class.subject.detail; RFC 3463 classes are 2, 4 and 5.
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# A basic SMTP reply code at the start of a reply line or after "said:"/"smtp;" text.
_REPLY_CODE = re.compile(r"(?<![\d.])([245])\d\d(?=[\s:-]|$)")
_RETURNED_CONTENT = frozenset(
    {"message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers"}
)
_WHITESPACE = re.compile(r"\s+")
_UTF8_ADDR_ESCAPE = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")  # RFC 6533 3: utf-8-addr-xtext


class Action(StrEnum):
    """RFC 3464 2.3.3: what the reporting MTA did for one recipient."""

    FAILED = "failed"  # gave up: the message was not delivered
    DELAYED = "delayed"  # still trying; a warning, not a failure
    DELIVERED = "delivered"  # delivered (a success DSN)
    RELAYED = "relayed"  # passed to a system that sends no DSNs
    EXPANDED = "expanded"  # delivered to a list, which sends its own DSNs


class BounceFormat(StrEnum):
    RFC3464 = "rfc3464"  # multipart/report; report-type=delivery-status
    QMAIL = "qmail"  # "Hi. This is the qmail-send program" (and Yahoo's copy of it)
    EXIM = "exim"  # "This message was created automatically by mail delivery software."
    EXCHANGE = "exchange"  # Exchange 5.5/2003 "did not reach the following recipient(s)"


class ComplaintFormat(StrEnum):
    ARF = "arf"  # multipart/report; report-type=feedback-report
    JMRP = "jmrp"  # Microsoft's Junk Mail Reporting Program (ARF or its older own shape)


@dataclass(frozen=True, slots=True)
class OriginalMessage:
    """The returned headers of the message a report is about."""

    message_id: str | None  # without angle brackets, as mailwright stores it
    to: tuple[str, ...]
    return_path: str | None
    sender: str | None  # the From address
    subject: str | None
    headers: tuple[tuple[str, str], ...]  # every header, in order, unfolded

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """One per-recipient block of a DSN."""

    recipient: str  # Final-Recipient
    original_recipient: str | None  # Original-Recipient (the RCPT TO ORCPT), when given
    action: Action
    status: str  # "5.1.1"; derived from the diagnostic or the action when missing
    diagnostic: str | None  # Diagnostic-Code without its type, e.g. "550 5.1.1 No such user"
    remote_mta: str | None

    @property
    def is_failure(self) -> bool:
        return self.action is Action.FAILED

    @property
    def is_permanent(self) -> bool:
        """Failed with a 5.x.x status: the address should be suppressed."""
        return self.action is Action.FAILED and self.status.startswith("5.")

    @property
    def is_delayed(self) -> bool:
        """Still being retried (RFC 3464 "delayed"): report it, but it is no failure."""
        return self.action is Action.DELAYED


@dataclass(frozen=True, slots=True)
class Bounce:
    format: BounceFormat
    recipients: tuple[RecipientStatus, ...]  # never empty
    original: OriginalMessage | None
    reporting_mta: str | None

    @property
    def primary(self) -> RecipientStatus:
        """The first permanent failure, else the first failure, else the first recipient."""
        ranked = sorted(self.recipients, key=lambda r: (not r.is_permanent, not r.is_failure))
        return ranked[0]

    @property
    def recipient(self) -> str:
        return self.primary.recipient

    @property
    def status(self) -> str:
        return self.primary.status

    @property
    def diagnostic(self) -> str | None:
        return self.primary.diagnostic

    @property
    def is_permanent(self) -> bool:
        return self.primary.is_permanent

    @property
    def is_failure(self) -> bool:
        return self.primary.is_failure

    @property
    def is_delayed(self) -> bool:
        """Every recipient is only delayed: a warning, not a failure."""
        return all(r.is_delayed for r in self.recipients)

    @property
    def original_message_id(self) -> str | None:
        return self.original.message_id if self.original else None

    @property
    def return_path(self) -> str | None:
        """The Return-Path of the returned message: our envelope sender, when it came back."""
        return self.original.return_path if self.original else None


@dataclass(frozen=True, slots=True)
class Complaint:
    format: ComplaintFormat
    feedback_type: str  # RFC 5965 3.1: abuse, fraud, virus, other, not-spam, auth-failure, ...
    recipient: str | None  # who complained, when the report says (often redacted)
    user_agent: str | None
    version: str | None
    original_mail_from: str | None  # the envelope sender: our return path, when not redacted
    original_rcpt_to: tuple[str, ...]
    arrival_date: datetime | None
    source_ip: str | None
    reported_domains: tuple[str, ...]
    original: OriginalMessage | None

    @property
    def return_path(self) -> str | None:
        """Our envelope sender as the report gives it: Original-Mail-From, else Return-Path."""
        if self.original_mail_from:
            return self.original_mail_from
        return self.original.return_path if self.original else None

    @property
    def original_message_id(self) -> str | None:
        return self.original.message_id if self.original else None


def load(raw: bytes) -> Message:
    """Parse without raising: compat32 keeps header values as the raw strings they were."""
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def parts(message: Message) -> list[Message]:
    """The direct children of a multipart message (not the parts of returned messages)."""
    payload = message.get_payload()
    if not message.is_multipart() or not isinstance(payload, list):
        return []
    return [part for part in payload if isinstance(part, Message)]


def report_type(message: Message) -> str | None:
    if message.get_content_type() != "multipart/report":
        return None
    value = message.get_param("report-type")
    return value.strip().lower() if isinstance(value, str) else None


def field_blocks(part: Message) -> list[Message]:
    """The header-like blocks of a ``message/delivery-status`` or ``feedback-report`` body.

    The stdlib parser splits ``message/delivery-status`` into blocks itself, reads any other
    ``message/*`` body (``message/global-delivery-status``, RFC 6533) as one message whose body
    holds the later blocks, and leaves a ``text/plain`` sent in its place as text.
    """
    payload = part.get_payload()
    if not isinstance(payload, list):
        body = part.get_payload(decode=True)
        return _blocks(body.decode("utf-8", "replace") if isinstance(body, bytes) else str(payload))
    blocks: list[Message] = []
    for block in payload:
        if isinstance(block, Message):
            # Other message/* types are read as one message: its body holds the later blocks.
            rest = block.get_payload(decode=True)  # bytes as sent: 8-bit text is UTF-8 here
            text = rest.decode("utf-8", "replace") if isinstance(rest, bytes) else ""
            blocks += [block, *_blocks(text)]
    return [block for block in blocks if len(block)]


def _blocks(text: str) -> list[Message]:
    chunks = re.split(r"\r?\n[ \t]*\r?\n", text.strip())
    parser = email.parser.HeaderParser(policy=email.policy.compat32)
    return [block for block in (parser.parsestr(chunk) for chunk in chunks) if len(block)]


def returned_message(message: Message) -> OriginalMessage | None:
    """The headers of the first returned-content part (RFC 3464 2, RFC 5965 2 (d))."""
    for part in parts(message):
        if part.get_content_type() in _RETURNED_CONTENT:
            headers = _returned_headers(part)
            if headers is not None:
                return original_from_headers(headers)
    return None


def headers_from_text(text: str) -> Message | None:
    """Parse the headers of a message copied into a plain-text bounce."""
    lines = text.lstrip("\r\n").replace("\r\n", "\n")
    parsed = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(lines)
    return parsed if len(parsed) else None


def original_from_headers(headers: Message) -> OriginalMessage | None:
    items = tuple((str(name), clean(value)) for name, value in _raw_items(headers))
    if not items:
        return None
    return OriginalMessage(
        message_id=message_id(field(headers, "Message-ID")),
        to=addresses(fields(headers, "To")),
        return_path=address(field(headers, "Return-Path")),
        sender=next(iter(addresses(fields(headers, "From"))), None),
        subject=decoded(field(headers, "Subject")),
        headers=items,
    )


def field(message: Message, name: str) -> str | None:
    """The first value of a header or report field, raw 8-bit text read as UTF-8 (RFC 6532)."""
    return next(iter(fields(message, name)), None)


def fields(message: Message, name: str) -> list[str]:
    wanted = name.lower()
    return [value for key, value in _raw_items(message) if key.lower() == wanted]


def _raw_items(message: Message) -> Iterator[tuple[str, str]]:
    # compat32 keeps undecodable bytes as surrogate escapes in the raw values; its get() would
    # turn each into U+FFFD, losing UTF-8 that is perfectly readable.
    for name, value in message.raw_items():
        text = str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        yield name, text


def _returned_headers(part: Message) -> Message | None:
    payload = part.get_payload()
    if isinstance(payload, list):  # message/rfc822, parsed by the stdlib as a message
        inner = payload[0] if payload else None
        return inner if isinstance(inner, Message) and len(inner) else None
    body = part.get_payload(decode=True)  # RFC 6522 text/rfc822-headers may be QP or base64
    if not isinstance(body, bytes):
        return None
    parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(body)
    return parsed if len(parsed) else None


def text_body(message: Message) -> str:
    """The human-readable text of a notification: its text/plain parts before any returned
    message, decoded with their charset."""
    return "\n".join(_text_parts(message))


def _text_parts(message: Message) -> Iterator[str]:
    if message.is_multipart():
        for part in parts(message):
            if part.get_content_maintype() == "message":
                return
            yield from _text_parts(part)
        return
    if message.get_content_type() != "text/plain":
        return
    body = message.get_payload(decode=True)
    if isinstance(body, bytes):
        charset = message.get_content_charset() or "utf-8"
        try:
            yield body.decode(charset, "replace")
        except LookupError:
            yield body.decode("utf-8", "replace")


def clean(value: object) -> str:
    """A header or field value unfolded, with runs of whitespace collapsed."""
    return _WHITESPACE.sub(" ", str(value)).strip()


def decoded(value: object) -> str | None:
    """A header value with RFC 2047 encoded words decoded, or None when absent."""
    if value is None:
        return None
    try:
        return clean(make_header(decode_header(clean(value))))
    except (ValueError, LookupError, UnicodeError):
        return clean(value)


def typed_value(value: object) -> str | None:
    """The value of a ``type; value`` field (RFC 3464 2.1.2), without its type."""
    if value is None:
        return None
    text = clean(value)
    _, semicolon, rest = text.partition(";")
    return (rest.strip() if semicolon else text) or None


def address(value: object) -> str | None:
    """An address from a header or an ``rfc822;``/``utf-8;`` field, without angle brackets."""
    if value is None:
        return None
    text = clean(value)
    kind, semicolon, rest = text.partition(";")
    if semicolon and "@" not in kind:
        text = rest.strip()
        if kind.strip().lower() == "utf-8":
            text = _UTF8_ADDR_ESCAPE.sub(lambda m: chr(int(m[1], 16)), text)
    _, parsed = email.utils.parseaddr(text)
    candidate = parsed or text.strip("<> ")
    return candidate if "@" in candidate else None


def addresses(values: Sequence[object]) -> tuple[str, ...]:
    pairs = email.utils.getaddresses([clean(v) for v in values])
    return tuple(addr for _, addr in pairs if "@" in addr)


def message_id(value: object) -> str | None:
    if value is None:
        return None
    text = clean(value)
    found = re.search(r"<([^<>\s]+)>", text)
    bare = found[1] if found else text.strip("<> ")
    return bare or None


def status_from(text: str | None) -> str | None:
    """The first enhanced status code (RFC 3463) in ``text``, else the class of its first
    basic reply code (``550`` -> ``5.0.0``), else None."""
    if not text:
        return None
    enhanced = _STATUS.search(text)
    if enhanced:
        return f"{enhanced[1]}.{int(enhanced[2])}.{int(enhanced[3])}"
    basic = _REPLY_CODE.search(text)
    return f"{basic[1]}.0.0" if basic else None


def status_code(text: str | None) -> str | None:
    """A Status field's code (``5.0.0 (permanent failure)`` -> ``5.0.0``), or None."""
    if not text:
        return None
    found = _STATUS.match(clean(text))
    return f"{found[1]}.{int(found[2])}.{int(found[3])}" if found else None


def parse_date(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(clean(value))
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else None
