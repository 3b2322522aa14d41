"""A received message as Mailgun's inbound fields: the route forward POST (parsed and raw MIME)
and the stored-message JSON; pure, no I/O.

``parse_inbound`` never raises on malformed mail: an unknown or wrong charset falls back to
UTF-8 then Windows-1252, an unparsable header is kept as its raw text, 8-bit bytes in headers
are decoded the same way, and an attached ``message/rfc822`` is an attachment, not a body.

Header names are normalised the way Mailgun writes them (``Message-Id``, ``Mime-Version``,
``Dkim-Signature``), in ``message-headers`` and in the per-header form fields Mailgun adds to
a forward (every top-level header is also posted as a field of its own, e.g. ``Message-Id``,
``Date``, ``To``, ``In-Reply-To``, ``X-Mailgun-Variables``: Mailgun's route tester sample).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import mimetypes
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email import policy as email_policy
from email.errors import HeaderParseError, MessageError
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import getaddresses
from typing import Any

from mailwright.inbound.strip import strip_html, strip_reply
from mailwright.messages.htmltext import html_to_text

__all__ = [
    "Attachment",
    "FileField",
    "InboundMessage",
    "forward_form",
    "forward_mime_form",
    "header_name",
    "parse_inbound",
    "signature_of",
    "stored_json",
]

# Parsing a header or a part of hostile mail can fail deep in the stdlib with these.
_PARSE_ERRORS = (
    MessageError,
    HeaderParseError,
    ValueError,
    LookupError,
    IndexError,
    TypeError,
    AttributeError,
)
_FALLBACK_CHARSETS = ("utf-8", "windows-1252")

FileField = tuple[str, tuple[str, bytes, str]]  # (field, (filename, content, content type))


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes
    content_id: str = ""  # "<cid>", angle brackets included, for inline parts


@dataclass(frozen=True, slots=True)
class InboundMessage:
    sender: str  # the From address
    from_: str  # the From header, decoded
    subject: str
    body_plain: str
    body_html: str
    stripped_text: str
    stripped_signature: str
    stripped_html: str
    message_headers: tuple[tuple[str, str], ...]
    attachments: tuple[Attachment, ...]
    content_id_map: dict[str, str]  # {"<cid>": "attachment-N"}, N counting from 1
    message_id: str


def parse_inbound(raw: bytes) -> InboundMessage:
    message = _message(raw)
    headers = _headers(message)
    first = {name.lower(): value for name, value in reversed(headers)}
    plain, html, attachments = _walk(message)
    if not plain and html:
        plain = html_to_text(html)
    stripped = strip_reply(plain)
    return InboundMessage(
        sender=_address(first.get("from", "")),
        from_=first.get("from", ""),
        subject=first.get("subject", ""),
        body_plain=plain,
        body_html=html,
        stripped_text=stripped.text,
        stripped_signature=stripped.signature,
        stripped_html=strip_html(html) if html else "",
        message_headers=tuple(headers),
        attachments=tuple(attachments),
        content_id_map={
            item.content_id: f"attachment-{number}"
            for number, item in enumerate(attachments, start=1)
            if item.content_id
        },
        message_id=first.get("message-id", ""),
    )


def _message(raw: bytes) -> Message:
    try:
        return message_from_bytes(raw, _class=EmailMessage, policy=email_policy.default)
    except _PARSE_ERRORS:
        # The parser reads each Content-Type as it goes, and one the modern header parser
        # chokes on still reads with the compat32 policy, which splits parameters by hand.
        return message_from_bytes(raw, policy=email_policy.compat32)


def header_name(name: str) -> str:
    """Mailgun's spelling of a header name: ``MIME-Version`` -> ``Mime-Version``."""
    return "-".join(word.capitalize() for word in name.split("-"))


def _headers(message: Message) -> list[tuple[str, str]]:
    return [(header_name(name), _header_value(name, raw)) for name, raw in message.raw_items()]


def _header_value(name: str, raw: Any) -> str:
    """The decoded value; when the stdlib cannot parse it, its encoded words decoded by hand,
    and failing that the raw text unfolded."""
    if isinstance(raw, str) and _has_surrogates(raw):
        raw = _clean(raw)  # 8-bit bytes: decoded as UTF-8 or Windows-1252, not replaced
    try:
        return _clean(str(email_policy.default.header_fetch_parse(name, raw)))
    except _PARSE_ERRORS:
        text = _clean(" ".join(str(raw).split()))
    try:
        return _clean(str(make_header(decode_header(text))))
    except _PARSE_ERRORS:
        return text


def _raw_header(part: Message, name: str) -> str:
    """The first ``name`` header as written (``part.get`` would parse it, and may raise)."""
    return next((str(raw) for key, raw in part.raw_items() if key.lower() == name.lower()), "")


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _clean(text: str) -> str:
    """Text fit for JSON and a form: bytes smuggled in as surrogates are decoded for real."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _decode(text.encode("utf-8", "surrogateescape"), None)
    return text


def _decode(payload: bytes, charset: str | None) -> str:
    for candidate in (charset, *_FALLBACK_CHARSETS):
        if candidate:
            try:
                return payload.decode(candidate)
            except (LookupError, UnicodeDecodeError, ValueError):  # ValueError: NUL in the name
                continue
    return payload.decode("windows-1252", "replace")  # it leaves five bytes undefined


def _address(from_header: str) -> str:
    try:
        addresses = getaddresses([from_header])
    except _PARSE_ERRORS:
        return ""
    return next((address for _, address in addresses if address), "")


def _walk(message: Message) -> tuple[str, str, list[Attachment]]:
    """The first text/plain and text/html bodies and the file parts, in message order."""
    plain: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    for part in _leaves(message):
        try:
            content_type, is_file = _kind(part)
            if not is_file and content_type == "text/plain" and plain is None:
                plain = _text(part)
            elif not is_file and content_type == "text/html" and html is None:
                html = _text(part)
            else:
                attachments.append(_attachment(part, len(attachments) + 1))
        except _PARSE_ERRORS:
            continue  # a part whose MIME headers the stdlib cannot parse is left out
    return plain or "", html or "", attachments


def _kind(part: Message) -> tuple[str, bool]:
    """The part's content type and whether it is a file rather than a body."""
    if part.get_content_maintype() == "multipart":
        return "text/plain", False  # a multipart whose boundary never shows: read its text
    return part.get_content_type(), _is_file(part)


def _leaves(part: Message) -> Iterator[Message]:
    """Single parts in order; a ``message/*`` part is one leaf (an attached email)."""
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        payload = part.get_payload()
        for child in payload if isinstance(payload, list) else []:
            if isinstance(child, Message):
                yield from _leaves(child)
    else:
        yield part


def _is_file(part: Message) -> bool:
    if part.get_content_maintype() == "message" or part.get_content_disposition() == "attachment":
        return True
    return bool(_filename(part))


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        charset = part.get_content_charset()
    except _PARSE_ERRORS:
        charset = None
    return _decode(payload, charset)


def _attachment(part: Message, number: int) -> Attachment:
    content_type = part.get_content_type()
    content = _content(part)
    name = _filename(part) or f"attachment-{number}{_extension(content_type)}"
    content_id = " ".join(_header_value("Content-ID", _raw_header(part, "Content-ID")).split())
    if content_id and not content_id.startswith("<"):
        content_id = f"<{content_id}>"
    return Attachment(name, content_type, content, content_id)


def _content(part: Message) -> bytes:
    if part.get_content_maintype() == "message":
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        if isinstance(inner, Message):
            try:
                return inner.as_bytes(policy=email_policy.compat32)
            except _PARSE_ERRORS:
                return b""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except _PARSE_ERRORS:
        return ""
    if not name:
        return ""
    name = _clean(name)
    try:
        return _clean(str(make_header(decode_header(name))))
    except _PARSE_ERRORS:
        return name


def _extension(content_type: str) -> str:
    if content_type == "message/rfc822":
        return ".eml"
    return mimetypes.guess_extension(content_type, strict=False) or ""


# --- Mailgun's shapes ------------------------------------------------------------------------

_FORWARD_BODIES = ("body-html", "stripped-html")


def signature_of(key: str, timestamp: str, token: str) -> str:
    """Mailgun's webhook signature: hex HMAC-SHA256 of ``timestamp + token`` keyed with the
    signing key (``webhooks.signing`` computes the same; inbound may not import webhooks)."""
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def forward_form(
    msg: InboundMessage,
    *,
    recipient: str,
    envelope_sender: str,
    signing_key: str,
    timestamp: int,
    token: str,
) -> tuple[list[tuple[str, str]], list[FileField]]:
    """The fields and files of a "fully parsed" route forward POST. Mailgun sends it as
    multipart/form-data when there are files and urlencoded otherwise; a header that occurs
    more than once (``Received``) gives a field per occurrence.

    ``body-html`` and ``stripped-html`` are left out when the message has no HTML body."""
    stamp = str(timestamp)
    fields = [
        ("recipient", recipient),
        ("sender", envelope_sender),
        ("from", msg.from_),
        ("subject", msg.subject),
        ("body-plain", msg.body_plain),
        ("stripped-text", msg.stripped_text),
        ("stripped-signature", msg.stripped_signature),
        ("body-html", msg.body_html),
        ("stripped-html", msg.stripped_html),
        ("attachment-count", str(len(msg.attachments))),
        ("timestamp", stamp),
        ("token", token),
        ("signature", signature_of(signing_key, stamp, token)),
        ("message-headers", json.dumps([list(pair) for pair in msg.message_headers])),
        ("content-id-map", json.dumps(msg.content_id_map)),
    ]
    if not msg.body_html:
        fields = [(name, value) for name, value in fields if name not in _FORWARD_BODIES]
    fields += list(msg.message_headers)
    files = [
        (f"attachment-{number}", (item.filename, item.content, item.content_type))
        for number, item in enumerate(msg.attachments, start=1)
    ]
    return fields, files


def forward_mime_form(
    raw: bytes,
    *,
    recipient: str,
    envelope_sender: str,
    signing_key: str,
    timestamp: int,
    token: str,
) -> list[tuple[str, str]]:
    """The fields of a raw-MIME route forward (a forward URL ending in ``mime``): the message
    as it came in ``body-mime``."""
    stamp = str(timestamp)
    return [
        ("recipient", recipient),
        ("sender", envelope_sender),
        ("body-mime", _decode(raw, None)),
        ("timestamp", stamp),
        ("token", token),
        ("signature", signature_of(signing_key, stamp, token)),
    ]


def stored_json(
    msg: InboundMessage,
    *,
    recipient: str,
    envelope_sender: str,
    attachment_url: Callable[[int], str],
) -> dict[str, Any]:
    """Mailgun's stored-message JSON of a received message; ``attachment_url(index)`` is the
    URL of the ``index``-th attachment, counting from 0 as ``messages.stored`` does."""
    attachments = [
        {
            "url": attachment_url(index),
            "content-type": item.content_type,
            "name": item.filename,
            "size": len(item.content),
        }
        for index, item in enumerate(msg.attachments)
    ]
    described: dict[str, Any] = dict(msg.message_headers)
    described |= {
        "recipients": recipient,
        "sender": envelope_sender,
        "from": msg.from_,
        "subject": msg.subject,
        "body-plain": msg.body_plain,
        "stripped-text": msg.stripped_text,
        "stripped-signature": msg.stripped_signature,
        "body-html": msg.body_html,
        "stripped-html": msg.stripped_html,
        "attachments": attachments,
        "content-id-map": {
            content_id: attachment_url(int(name.removeprefix("attachment-")) - 1)
            for content_id, name in msg.content_id_map.items()
        },
        "message-headers": [list(pair) for pair in msg.message_headers],
    }
    return described
