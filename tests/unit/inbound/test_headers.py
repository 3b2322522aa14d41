"""``X-Mailgun-*`` control headers of a submitted message become Mailgun form fields."""

from __future__ import annotations

import pytest

from mailwright.inbound.headers import split_controls

HEAD = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: Hi\r\n"
BODY = b"\r\nBody line\r\nX-Mailgun-Tag: in the body stays\r\n"


@pytest.mark.parametrize(
    ("headers", "fields"),
    [
        (b"X-Mailgun-Tag: one\r\nX-Mailgun-Tag: two\r\n", [("o:tag", "one"), ("o:tag", "two")]),
        (b"x-mailgun-drop-message: yes\r\n", [("o:testmode", "yes")]),
        (
            b"X-Mailgun-Deliver-By: Fri, 14 Oct 2011 23:10:10 -0000\r\n",
            [("o:deliverytime", "Fri, 14 Oct 2011 23:10:10 -0000")],
        ),
        (
            b"X-Mailgun-Track: no\r\nX-Mailgun-Track-Clicks: htmlonly\r\n",
            [("o:tracking", "no"), ("o:tracking-clicks", "htmlonly")],
        ),
        (
            b"X-Mailgun-Track-Opens: yes\r\nX-Mailgun-Dkim: no\r\n",
            [("o:tracking-opens", "yes"), ("o:dkim", "no")],
        ),
        (
            b"X-Mailgun-Require-TLS: true\r\nX-Mailgun-Skip-Verification: false\r\n",
            [("o:require-tls", "true"), ("o:skip-verification", "false")],
        ),
        (
            b'X-Mailgun-Variables: {"a": 1,\r\n "b": "two"}\r\n',  # folded
            [("h:X-Mailgun-Variables", '{"a": 1, "b": "two"}')],
        ),
        (
            b'X-Mailgun-Recipient-Variables: {"b@example.com": {"n": 1}}\r\n',
            [("recipient-variables", '{"b@example.com": {"n": 1}}')],
        ),
        (b"X-Mailgun-Tag: =?utf-8?q?caf=C3=A9?=\r\n", [("o:tag", "café")]),
    ],
)
def test_controls_become_fields_and_leave_the_message(
    headers: bytes, fields: list[tuple[str, str]]
) -> None:
    found, stripped = split_controls(HEAD + headers + BODY)
    assert found == fields
    assert stripped == HEAD + BODY


def test_message_without_controls_is_unchanged() -> None:
    raw = HEAD + b"X-Other: kept\r\n" + BODY
    assert split_controls(raw) == ([], raw)


def test_bare_lf_message() -> None:
    raw = b"From: a@example.com\nX-Mailgun-Tag: t\nSubject: s\n\nbody\n"
    assert split_controls(raw) == ([("o:tag", "t")], b"From: a@example.com\nSubject: s\n\nbody\n")
