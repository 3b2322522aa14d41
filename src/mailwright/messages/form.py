"""Parse a Mailgun send form (``/messages`` and ``/messages.mime``) into a ``SendRequest``; pure.

The request's ``spec`` is the JSON-serialisable recipe that ``render.render`` turns into one
recipient's bytes; file contents travel beside it in ``blobs`` and are referenced by index, so
a batch is stored once and every retry renders identical bytes.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import default as default_policy
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email

from mailwright.errors import InvalidInput, PayloadTooLarge
from mailwright.messages.schedule import parse_local_time

MAX_RECIPIENTS = 1000
MAX_MESSAGE_BYTES = 25 * 1024 * 1024
MAX_TAGS = 3
MAX_TAG_LENGTH = 128
# Mailgun schedules at most 3 days ahead on most plans and 7 on some; we allow the larger.
MAX_SCHEDULE_AHEAD = timedelta(days=7)

_BOOLEANS = {"yes": True, "true": True, "no": False, "false": False}
_TRACKING_CLICKS = {"yes": "yes", "true": "yes", "no": "no", "false": "no", "htmlonly": "htmlonly"}
_BOOLEAN_OPTIONS = (
    "o:testmode",
    "o:tracking",
    "o:tracking-opens",
    "o:require-tls",
    "o:skip-verification",
    "o:dkim",
)
_STRING_OPTIONS = ("o:sending-ip-pool",)
# RFC 5322 3.6.8: a field name is printable US-ASCII except the colon.
_FIELD_NAME = re.compile(r"[!-9;-~]+")
_OPTIMIZE_PERIOD = re.compile(r"\d{1,3}h")
_CONTENT_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+")
_VARIABLES_HEADER = "x-mailgun-variables"


@dataclass(frozen=True, slots=True)
class Upload:
    field: str  # "attachment", "inline" or "message"
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class SendRequest:
    spec: dict[str, Any]
    blobs: list[bytes]
    recipients: list[str]
    sender: str
    from_header: str
    subject: str
    tags: list[str]
    user_variables: dict[str, Any]
    deliver_at: datetime | None
    is_test_mode: bool
    is_batch: bool
    size: int
    attachments: list[dict[str, Any]]
    template: str | None


@dataclass(slots=True)
class _Form:
    """The non-file fields grouped by name, order kept; ``h:`` and ``v:`` fields apart."""

    values: dict[str, list[str]] = field(default_factory=dict)
    headers: list[tuple[str, str]] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)

    @classmethod
    def collect(cls, fields: Iterable[tuple[str, str]]) -> _Form:
        form = cls()
        for name, value in fields:
            if name[:2] == "h:":
                form.headers.append((name[2:], value))
            elif name[:2] == "v:":
                form.variables[name[2:]] = value
            else:
                form.values.setdefault(name, []).append(value)
        return form

    def all(self, name: str) -> list[str]:
        return self.values.get(name, [])

    def first(self, name: str) -> str | None:
        found = self.values.get(name)
        return found[0] if found else None


# A plain ASCII dot-atom local part at an LDH host name with an alphabetic TLD: a strict subset
# of what RFC 5321/5322 and email-validator accept, checked in microseconds. Everything else
# (quoted local parts, IDNA, SMTPUTF8, special-use names) takes email-validator's full path.
_SIMPLE_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,63}))"
)
_SPECIAL_USE_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


# Small on purpose: it serves the addresses that repeat (senders, frequent recipients); a
# queue of 100,000 distinct recipients would keep 65,536 entries (~17 MB) for nothing.
@functools.lru_cache(maxsize=4096)
def validate_address(address: str) -> str | None:
    """The normalised address (domain lower-cased), or None when it is not valid."""
    simple = _SIMPLE_ADDRESS.fullmatch(address)
    if (
        simple is not None
        and len(address) <= 254
        and address.index("@") <= 64
        and simple.group(2).lower() not in _SPECIAL_USE_TLDS
    ):
        local, _, domain = address.rpartition("@")
        return f"{local}@{domain.lower()}"
    try:
        # test_environment lets a self-hosted setup use the reserved ``.test`` TLD.
        return str(
            validate_email(
                address, check_deliverability=False, allow_smtputf8=True, test_environment=True
            ).normalized
        )
    except EmailNotValidError:
        return None


@dataclass(slots=True)
class _Addresses:
    """Validates addresses once per request; keeps the envelope list deduplicated."""

    seen: dict[str, str] = field(default_factory=dict)  # lower-cased -> normalised address
    envelope: list[str] = field(default_factory=list)
    cache: dict[str, str | None] = field(default_factory=dict)

    def normalise(self, address: str) -> str | None:
        if address in self.cache:
            return self.cache[address]
        normalised = validate_address(address)
        self.cache[address] = normalised
        return normalised

    def parse(self, values: list[str], name: str) -> list[list[str]]:
        """``[display name, address]`` pairs from repeated and comma-separated values."""
        pairs: list[list[str]] = []
        for value in values:
            _check_header_value(value, name)
        given = ", ".join(values)
        for display_name, address in _getaddresses(values):
            if not display_name and not address:
                # getaddresses gives ("", "") both for an empty item ("a@example.com, ")
                # and for one it could not parse ("bob@"): tell them apart.
                _check_parsable(values, name)
                continue
            # getaddresses drops spaces: "a@example.com junk" becomes "a@example.comjunk".
            normalised = self.normalise(address) if address in given else None
            if normalised is None:
                raise _invalid_address(name)
            pairs.append([display_name, normalised])
            key = normalised.lower()
            if key not in self.seen:
                self.seen[key] = normalised
                self.envelope.append(normalised)
        return pairs


_PLAIN_ADDRESS = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_PLAIN_MAILBOX = re.compile(
    rf"([A-Za-z0-9]+(?: [A-Za-z0-9]+)*) <({_PLAIN_ADDRESS})>|({_PLAIN_ADDRESS})"
)


def _getaddresses(values: list[str]) -> list[tuple[str, str]]:
    """``email.utils.getaddresses``, with a shortcut for the common ``Name <a@b.c>`` and
    ``a@b.c`` values (the answer is the same: tests/unit/messages/test_form.py checks)."""
    pairs = []
    for value in values:
        match = _PLAIN_MAILBOX.fullmatch(value)
        if match is None:
            return getaddresses(values)
        name, address, bare = match.groups()
        pairs.append((name, address) if bare is None else ("", bare))
    return pairs


def _invalid_address(name: str) -> InvalidInput:
    return InvalidInput(
        f"'{name}' parameter is not a valid address. please check documentation", field=name
    )


def _check_parsable(values: list[str], name: str) -> None:
    """Every non-blank comma-separated item must parse to addresses (the rare, slow path)."""
    for value in values:
        for item in _split_items(value):
            if item.strip() and ("", "") in getaddresses([item]):
                raise _invalid_address(name)


def _split_items(value: str) -> list[str]:
    """Split on commas outside quoted strings, angle brackets and comments."""
    items: list[str] = []
    start = depth = 0
    quoted = escaped = False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char in "<(":
            depth += 1
        elif not quoted and char in ">)":
            depth -= 1
        elif char == "," and not quoted and depth <= 0:
            items.append(value[start:index])
            start = index + 1
    items.append(value[start:])
    return items


def parse_send(
    fields: list[tuple[str, str]], uploads: list[Upload], *, now: datetime
) -> SendRequest:
    form = _Form.collect(fields)
    addresses = _Addresses()
    from_header, sender = _parse_from(form, addresses)
    to = addresses.parse(form.all("to"), "to")
    if not to:
        raise InvalidInput("'to' parameter is missing", field="to")
    cc = addresses.parse(form.all("cc"), "cc")
    addresses.parse(form.all("bcc"), "bcc")
    _check_recipient_count(addresses.envelope)
    subject = form.first("subject") or ""
    _check_header_value(subject, "subject")
    bodies = {name: form.first(name) for name in ("text", "html", "amp-html")}
    template = _parse_template(form)
    if template is None and not any(bodies.values()):
        raise InvalidInput(
            "Need at least one of 'text', 'html' or 'template' parameters specified",
            field="text",
        )
    blobs, parts = _collect_uploads(uploads)
    size = sum(len(body.encode()) for body in bodies.values() if body) + sum(map(len, blobs))
    _check_size(size)
    headers, user_variables = _parse_headers(form)
    options = _parse_options(form, now)
    recipient_variables = _parse_recipient_variables(form.first("recipient-variables"))
    tags = _parse_tags(form.all("o:tag"))
    spec: dict[str, Any] = {
        "kind": "form",
        "from": from_header,
        "to": to,
        "cc": cc,
        "subject": subject,
        "text": bodies["text"],
        "html": bodies["html"],
        "amp-html": bodies["amp-html"],
        "headers": headers,
        "variables": user_variables,
        "tags": tags,
        "recipient-variables": recipient_variables,
        "attachments": [part for part in parts if part["field"] == "attachment"],
        "inline": [part for part in parts if part["field"] == "inline"],
        "options": options,
        "template": template,
        "smtputf8": _needs_smtputf8(sender, addresses.envelope),
    }
    return SendRequest(
        spec=spec,
        blobs=blobs,
        recipients=addresses.envelope,
        sender=sender,
        from_header=from_header,
        subject=subject,
        tags=tags,
        user_variables=user_variables,
        deliver_at=_deliver_at(options),
        is_test_mode=bool(options.get("testmode", False)),
        is_batch=recipient_variables is not None,
        size=size,
        attachments=[_attachment_event(part, blobs) for part in parts],
        template=template["name"] if template else None,
    )


def parse_mime_send(
    fields: list[tuple[str, str]], uploads: list[Upload], *, now: datetime
) -> SendRequest:
    form = _Form.collect(fields)
    raw = _raw_message(form, uploads)
    _check_size(len(raw))
    addresses = _Addresses()
    if not addresses.parse(form.all("to"), "to"):
        raise InvalidInput("'to' parameter is missing", field="to")
    _check_recipient_count(addresses.envelope)
    message = BytesParser(policy=default_policy).parsebytes(raw)
    if not message.keys():
        raise InvalidInput("'message' parameter is not a valid MIME message", field="message")
    from_header = str(message.get("From", ""))
    froms = getaddresses([from_header])
    sender = addresses.normalise(froms[0][1]) if len(froms) == 1 else None
    if sender is None:
        raise InvalidInput("'message' parameter has no valid From header", field="message")
    subject = str(message.get("Subject", ""))
    headers, user_variables = _parse_headers(form)
    options = _parse_options(form, now)
    recipient_variables = _parse_recipient_variables(form.first("recipient-variables"))
    tags = _parse_tags(form.all("o:tag"))
    spec: dict[str, Any] = {
        "kind": "mime",
        "raw": 0,
        "headers": headers,
        "variables": user_variables,
        "tags": tags,
        "recipient-variables": recipient_variables,
        "options": options,
        "smtputf8": _needs_smtputf8(sender, addresses.envelope),
    }
    attachments = [
        {
            "filename": part.get_filename() or "",
            "content-type": part.get_content_type(),
            "size": len(part.get_payload(decode=True) or b""),
        }
        for part in message.walk()
        if part.get_content_disposition() in ("attachment", "inline")
    ]
    return SendRequest(
        spec=spec,
        blobs=[raw],
        recipients=addresses.envelope,
        sender=sender,
        from_header=from_header,
        subject=subject,
        tags=tags,
        user_variables=user_variables,
        deliver_at=_deliver_at(options),
        is_test_mode=bool(options.get("testmode", False)),
        is_batch=recipient_variables is not None,
        size=len(raw),
        attachments=attachments,
        template=None,
    )


def new_message_id(domain: str, now: datetime, token: str) -> str:
    """Mailgun's shape, without angle brackets: ``20240101120000.<token>@<domain>``."""
    return f"{now.astimezone(UTC):%Y%m%d%H%M%S}.{token}@{domain}"


_last_stamp: tuple[int, str] = (-1, "")


def message_id_at(domain: str, now: float, token: str) -> str:
    """``new_message_id`` for a Unix time; the time part is formatted once a second."""
    global _last_stamp
    second = int(now)
    if _last_stamp[0] != second:
        _last_stamp = (second, f"{datetime.fromtimestamp(second, UTC):%Y%m%d%H%M%S}")
    return f"{_last_stamp[1]}.{token}@{domain}"


def _parse_from(form: _Form, addresses: _Addresses) -> tuple[str, str]:
    from_header = form.first("from")
    if not from_header:
        raise InvalidInput("'from' parameter is missing", field="from")
    _check_header_value(from_header, "from")
    pairs = [pair for pair in _getaddresses([from_header]) if pair != ("", "")]
    sender = addresses.normalise(pairs[0][1]) if len(pairs) == 1 else None
    if sender is None:
        raise InvalidInput(
            "'from' parameter is not a valid address. please check documentation", field="from"
        )
    return from_header, sender


def _needs_smtputf8(sender: str, envelope: list[str]) -> bool:
    """RFC 6531: a non-ASCII address needs SMTPUTF8 on the wire and UTF-8 headers."""
    return not (sender.isascii() and all(address.isascii() for address in envelope))


def _check_recipient_count(envelope: list[str]) -> None:
    if len(envelope) > MAX_RECIPIENTS:
        raise InvalidInput(
            f"Too many recipients: at most {MAX_RECIPIENTS} are allowed per message", field="to"
        )


def _check_size(size: int) -> None:
    if size > MAX_MESSAGE_BYTES:
        raise PayloadTooLarge("Message is too large: the limit is 25 MB", field="message")


# What str.splitlines breaks on: email refuses any of them in a header value at render time.
LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def _check_header_value(value: str, name: str) -> None:
    if LINE_BREAKS.search(value):
        raise InvalidInput(
            f"'{name}' header value must not contain CR or LF (or another line break)", field=name
        )


def _parse_headers(form: _Form) -> tuple[list[list[str]], dict[str, Any]]:
    """``h:`` headers as ``[name, value]`` pairs, and the user variables.

    ``h:X-Mailgun-Variables`` is not kept as a header: its JSON object is merged with the
    ``v:`` fields (which win), and render writes the one ``X-Mailgun-Variables`` header.
    """
    headers: list[list[str]] = []
    variables: dict[str, Any] = {}
    for name, value in form.headers:
        label = f"h:{name}"
        if not _FIELD_NAME.fullmatch(name):
            raise InvalidInput(f"'{label}' is not a valid header name", field=label)
        _check_header_value(value, label)
        if name.lower() == _VARIABLES_HEADER:
            variables.update(_json_object(value, label))
        else:
            headers.append([name, value])
    variables.update(form.variables)
    return headers, variables


def _json_object(value: str, name: str) -> dict[str, Any]:
    try:
        decoded = json.loads(value)
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict):
        raise InvalidInput(f"'{name}' parameter is not a valid JSON object", field=name)
    return decoded


def _parse_recipient_variables(value: str | None) -> dict[str, dict[str, Any]] | None:
    """Keyed by lower-cased address, so render's look-up matches the case-folded envelope."""
    if value is None:
        return None
    decoded = _json_object(value, "recipient-variables")
    return {
        address.strip().lower(): variables if isinstance(variables, dict) else {}
        for address, variables in decoded.items()
    }


def _parse_template(form: _Form) -> dict[str, Any] | None:
    variables = form.first("t:variables")
    template = {
        "name": form.first("template"),
        "version": form.first("t:version"),
        "text": _boolean(form.first("t:text") or "no", "t:text"),
        "variables": _json_object(variables, "t:variables") if variables is not None else {},
    }
    return template if template["name"] else None


def _parse_tags(tags: list[str]) -> list[str]:
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"'o:tag' accepts at most {MAX_TAGS} tags per message", field="o:tag")
    for tag in tags:
        if len(tag) > MAX_TAG_LENGTH:
            raise InvalidInput(
                f"'o:tag' must be at most {MAX_TAG_LENGTH} characters long", field="o:tag"
            )
    return tags


def _boolean(value: str, name: str) -> bool:
    decoded = _BOOLEANS.get(value.strip().lower())
    if decoded is None:
        raise InvalidInput(f"'{name}' parameter must be one of yes, no, true, false", field=name)
    return decoded


def _parse_options(form: _Form, now: datetime) -> dict[str, Any]:
    """``o:`` options under their Mailgun names without the prefix; only those given."""
    options: dict[str, Any] = {}
    for name in _BOOLEAN_OPTIONS:
        value = form.first(name)
        if value is not None:
            options[name[2:]] = _boolean(value, name)
    for name in _STRING_OPTIONS:
        value = form.first(name)
        if value is not None:
            options[name[2:]] = value
    options.update(_parse_shaped_options(form))
    deliver_at = form.first("o:deliverytime")
    if deliver_at is not None:
        options["deliverytime"] = _parse_delivery_time(deliver_at, now).isoformat()
    return options


def _parse_shaped_options(form: _Form) -> dict[str, Any]:
    options: dict[str, Any] = {}
    clicks = form.first("o:tracking-clicks")
    if clicks is not None:
        options["tracking-clicks"] = _shaped(
            _TRACKING_CLICKS.get(clicks.strip().lower()), "o:tracking-clicks"
        )
    ip = form.first("o:sending-ip")
    if ip is not None:
        try:
            options["sending-ip"] = str(ipaddress.ip_address(ip.strip()))
        except ValueError:
            _shaped(None, "o:sending-ip")
    period = form.first("o:deliverytime-optimize-period")
    if period is not None:
        # Mailgun: "[0-9]+h", at least 24h and at most 72h.
        is_valid = _OPTIMIZE_PERIOD.fullmatch(period) is not None and 24 <= int(period[:-1]) <= 72
        options["deliverytime-optimize-period"] = _shaped(
            period if is_valid else None, "o:deliverytime-optimize-period"
        )
    local_time = form.first("o:time-zone-localize")
    if local_time is not None:
        options["time-zone-localize"] = _shaped(
            local_time if parse_local_time(local_time) is not None else None,
            "o:time-zone-localize",
        )
    return options


def _shaped(value: str | None, name: str) -> str:
    if value is None:
        raise InvalidInput(f"'{name}' parameter has an invalid value", field=name)
    return value


def _parse_delivery_time(value: str, now: datetime) -> datetime:
    name = "o:deliverytime"
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"'{name}' parameter is not a valid RFC 2822 date", field=name) from None
    if when.tzinfo is None:
        # RFC 2822 "-0000" means "zone unknown", which parsedate_to_datetime returns naive.
        raise InvalidInput(f"'{name}' parameter must carry a time zone", field=name)
    if when - now > MAX_SCHEDULE_AHEAD:
        raise InvalidInput(f"'{name}' parameter is more than 7 days ahead", field=name)
    return when.astimezone(UTC)


def _deliver_at(options: dict[str, Any]) -> datetime | None:
    value = options.get("deliverytime")
    return datetime.fromisoformat(value) if value else None


def _collect_uploads(uploads: list[Upload]) -> tuple[list[bytes], list[dict[str, Any]]]:
    """Blobs, and one spec entry per attachment/inline file (``blob`` is its index)."""
    blobs: list[bytes] = []
    parts: list[dict[str, Any]] = []
    for upload in uploads:
        if upload.field not in ("attachment", "inline"):
            continue
        content_type = upload.content_type.split(";", 1)[0].strip().lower()
        if not _CONTENT_TYPE.fullmatch(content_type):
            content_type = "application/octet-stream"
        parts.append(
            {
                "field": upload.field,
                "blob": len(blobs),
                "filename": upload.filename.replace("\r", "").replace("\n", ""),
                "content-type": content_type,
            }
        )
        blobs.append(upload.data)
    return blobs, parts


def _attachment_event(part: dict[str, Any], blobs: list[bytes]) -> dict[str, Any]:
    return {
        "filename": part["filename"],
        "content-type": part["content-type"],
        "size": len(blobs[part["blob"]]),
    }


def _raw_message(form: _Form, uploads: list[Upload]) -> bytes:
    for upload in uploads:
        if upload.field == "message":
            return upload.data
    value = form.first("message")
    if value:
        return value.encode()
    raise InvalidInput("'message' parameter is missing", field="message")
