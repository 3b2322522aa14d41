"""Mailgun's webhook signature: hex HMAC-SHA256 over timestamp + token."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from mailwright.webhooks.signing import body, sign, signature_of, verify

KEY = "key-0123456789abcdef"


def test_signature_is_hmac_sha256_of_timestamp_and_token() -> None:
    # Worked by hand with the standard library, as a receiver does it.
    expected = hmac.new(KEY.encode(), b"1700000000" + b"t" * 50, hashlib.sha256).hexdigest()
    assert signature_of(KEY, "1700000000", "t" * 50) == expected
    assert sign(KEY, 1700000000, "t" * 50) == {
        "timestamp": "1700000000",
        "token": "t" * 50,
        "signature": expected,
    }


@pytest.mark.parametrize(
    ("change", "now", "ok"),
    [
        ({}, 1700000000, True),
        ({}, 1700000299, True),
        ({}, 1700000301, False),  # too old
        ({}, 1699999699, False),  # too far in the future
        ({"token": "u" * 50}, 1700000000, False),
        ({"timestamp": "1700000001"}, 1700000000, False),
        ({"signature": "0" * 64}, 1700000000, False),
        ({"timestamp": "soon"}, 1700000000, False),
    ],
)
def test_verify(change: dict, now: float, ok: bool) -> None:
    signature = sign(KEY, 1700000000, "t" * 50) | change
    assert verify(KEY, signature, now=now) is ok  # type: ignore[arg-type]


def test_other_key_does_not_verify() -> None:
    assert not verify("other", sign(KEY, 1700000000, "t" * 50), now=1700000000)


def test_body_keeps_the_event_json_byte_for_byte() -> None:
    event = '{"id":"e1","event":"delivered","timestamp":1700000000.5,"x":"\u00e9"}'
    raw = body(sign(KEY, 1700000000, "t" * 50), event)
    assert raw.decode().endswith(f',"event-data":{event}}}')
    parsed = json.loads(raw)
    assert parsed["event-data"] == json.loads(event)
    assert parsed["signature"]["signature"] == signature_of(KEY, "1700000000", "t" * 50)
