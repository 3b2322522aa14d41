import base64
import hashlib
import hmac
import json
import random
from pathlib import Path

import pytest

from mailwright.inbound.parse import (
    Attachment,
    forward_form,
    forward_mime_form,
    header_name,
    parse_inbound,
    stored_json,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "inbound"
BROKEN = sorted((FIXTURES / "broken").iterdir())
SAMPLES = sorted(FIXTURES.rglob("*.eml"))
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def test_thunderbird_sample_fields():
    message = parse_inbound((FIXTURES / "replies" / "thunderbird.eml").read_bytes())
    assert message.sender == "bob@example.org"
    assert message.from_ == "Bob <bob@example.org>"
    assert message.subject == "Re: Sample POST request"
    assert message.message_id == "<517ACC75.5010709@example.org>"
    assert message.body_plain.startswith("Hi Alice,\n\nThis is Bob.")
    assert "How are you doin\u00a9?" in message.body_html  # ISO-8859-1 quoted-printable
    assert message.attachments == (
        Attachment("attachment-1.png", "image/png", PNG, "<part1.04060802.06030207@example.org>"),
        Attachment("crabs.txt", "text/plain", b"crabs are decapods\n"),
    )
    assert message.content_id_map == {"<part1.04060802.06030207@example.org>": "attachment-1"}
    names = [name for name, _ in message.message_headers]
    assert names[:4] == ["Received", "Message-Id", "Date", "From"]
    assert "Mime-Version" in names
    assert "User-Agent" in names
    assert dict(message.message_headers)["X-Mailgun-Variables"] == (
        '{"my_var_1": "Mailgun Variable #1", "my-var-2": "awesome"}'
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [("MIME-Version", "Mime-Version"), ("Message-ID", "Message-Id"),
     ("DKIM-Signature", "Dkim-Signature"), ("x-mailgun-variables", "X-Mailgun-Variables"),
     ("Subject", "Subject")],
)  # fmt: skip
def test_header_names_are_spelt_as_mailgun_does(name, expected):
    assert header_name(name) == expected


def test_charsets_and_encoded_words():
    outlook = parse_inbound((FIXTURES / "replies" / "outlook_desktop.eml").read_bytes())
    assert "1.200 \u20ac" in outlook.body_plain  # windows-1252 0x80
    assert outlook.attachments[0].filename == "Invoice 2024-02.pdf"
    assert outlook.attachments[0].content.startswith(b"%PDF-1.4")
    french = parse_inbound((FIXTURES / "replies" / "french_gmail.eml").read_bytes())
    assert french.subject == "Re: R\u00e9union jeudi"


def test_html_only_message_gets_a_text_body():
    raw = (
        b"From: a@example.org\r\nSubject: hi\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>Hello <b>there</b></p><blockquote>old</blockquote>"
    )
    message = parse_inbound(raw)
    assert message.body_plain == "Hello there\n\nold\n"
    assert message.body_html.startswith("<p>Hello")
    assert message.stripped_html == "<p>Hello <b>there</b></p>"


def test_attached_message_is_an_attachment_not_the_body():
    message = parse_inbound((FIXTURES / "broken" / "nested_rfc822.eml").read_bytes())
    assert message.body_plain == "See the attached message.\n"
    assert message.body_html == ""
    assert [item.content_type for item in message.attachments] == ["message/rfc822"] * 2
    assert b"Inner body that is not the outer body." in message.attachments[0].content
    assert message.attachments[0].filename == "attachment-1.eml"


def test_broken_charsets_and_8bit_headers_decode():
    message = parse_inbound((FIXTURES / "broken" / "unknown_charset.eml").read_bytes())
    assert message.subject.startswith("Pr\u00e9sentation")  # raw Latin-1 byte in the header
    assert message.body_plain.startswith("Caf\u00e9 cr\u00e8me")  # unknown charset: Windows-1252
    assert message.sender == "bob@example.org"


def test_message_without_headers():
    message = parse_inbound((FIXTURES / "broken" / "no_headers.eml").read_bytes())
    assert (message.sender, message.from_, message.subject, message.message_id) == ("", "", "", "")
    assert message.body_plain.startswith("just a line")


def _assert_serialisable(message):
    fields, files = forward_form(
        message, recipient="r@example.org", envelope_sender="s@example.org",
        signing_key="key", timestamp=1, token="t",
    )  # fmt: skip
    for _, value in fields:
        value.encode("utf-8")  # no lone surrogates reach the wire
    assert len(files) == len(message.attachments)
    json.dumps(stored_json(message, recipient="r", envelope_sender="s", attachment_url=str))


@pytest.mark.parametrize("path", BROKEN, ids=[path.name for path in BROKEN])
def test_broken_fixtures_parse(path):
    _assert_serialisable(parse_inbound(path.read_bytes()))


# Bytes that steer the header and MIME parsers into their corners.
SYNTAX = b'< > " =?utf-8?q? ?= \\ ( ) : ; @ -- \x00 \xff boundary= charset= *0*= * ['.split()
SYNTAX += [b"\n", b"\r\n "]


@pytest.mark.parametrize("seed", range(20))
def test_mutated_mail_never_raises(seed):
    rng = random.Random(seed)
    for _ in range(25):
        raw = bytearray(rng.choice(SAMPLES).read_bytes())
        for _ in range(rng.randint(1, 30)):
            at = rng.randrange(min(len(raw), 1500))  # mostly in the headers
            if rng.random() < 0.5:
                raw[at] = rng.randrange(256)
            else:
                raw[at:at] = rng.choice(SYNTAX)
        if rng.random() < 0.3:
            raw = raw[: rng.randrange(len(raw))]
        _assert_serialisable(parse_inbound(bytes(raw)))


TOKEN = "4166ec05b27b5d3c024252ad43df47865128c8fcde47dfea6b"


def test_forward_form():
    message = parse_inbound((FIXTURES / "replies" / "thunderbird.eml").read_bytes())
    fields, files = forward_form(
        message, recipient="alice@example.org", envelope_sender="bounce@example.org",
        signing_key="key-123", timestamp=1412239366, token=TOKEN,
    )  # fmt: skip
    form = dict(fields)
    expected_signature = hmac.new(
        b"key-123", b"14122393664166ec05b27b5d3c024252ad43df47865128c8fcde47dfea6b", hashlib.sha256
    ).hexdigest()
    assert form["signature"] == expected_signature
    assert form["recipient"] == "alice@example.org"
    assert form["sender"] == "bounce@example.org"
    assert form["from"] == "Bob <bob@example.org>"
    assert form["stripped-text"] == "Hi Alice,\n\nThis is Bob.\n\nI also attached a file."
    assert form["stripped-signature"] == "Thanks,\nBob"
    assert form["attachment-count"] == "2"
    assert json.loads(form["content-id-map"]) == {
        "<part1.04060802.06030207@example.org>": "attachment-1"
    }
    assert json.loads(form["message-headers"])[1] == [
        "Message-Id",
        "<517ACC75.5010709@example.org>",
    ]
    # every header is also a field of its own, as Mailgun posts them
    assert form["Message-Id"] == "<517ACC75.5010709@example.org>"
    assert form["In-Reply-To"] == "<517AC78B.5060404@example.org>"
    assert files == [
        ("attachment-1", ("attachment-1.png", PNG, "image/png")),
        ("attachment-2", ("crabs.txt", b"crabs are decapods\n", "text/plain")),
    ]


def test_forward_form_without_html_leaves_html_fields_out():
    message = parse_inbound((FIXTURES / "replies" / "iphone.eml").read_bytes())
    fields, files = forward_form(
        message, recipient="r", envelope_sender="s", signing_key="k", timestamp=1, token="t"
    )
    names = [name for name, _ in fields]
    assert "body-html" not in names
    assert "stripped-html" not in names
    assert dict(fields)["attachment-count"] == "0"
    assert files == []


def test_forward_mime_form():
    raw = (FIXTURES / "replies" / "german_outlook.eml").read_bytes()
    form = dict(
        forward_mime_form(
            raw, recipient="r", envelope_sender="s", signing_key="k", timestamp=5, token="t"
        )
    )
    assert form["body-mime"] == raw.decode("ascii")
    assert form["signature"] == hmac.new(b"k", b"5t", hashlib.sha256).hexdigest()


URL = "https://api.example/v3/domains/d/messages/k/attachments"


def test_stored_json():
    message = parse_inbound((FIXTURES / "replies" / "thunderbird.eml").read_bytes())
    stored = stored_json(
        message, recipient="alice@example.org", envelope_sender="bob@example.org",
        attachment_url=lambda index: f"{URL}/{index}",
    )  # fmt: skip
    assert stored["recipients"] == "alice@example.org"
    assert stored["sender"] == "bob@example.org"
    assert stored["stripped-signature"] == "Thanks,\nBob"
    assert stored["Content-Type"].startswith("multipart/mixed")
    assert stored["Message-Id"] == "<517ACC75.5010709@example.org>"
    assert stored["attachments"] == [
        {"url": f"{URL}/0", "content-type": "image/png", "name": "attachment-1.png",
         "size": len(PNG)},
        {"url": f"{URL}/1", "content-type": "text/plain", "name": "crabs.txt", "size": 19},
    ]  # fmt: skip
    assert stored["content-id-map"] == {"<part1.04060802.06030207@example.org>": f"{URL}/0"}
    assert stored["message-headers"][0][0] == "Received"


def test_multipart_without_its_boundary_is_read_as_text():
    message = parse_inbound((FIXTURES / "broken" / "broken_multipart.eml").read_bytes())
    assert message.body_plain.startswith("This body never uses its declared boundary.")
    assert message.attachments == ()


def test_content_type_the_modern_parser_raises_on():
    # email.policy.default raises IndexError on a parameter name with no value ("charset*")
    message = parse_inbound((FIXTURES / "broken" / "parameter_without_value.eml").read_bytes())
    assert message.subject == "caf\u00e9"
    assert "The modern header parser raises" in message.body_plain


def test_null_in_charset():
    message = parse_inbound((FIXTURES / "broken" / "null_in_charset.eml").read_bytes())
    assert message.body_plain == "caf\u00e9"
