"""Mailgun's webhook signature (pure): hex HMAC-SHA256, keyed with the account's HTTP webhook
signing key, over ``timestamp`` + ``token`` concatenated.

The request body is ``{"signature": {"timestamp", "token", "signature"}, "event-data": event}``;
receivers (django-anymail's ``MailgunTrackingWebhookView``, the SDKs) recompute the signature,
may reject old timestamps, and dedupe on the token (50 random characters, as Mailgun's).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TypedDict

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
