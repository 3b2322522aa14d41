"""The route forward POST, sent with httpx to a real receiver on loopback, is accepted by
django-anymail's MailgunInboundWebhookView: the signature verifies and the message it rebuilds
is the one we received (parsed fields, and the raw-MIME ``body-mime`` variant)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from mailwright.inbound.parse import forward_form, forward_mime_form, parse_inbound
from tests.support.anymail_view import anymail_inbound
from tests.support.receiver import Receiver

SAMPLE = Path(__file__).parents[2] / "fixtures" / "inbound" / "replies" / "thunderbird.eml"
KEY = "key-inbound-test"
TOKEN = "4166ec05b27b5d3c024252ad43df47865128c8fcde47dfea6b"


async def _post(
    fields: list[tuple[str, str]], files: list[tuple[str, tuple[str, bytes, str]]], path: str
) -> tuple[bytes, str]:
    """POST as Mailgun does (multipart/form-data with attachments, urlencoded without) and
    return the exact body and Content-Type that arrived."""
    data: dict[str, list[str]] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    async with Receiver() as receiver, httpx.AsyncClient() as client:
        response = await client.post(receiver.url(path), data=data, files=files or None)
        assert response.status_code == 200
        received = receiver.received[-1]
    return received.body, received.headers["content-type"]


async def test_anymail_accepts_the_parsed_forward():
    message = parse_inbound(SAMPLE.read_bytes())
    fields, files = forward_form(
        message,
        recipient="alice@example.org",
        envelope_sender="bounces+bob@example.org",
        signing_key=KEY,
        timestamp=int(time.time()),
        token=TOKEN,
    )
    body, content_type = await _post(fields, files, "/inbound")

    status, events = anymail_inbound(KEY, body, content_type)

    assert status == 200
    [event] = events
    assert event.event_id == TOKEN
    got = event.message
    assert got.envelope_recipient == "alice@example.org"
    assert got.envelope_sender == "bounces+bob@example.org"
    assert str(got.from_email) == "Bob <bob@example.org>"
    assert [str(address) for address in got.to] == ["Alice <alice@example.org>"]
    assert got.subject == "Re: Sample POST request"
    assert got.text == message.body_plain
    assert got.html == message.body_html
    assert got.stripped_text == "Hi Alice,\n\nThis is Bob.\n\nI also attached a file."
    assert "This is Alice" not in got.stripped_html
    [attachment] = got.attachments
    assert attachment.get_filename() == "crabs.txt"
    assert attachment.get_content_bytes() == b"crabs are decapods\n"
    inline = got.content_id_map["part1.04060802.06030207@example.org"]
    assert inline.get_content_type() == "image/png"
    assert inline.get_content_bytes() == message.attachments[0].content


async def test_anymail_rejects_a_forward_signed_with_another_key():
    message = parse_inbound(SAMPLE.read_bytes())
    fields, files = forward_form(
        message,
        recipient="alice@example.org",
        envelope_sender="bob@example.org",
        signing_key="some-other-key",
        timestamp=int(time.time()),
        token=TOKEN,
    )
    body, content_type = await _post(fields, files, "/inbound")

    status, events = anymail_inbound(KEY, body, content_type)

    assert status == 400
    assert events == []


async def test_anymail_accepts_the_raw_mime_forward():
    raw = SAMPLE.read_bytes()
    fields = forward_mime_form(
        raw,
        recipient="alice@example.org",
        envelope_sender="bob@example.org",
        signing_key=KEY,
        timestamp=int(time.time()),
        token=TOKEN,
    )
    body, content_type = await _post(fields, [], "/inbound/mime")
    assert content_type == "application/x-www-form-urlencoded"

    status, events = anymail_inbound(KEY, body, content_type, path="/anymail/mailgun/inbound_mime")

    assert status == 200
    [event] = events
    got = event.message
    assert got.envelope_recipient == "alice@example.org"
    assert got.subject == "Re: Sample POST request"
    assert got.text.startswith("Hi Alice,\n\nThis is Bob.")
    assert [attachment.get_filename() for attachment in got.attachments] == ["crabs.txt"]
    assert "cid:part1.04060802.06030207@example.org" in got.html


async def test_anymail_accepts_a_forward_without_files_or_html():
    iphone = SAMPLE.parent / "iphone.eml"
    message = parse_inbound(iphone.read_bytes())
    fields, files = forward_form(
        message,
        recipient="alice@example.org",
        envelope_sender="bob@example.net",
        signing_key=KEY,
        timestamp=int(time.time()),
        token=TOKEN,
    )
    body, content_type = await _post(fields, files, "/inbound")
    assert content_type == "application/x-www-form-urlencoded"

    status, events = anymail_inbound(KEY, body, content_type)

    assert status == 200
    [event] = events
    got = event.message
    assert got.subject == "Re: Where are you?"
    assert got.text == message.body_plain
    assert got.html is None
    assert got.stripped_text == "On my way, 10 minutes."
    assert got.attachments == []
