"""Mailgun's ``X-Mailgun-*`` control headers of a message submitted over SMTP; pure.

Over SMTP there are no form fields, so Mailgun reads the sending options from headers
(its "Passing Sending Options" table: ``X-Mailgun-Tag`` is ``o:tag`` and may repeat,
``X-Mailgun-Drop-Message`` is ``o:testmode``, ``X-Mailgun-Variables`` is a JSON object of
user variables, ...). ``split_controls`` turns them into the fields ``parse_mime_send``
takes and removes them from the message, leaving every other byte as it was sent.
"""

from __future__ import annotations

from email.parser import BytesHeaderParser
from email.policy import default as default_policy

# Header (lower-cased) -> the Mailgun form field it stands for.
CONTROLS = {
    "x-mailgun-tag": "o:tag",
    "x-mailgun-dkim": "o:dkim",
    "x-mailgun-deliver-by": "o:deliverytime",
    "x-mailgun-delivery-time-optimize-period": "o:deliverytime-optimize-period",
    "x-mailgun-time-zone-localize": "o:time-zone-localize",
    "x-mailgun-drop-message": "o:testmode",
    "x-mailgun-track": "o:tracking",
    "x-mailgun-track-clicks": "o:tracking-clicks",
    "x-mailgun-track-opens": "o:tracking-opens",
    "x-mailgun-require-tls": "o:require-tls",
    "x-mailgun-skip-verification": "o:skip-verification",
    "x-mailgun-sending-ip": "o:sending-ip",
    "x-mailgun-sending-ip-pool": "o:sending-ip-pool",
    "x-mailgun-recipient-variables": "recipient-variables",
    "x-mailgun-variables": "h:X-Mailgun-Variables",
}
# The form field -> the header, to name the header in an error reply.
HEADER_OF = {field: name for name, field in CONTROLS.items()}


def split_controls(raw: bytes) -> tuple[list[tuple[str, str]], bytes]:
    """The form fields the control headers stand for (in order), and ``raw`` without them."""
    head, separator, body = _split_head(raw)
    if b"x-mailgun-" not in head.lower():  # the common case: no parse at all
        return [], raw
    parsed = BytesHeaderParser(policy=default_policy).parsebytes(head + b"\r\n\r\n")
    fields = [
        (CONTROLS[name.lower()], str(value).strip())
        for name, value in parsed.items()
        if name.lower() in CONTROLS
    ]
    if not fields:
        return [], raw
    kept = [line for name, line in _fields(head) if name not in CONTROLS]
    return fields, b"".join(kept) + separator + body


def _split_head(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """Header block, the blank line (with the line end the message uses), and the body."""
    crlf = raw.find(b"\r\n\r\n")
    lf = raw.find(b"\n\n")
    if crlf != -1 and (lf == -1 or crlf < lf + 1):
        return raw[: crlf + 2], b"\r\n", raw[crlf + 4 :]
    if lf != -1:
        return raw[: lf + 1], b"\n", raw[lf + 2 :]
    return raw, b"", b""


def _fields(head: bytes) -> list[tuple[str, bytes]]:
    """``(lower-cased name, the field's lines)`` per header field, continuation lines kept."""
    fields: list[tuple[str, bytes]] = []
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            name, previous = fields[-1]
            fields[-1] = (name, previous + line)
            continue
        name = line.split(b":", 1)[0].strip().lower().decode("ascii", "replace")
        fields.append((name, line))
    return fields
