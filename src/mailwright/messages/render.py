"""Render one recipient's final MIME bytes from a stored send ``spec``; pure and deterministic.

The same spec, blobs, recipient, Message-Id and date always give the same bytes: MIME
boundaries are derived from the Message-Id instead of being random, so a retry re-renders the
exact message that was attempted before.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime
from typing import Any

from mailwright.messages.form import LINE_BREAKS
from mailwright.messages.handlebars import render as render_template
from mailwright.messages.htmltext import html_to_text
from mailwright.messages.tracking import LIST_UNSUBSCRIBE_PLACEHOLDER, RawHeader, Tracking

_POLICY = email_policy.SMTP
# SMTPUTF8 (RFC 6531) addresses can't be RFC 2047-encoded, so such messages are written as UTF-8.
_UTF8_POLICY = email_policy.SMTPUTF8
_PLACEHOLDER = re.compile(r"%recipient(?:\.([^%\s]+))?%")
# h: headers never override the message's own structure, identity or blind recipients.
_PROTECTED_HEADERS = frozenset(
    {"bcc", "message-id", "mime-version", "content-type", "content-transfer-encoding"}
)
_MAX_7BIT_LINE = 998  # RFC 5322 2.1.1

Personalise = Callable[[str], str]


def substitute(text: str, variables: Mapping[str, Any], recipient: str) -> str:
    """Replace ``%recipient%`` with the address and ``%recipient.KEY%`` with ``variables[KEY]``.

    A key the recipient has no value for is left as written: that is what Mailgun does (a
    mailgun-php report, issue #385, shows ``%recipient.testvar%`` delivered verbatim when the
    variable was not sent, and django-anymail's Mailgun backend fills every recipient's
    recipient-variables with all keys, defaulting to "", precisely to avoid that). A recipient
    absent from recipient-variables is the same case with no keys at all.
    """
    if "%recipient" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key is None:
            return recipient
        if key in variables:
            return _as_text(variables[key])
        return match.group(0)

    return _PLACEHOLDER.sub(replace, text)


def render(
    spec: dict[str, Any],
    blobs: Sequence[bytes],
    *,
    recipient: str,
    message_id: str,
    date: datetime,
    recipient_index: int = 0,
    tracking: Tracking | None = None,
    member: Mapping[str, Any] | None = None,
) -> bytes:
    """``tracking`` rewrites links, adds the open pixel, unsubscribe links and headers;
    ``member`` (a list delivery's ``{"list", "name", "vars"}``) personalises a list send."""
    personalise = _personaliser(spec, recipient, member)
    if spec["kind"] == "mime":
        return _render_mime(
            spec,
            blobs,
            message_id=message_id,
            personalise=personalise,
            extra=_extra(tracking, recipient, member),
        )
    seed = f"{message_id}/{recipient_index}"
    headers = _headers(
        spec, recipient, message_id, date, personalise, _extra(tracking, recipient, member)
    )
    texts = _texts(spec, personalise, tracking, recipient, member)
    if not spec.get("smtputf8"):
        fast = _render_fast(spec, blobs, headers, texts, seed)
        if fast is not None:
            return fast
    return _render_email(spec, blobs, headers, texts, seed)


def render_with_email(
    spec: dict[str, Any],
    blobs: Sequence[bytes],
    *,
    recipient: str,
    message_id: str,
    date: datetime,
    recipient_index: int = 0,
    tracking: Tracking | None = None,
) -> bytes:
    """``render`` without the fast path: the reference the fast path is checked against."""
    personalise = _personaliser(spec, recipient)
    if spec["kind"] == "mime":
        return _render_mime(
            spec,
            blobs,
            message_id=message_id,
            personalise=personalise,
            extra=_extra(tracking, recipient),
        )
    headers = _headers(spec, recipient, message_id, date, personalise, _extra(tracking, recipient))
    texts = _texts(spec, personalise, tracking, recipient)
    return _render_email(spec, blobs, headers, texts, f"{message_id}/{recipient_index}")


Texts = list[tuple[str, str]]  # (final text, MIME subtype) of each alternative part


def _texts(
    spec: dict[str, Any],
    personalise: Personalise,
    tracking: Tracking | None,
    recipient: str,
    member: Mapping[str, Any] | None = None,
) -> Texts:
    """The alternatives' final texts: placeholders substituted, then tracking applied."""
    texts: Texts = []
    bodies = _template_bodies(spec, recipient) if spec.get("template") else spec
    for name, subtype in (("text", "plain"), ("amp-html", "x-amp-html"), ("html", "html")):
        if not bodies.get(name):
            continue
        text = personalise(bodies[name])
        if member is not None and tracking is not None and LIST_UNSUBSCRIBE_PLACEHOLDER in text:
            url = tracking.list_unsubscribe_url(recipient, str(member.get("list", "")))
            escaped = html.escape(url, quote=True) if name != "text" else url
            text = text.replace(LIST_UNSUBSCRIBE_PLACEHOLDER, escaped)
        if tracking is not None and name == "html":
            text = tracking.html(text, recipient)
        elif tracking is not None and name == "text":
            text = tracking.text(text, recipient)
        texts.append((text, subtype))
    return texts


def template_variables(spec: dict[str, Any], recipient: str | None) -> dict[str, Any]:
    """A template's variables: ``v:`` and ``X-Mailgun-Variables``, then ``t:variables`` over
    them, then (batch sends) the recipient's recipient-variables over both."""
    variables = {**spec["variables"], **spec["template"]["variables"]}
    batch = spec.get("recipient-variables")
    if batch is not None and recipient is not None:
        own = batch.get(recipient.lower()) or {}
        variables = _substituted(variables, own, recipient) | own
    return variables


def _substituted(
    variables: dict[str, Any], own: Mapping[str, Any], recipient: str
) -> dict[str, Any]:
    """Mailgun substitutes ``%recipient.KEY%`` in custom data (``v:`` values) too."""
    return {
        key: substitute(value, own, recipient) if isinstance(value, str) else value
        for key, value in variables.items()
    }


def _template_bodies(spec: dict[str, Any], recipient: str | None) -> dict[str, Any]:
    """The pinned template version rendered for one recipient: it is the HTML part; with
    ``t:text=yes`` (and no ``text`` given) the plain part is made from that HTML."""
    template = spec["template"]
    html = render_template(template["content"], template_variables(spec, recipient))
    text = spec.get("text")
    if not text and template["text"]:
        text = html_to_text(html)
    return {"text": text, "amp-html": spec.get("amp-html"), "html": html}


def _extra(
    tracking: Tracking | None, recipient: str, member: Mapping[str, Any] | None = None
) -> list[tuple[str, Any]]:
    """Tracking's headers; a list member's copy without domain unsubscribe tracking gets
    RFC 2369/8058 headers that unsubscribe from the list."""
    if tracking is None:
        return []
    if member is not None and not tracking.unsubscribes:
        return tracking.list_headers(recipient, str(member.get("list", "")))
    return list(tracking.headers(recipient))


def _render_email(
    spec: dict[str, Any],
    blobs: Sequence[bytes],
    headers: list[tuple[str, Any]],
    texts: Texts,
    seed: str,
) -> bytes:
    """The reference rendering: ``email.message`` with the SMTP policy does every byte."""
    policy = _UTF8_POLICY if spec.get("smtputf8") else _POLICY
    message = EmailMessage(policy=policy)
    for name, value in headers:
        message[name] = value
    body = _body(spec, blobs, texts, seed)
    for name, value in body.items():
        message[name] = value
    message.set_payload(body.get_payload())
    return message.as_bytes()


# --- the fast path ---------------------------------------------------------------------------
#
# ``email``'s header registry parses and refolds every header, which made rendering the largest
# cost of a delivery. Most messages are ASCII with short header lines, where that work changes
# nothing; for them the bytes are written directly, exactly as ``_render_email`` writes them
# (tests/unit/messages/test_render_fast.py compares the two over a corpus). Anything else --
# non-ASCII or long header values, encoded-word look-alikes, quoted-printable text -- goes
# through ``email`` itself, per header or part where that is enough, else for the whole message.

_MAX_HEADER_LINE = 78  # RFC 5322 2.1.1 "SHOULD"; the SMTP policy folds longer lines
_MSG_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+>")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9]+(?: [A-Za-z0-9]+)*")
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)


def _render_fast(
    spec: dict[str, Any],
    blobs: Sequence[bytes],
    headers: list[tuple[str, Any]],
    texts: Texts,
    seed: str,
) -> bytes | None:
    lines = []
    for name, value in headers:
        line = _header_line(name, value)
        if line is None:
            return None
        lines.append(line)
    body = _body_fast(spec, blobs, texts, seed)
    return "".join(lines).encode("ascii") + body


def _header_line(name: str, value: Any) -> str | None:
    if isinstance(value, RawHeader):
        return f"{name}: {value}\r\n"  # as RawHeader.fold writes it
    if isinstance(value, tuple):  # addresses
        texts = []
        for address in value:
            text = _plain_address(address)
            if text is None:
                return _email_header(name, value)
            texts.append(text)
        value = ", ".join(texts)
    if (
        value
        and len(name) + len(value) + 2 <= _MAX_HEADER_LINE
        and value.isascii()
        and value.isprintable()
        and "=?" not in value
        and "  " not in value
        and value == value.strip()
    ):
        return f"{name}: {value}\r\n"
    if name == "Message-Id" and _MSG_ID.fullmatch(value):
        return f"{name}: {value}\r\n"  # one unbreakable token: never folded
    if isinstance(value, str):
        return _email_header_cached(name, value)  # From and h: values repeat across messages
    return _email_header(name, value)


def _plain_address(address: Address) -> str | None:
    addr = f"{address.username}@{address.domain}"
    if not _PLAIN_ADDRESS.fullmatch(addr):
        return None
    name = address.display_name
    if not name:
        return addr
    if not _PLAIN_NAME.fullmatch(name):
        return None
    return f"{name} <{addr}>"


@functools.lru_cache(maxsize=4096)
def _email_header_cached(name: str, value: str) -> str | None:
    return _email_header(name, value)


def _email_header(name: str, value: Any) -> str | None:
    """One header as ``email`` folds and encodes it; None if it needs more than ASCII."""
    message = EmailMessage(policy=_POLICY)
    message[name] = value
    text = message.as_bytes()[:-2].decode("ascii", errors="replace")
    return None if "\ufffd" in text else text


def _body_fast(spec: dict[str, Any], blobs: Sequence[bytes], texts: Texts, seed: str) -> bytes:
    """Same structure as ``_body``: the entity's header lines, a blank line, its content."""
    parts = [_text_fast(text, subtype) for text, subtype in texts] or [_text_fast("", "plain")]
    body = parts[0] if len(parts) == 1 else _multipart_fast("alternative", parts, seed)
    if spec["inline"]:
        inline = [_file_part(blobs, entry, "inline").as_bytes() for entry in spec["inline"]]
        body = _multipart_fast("related", [body, *inline], seed)
    if spec["attachments"]:
        files = [_file_part(blobs, entry, "attachment").as_bytes() for entry in spec["attachments"]]
        body = _multipart_fast("mixed", [body, *files], seed)
    return body


def _text_fast(text: str, subtype: str) -> bytes:
    data = text.encode("utf-8")
    lines = data.splitlines()
    if not text.isascii() or (lines and max(map(len, lines)) > _MAX_7BIT_LINE):
        return _text_part(text, subtype).as_bytes()  # quoted-printable: email encodes it
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n'
    )
    return head.encode("ascii") + b"\r\n".join(lines) + b"\r\n"


def _multipart_fast(subtype: str, parts: list[bytes], seed: str) -> bytes:
    boundary = "=_" + hashlib.sha256(f"{seed}/{subtype}".encode()).hexdigest()[:32]
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"'
    if len(head) > _MAX_HEADER_LINE:
        head = f'Content-Type: multipart/{subtype};\r\n boundary="{boundary}"'
    delimiter = f"\r\n--{boundary}\r\n".encode("ascii")
    return (
        f"{head}\r\n\r\n--{boundary}\r\n".encode("ascii")
        + delimiter.join(parts)
        + f"\r\n--{boundary}--\r\n".encode("ascii")
    )


def _personaliser(
    spec: dict[str, Any], recipient: str, member: Mapping[str, Any] | None = None
) -> Personalise:
    """Batch sends (recipient-variables given) substitute placeholders; other sends don't.

    A list member's copy substitutes ``%recipient.KEY%`` from the member's vars (``name``
    falls back to the member's name) and Mailgun's list variables ``%recipient_name%``,
    ``%recipient_fname%``, ``%recipient_lname%`` and ``%recipient_email%``."""
    if member is not None:
        return _member_personaliser(member, recipient)
    batch = spec.get("recipient-variables")
    if batch is None:
        return _unchanged
    variables = batch.get(recipient.lower()) or {}
    return lambda text: substitute(text, variables, recipient)


def _member_personaliser(member: Mapping[str, Any], recipient: str) -> Personalise:
    name = str(member.get("name") or "")
    given = member.get("vars")
    variables = {"name": name} | (dict(given) if isinstance(given, dict) else {})
    first, _, last = name.partition(" ")
    fixed = {
        "%recipient_name%": name,
        "%recipient_fname%": first,
        "%recipient_lname%": last,
        "%recipient_email%": recipient,
    }

    def personalise(text: str) -> str:
        for placeholder, value in fixed.items():
            if placeholder in text:
                text = text.replace(placeholder, value)
        return substitute(text, variables, recipient)

    return personalise


def _unchanged(text: str) -> str:
    return text


def subject_for(
    spec: dict[str, Any], recipient: str, member: Mapping[str, Any] | None = None
) -> str:
    """The Subject one recipient sees (placeholders substituted in batch and list sends)."""
    return _header_text(_personaliser(spec, recipient, member)(str(spec.get("subject") or "")))


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value)  # numbers as written, true/false, objects as JSON


def _header_text(value: str) -> str:
    # A substituted value comes from recipient-variables; it must not inject header lines
    # (nor hold any other line break, which email refuses in a header value).
    return LINE_BREAKS.sub(" ", value)


def _headers(
    spec: dict[str, Any],
    recipient: str,
    message_id: str,
    date: datetime,
    personalise: Personalise,
    extra: list[tuple[str, Any]],
) -> list[tuple[str, Any]]:
    headers: list[tuple[str, Any]] = [("From", spec["from"]), ("To", _to(spec, recipient))]
    if spec["cc"] and spec.get("recipient-variables") is None:
        headers.append(("Cc", _addresses(spec["cc"])))
    headers += [
        ("Subject", _header_text(personalise(spec["subject"]))),
        ("Date", format_datetime(date)),
        ("Message-Id", f"<{message_id}>"),
        ("MIME-Version", "1.0"),
        *extra,  # before h: headers, so a List-Unsubscribe given by the sender wins
    ]
    headers = _with_extra_headers(headers, spec["headers"], personalise)
    if spec["variables"]:
        headers.append(("X-Mailgun-Variables", _variables_header(spec, personalise)))
    headers += [("X-Mailgun-Tag", tag) for tag in spec["tags"]]
    return headers


def _variables_header(spec: dict[str, Any], personalise: Personalise) -> str:
    """The custom data as JSON, each text value personalised like the rest of the copy."""
    return json.dumps(
        {
            key: personalise(value) if isinstance(value, str) else value
            for key, value in spec["variables"].items()
        }
    )


def _with_extra_headers(
    headers: list[tuple[str, Any]], extra: list[list[str]], personalise: Personalise
) -> list[tuple[str, Any]]:
    """Add ``h:`` headers; one named like a standard header replaces it in place."""
    positions = {name.lower(): index for index, (name, _) in enumerate(headers)}
    for name, value in extra:
        key = name.lower()
        if key in _PROTECTED_HEADERS:
            continue
        entry = (name, _header_text(personalise(value)))
        if key in positions:
            headers[positions[key]] = entry
        else:
            positions[key] = len(headers)
            headers.append(entry)
    return headers


def _to(spec: dict[str, Any], recipient: str) -> tuple[Address, ...]:
    if spec.get("recipient-variables") is None:
        return _addresses(spec["to"])
    # Batch: each recipient sees only itself, with the display name it was given.
    wanted = recipient.lower()
    for display_name, address in (*spec["to"], *spec["cc"]):
        if address.lower() == wanted:
            return _addresses([[display_name, address]])
    return _addresses([["", recipient]])


def _addresses(pairs: list[list[str]]) -> tuple[Address, ...]:
    # username/domain instead of addr_spec: the addr_spec parser rejects SMTPUTF8 local parts.
    addresses = []
    for name, address in pairs:
        username, _, domain = address.rpartition("@")
        addresses.append(Address(display_name=name, username=username, domain=domain))
    return tuple(addresses)


def _body(spec: dict[str, Any], blobs: Sequence[bytes], texts: Texts, seed: str) -> MIMEPart:
    """Alternatives (plain, x-amp-html, html), then related with inline files, then mixed."""
    # No texts: a template send whose template has not been applied yet.
    parts = [_text_part(text, subtype) for text, subtype in texts] or [_text_part("", "plain")]
    body = parts[0] if len(parts) == 1 else _multipart("alternative", parts, seed)
    if spec["inline"]:
        inline = [_file_part(blobs, entry, "inline") for entry in spec["inline"]]
        body = _multipart("related", [body, *inline], seed)
    if spec["attachments"]:
        files = [_file_part(blobs, entry, "attachment") for entry in spec["attachments"]]
        body = _multipart("mixed", [body, *files], seed)
    return body


def _text_part(text: str, subtype: str) -> MIMEPart:
    part = MIMEPart(policy=_POLICY)
    is_7bit = text.isascii() and all(len(line) <= _MAX_7BIT_LINE for line in text.splitlines())
    cte = "7bit" if is_7bit else "quoted-printable"
    part.set_content(text, subtype=subtype, charset="utf-8", cte=cte)
    return part


def _file_part(blobs: Sequence[bytes], entry: dict[str, Any], disposition: str) -> MIMEPart:
    maintype, _, subtype = entry["content-type"].partition("/")
    if maintype == "multipart":  # set_content can't build a multipart from bytes
        maintype, subtype = "application", "octet-stream"
    filename = entry["filename"]
    part = MIMEPart(policy=_POLICY)
    part.set_content(
        blobs[entry["blob"]],
        maintype,
        subtype,
        disposition=disposition,
        filename=filename or None,
        # Mailgun: an inline file is referenced from HTML as cid:<filename>.
        cid=f"<{filename}>" if disposition == "inline" else None,
    )
    return part


def _multipart(subtype: str, parts: list[MIMEPart], seed: str) -> MIMEPart:
    # "=_" can't occur in quoted-printable or base64 text, so the boundary can't collide with it.
    digest = hashlib.sha256(f"{seed}/{subtype}".encode()).hexdigest()[:32]
    node = MIMEPart(policy=_POLICY)
    node["Content-Type"] = f'multipart/{subtype}; boundary="=_{digest}"'
    for part in parts:
        node.attach(part)
    return node


def _render_mime(
    spec: dict[str, Any],
    blobs: Sequence[bytes],
    *,
    message_id: str,
    personalise: Personalise,
    extra: list[tuple[str, Any]],
) -> bytes:
    """The uploaded MIME with our headers on top; the rest of the bytes are kept as sent.

    The client's Message-Id is replaced by ours, as Mailgun does for sends through its API:
    the id returned by the API, the events and the delivered header must be the same one.
    Bcc is removed. Placeholders are substituted in ``h:`` values only: the body may be
    transfer-encoded, and rewriting it would need a full re-serialisation. For the same reason
    tracking adds only its headers here (``extra``), unless the upload has them already.
    """
    raw = _crlf(blobs[spec["raw"]])
    head, _, body = raw.partition(b"\r\n\r\n")
    fields = _split_fields(head)
    ours = EmailMessage(policy=_POLICY)
    ours["Message-Id"] = f"<{message_id}>"
    present = {name for name, _ in fields}
    for name, value in extra:
        if name.lower() not in present:
            ours[name] = value
    for name, value in spec["headers"]:
        if name.lower() not in _PROTECTED_HEADERS:
            ours[name] = _header_text(personalise(value))
    if spec["variables"]:
        ours["X-Mailgun-Variables"] = _variables_header(spec, personalise)
    for tag in spec["tags"]:
        ours["X-Mailgun-Tag"] = tag
    replaced = {name.lower() for name in ours} | {"bcc"}
    kept = [field for name, field in fields if name not in replaced]
    return ours.as_bytes()[:-2] + b"".join(kept) + b"\r\n" + body


def _crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def _split_fields(head: bytes) -> list[tuple[str, bytes]]:
    """``(lower-cased name, raw field with continuation lines and CRLF)`` per header field."""
    fields: list[tuple[str, bytes]] = []
    for line in head.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and fields:
            name, previous = fields[-1]
            fields[-1] = (name, previous + line + b"\r\n")
            continue
        name = line.split(b":", 1)[0].strip().lower().decode("ascii", "replace")
        fields.append((name, line + b"\r\n"))
    return fields
