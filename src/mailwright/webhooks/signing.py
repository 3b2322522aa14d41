"""Mailgun's webhook signature (pure): hex HMAC-SHA256, keyed with the account's HTTP webhook
signing key, over ``timestamp`` + ``token`` concatenated.

The request body is ``{"signature": {"timestamp", "token", "signature"}, "event-data": event}``;
receivers (django-anymail's ``MailgunTrackingWebhookView``, the SDKs) recompute the signature,
may reject old timestamps, and dedupe on the token (50 random characters, as Mailgun's).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TypedDict
from urllib.parse import urlencode

from mailwright import jsontext

TOKEN_LENGTH = 50


class Signature(TypedDict):
    timestamp: str
    token: str
    signature: str


def signature_of(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def sign(key: str, timestamp: int, token: str) -> Signature:
    """The ``signature`` object for a POST made at ``timestamp`` (Unix seconds)."""
    stamp = str(timestamp)
    return {"timestamp": stamp, "token": token, "signature": signature_of(key, stamp, token)}


def verify(key: str, signature: Signature, *, now: float, max_age: float = 300.0) -> bool:
    """True when ``signature`` was made with ``key`` and its timestamp is within ``max_age``
    seconds of ``now`` (either side: clocks differ)."""
    try:
        stamp = int(signature["timestamp"])
    except (KeyError, TypeError, ValueError):
        return False
    if abs(now - stamp) > max_age:
        return False
    expected = signature_of(key, signature["timestamp"], signature.get("token", ""))
    return hmac.compare_digest(expected, str(signature.get("signature", "")))


def body(signature: Signature, event_json: str) -> bytes:
    """The POST body; the event JSON goes in as stored, byte for byte as the events API has it."""
    return f'{{"signature":{jsontext.dumps(signature)},"event-data":{event_json}}}'.encode()


def _quoted(value: str) -> str:
    # The HTML living standard's form-data encoding: escape what would end the quoted string.
    return value.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")


def form_body(signature: Signature, payload_json: str, boundary: str) -> tuple[bytes, str]:
    """The POST body for a form payload (``events.form_payload``), with the signature fields
    appended, as Mailgun sends it to route URLs: multipart/form-data when there are files,
    urlencoded otherwise; returns (body, content type)."""
    payload = jsontext.loads(payload_json)
    fields = [(str(k), str(v)) for k, v in payload["fields"]]
    fields += [
        ("timestamp", signature["timestamp"]),
        ("token", signature["token"]),
        ("signature", signature["signature"]),
    ]
    if not payload["files"]:
        return urlencode(fields).encode(), "application/x-www-form-urlencoded"
    out: list[bytes] = []
    for name, value in fields:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n'
        out.append(head.encode() + value.encode("utf-8", "surrogateescape") + b"\r\n")
    for name, filename, ctype, data in payload["files"]:
        out.append(
            (
                f"--{boundary}\r\nContent-Disposition: form-data; "
                f'name="{_quoted(str(name))}"; filename="{_quoted(str(filename))}"\r\n'
                f"Content-Type: {ctype}\r\n\r\n"
            ).encode()
            + base64.b64decode(data)
            + b"\r\n"
        )
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"
