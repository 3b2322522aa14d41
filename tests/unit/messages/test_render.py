import email
import email.policy
import json
from datetime import UTC, datetime

import pytest

from mailwright.messages.form import Upload, parse_mime_send, parse_send
from mailwright.messages.render import render, substitute

NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
BASE = [("from", "Sender <sender@example.com>"), ("to", "Alice <alice@example.com>")]
BATCH = json.dumps(
    {
        "alice@example.com": {"name": "Alice", "id": 7, "evil": "x\r\nBcc: e@x.com"},
        "bob@example.com": {"name": "Bob"},
    }
)


def build(*fields, uploads=(), recipient="alice@example.com", message_id="id.1@example.com"):
    request = parse_send([*BASE, *fields], list(uploads), now=NOW)
    raw = render(request.spec, request.blobs, recipient=recipient, message_id=message_id, date=NOW)
    return raw, email.message_from_bytes(raw, policy=email.policy.default)


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("plain", {}, "plain"),
        ("Hi %recipient.name%!", {"name": "Ann"}, "Hi Ann!"),
        ("%recipient%", {}, "ann@example.com"),
        (
            "%recipient.id% %recipient.ok% %recipient.none%",
            {"id": 7, "ok": True, "none": None},
            "7 true ",
        ),
        ("%recipient.missing%", {"name": "Ann"}, "%recipient.missing%"),
        ("%recipient.a%%recipient.a%", {"a": "x"}, "xx"),
        ("100% %recipient", {}, "100% %recipient"),
    ],
)
def test_substitute(text, variables, expected):
    assert substitute(text, variables, "ann@example.com") == expected


def test_render_is_deterministic_and_crlf():
    fields = (
        ("subject", "Hello"),
        ("text", "line one\nline two"),
        ("html", "<p>Hi</p>"),
        ("amp-html", "<html amp4email></html>"),
    )
    uploads = [
        Upload("attachment", "a.pdf", "application/pdf", b"%PDF-1.4"),
        Upload("inline", "logo.png", "image/png", b"\x89PNG"),
    ]
    first, _ = build(*fields, uploads=uploads)
    second, _ = build(*fields, uploads=uploads)
    assert first == second
    assert b"\n" not in first.replace(b"\r\n", b"")
    other, _ = build(*fields, uploads=uploads, message_id="id.2@example.com")
    assert other != first


def test_headers_plain_send():
    _, message = build(
        ("cc", "Carol <carol@example.com>"),
        ("bcc", "dave@example.com"),
        ("to", "bob@example.com"),
        ("subject", "Hello"),
        ("text", "Hi"),
        ("h:Reply-To", "reply@example.com"),
        ("h:X-Custom", "value"),
        ("h:Bcc", "spy@example.com"),
        ("h:Message-Id", "<other@example.com>"),
        ("v:order", "42"),
        ("o:tag", "a"),
        ("o:tag", "b"),
    )
    assert message["From"] == "Sender <sender@example.com>"
    assert message["To"] == "Alice <alice@example.com>, bob@example.com"
    assert message["Cc"] == "Carol <carol@example.com>"
    assert message["Bcc"] is None
    assert message["Subject"] == "Hello"
    assert message["Date"] == "Mon, 01 Jan 2024 12:00:00 +0000"
    assert message["Message-Id"] == "<id.1@example.com>"
    assert message["MIME-Version"] == "1.0"
    assert message["Reply-To"] == "reply@example.com"
    assert message["X-Custom"] == "value"
    assert json.loads(message["X-Mailgun-Variables"]) == {"order": "42"}
    assert message.get_all("X-Mailgun-Tag") == ["a", "b"]
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Hi\r\n"


def test_h_header_replaces_standard_header_in_place():
    raw, message = build(("text", "Hi"), ("h:subject", "From h"), ("subject", "Given"))
    assert message.get_all("Subject") == ["From h"]
    assert raw.index(b"subject: From h") < raw.index(b"Date:")


def test_no_variables_header_without_variables():
    _, message = build(("text", "Hi"))
    assert message["X-Mailgun-Variables"] is None
    assert message["X-Mailgun-Tag"] is None


@pytest.mark.parametrize(
    ("recipient", "to", "name"),
    [
        ("alice@example.com", "Alice <alice@example.com>", "Alice"),
        ("bob@example.com", "Bob <bob@example.com>", "Bob"),
        ("zed@example.com", "zed@example.com", "%recipient.name%"),
    ],
)
def test_batch_send(recipient, to, name):
    _, message = build(
        ("to", "Bob <bob@example.com>, zed@example.com"),
        ("cc", "carol@example.com"),
        ("recipient-variables", BATCH),
        ("subject", "Hi %recipient.name%"),
        ("text", "Dear %recipient.name%, you are %recipient%."),
        ("html", "<p>%recipient.name% %recipient.unknown%</p>"),
        ("h:X-Name", "%recipient.name%"),
        recipient=recipient,
    )
    assert message["To"] == to
    assert message["Cc"] is None
    assert message["Subject"] == f"Hi {name}"
    assert message["X-Name"] == name
    text = message.get_body(("plain",)).get_content()
    assert text == f"Dear {name}, you are {recipient}.\r\n"
    html = message.get_body(("html",)).get_content()
    assert html == f"<p>{name} %recipient.unknown%</p>\r\n"


def test_batch_variable_cannot_inject_headers():
    raw, message = build(
        ("recipient-variables", BATCH), ("text", "x"), ("h:X-Evil", "%recipient.evil%")
    )
    assert message["Bcc"] is None
    assert message["X-Evil"] == "x  Bcc: e@x.com"
    assert b"\r\nBcc:" not in raw


def test_batch_variable_with_another_line_break_renders():
    """email refuses any str.splitlines break in a header value; a form feed or U+2028 in a
    recipient variable becomes a space instead of failing every delivery attempt."""
    variables = json.dumps({"alice@example.com": {"name": "A\x0cB\u2028C"}})
    _, message = build(
        ("recipient-variables", variables), ("text", "x"), ("subject", "Hi %recipient.name%")
    )
    assert message["Subject"] == "Hi A B C"


def test_no_substitution_outside_batch():
    _, message = build(("text", "%recipient%"), ("subject", "%recipient.name%"))
    assert message["Subject"] == "%recipient.name%"
    assert message.get_content() == "%recipient%\r\n"


@pytest.mark.parametrize(
    ("fields", "structure"),
    [
        ((("text", "t"),), ["text/plain"]),
        ((("html", "<p>h</p>"),), ["text/html"]),
        (
            (("text", "t"), ("html", "<p>h</p>")),
            ["multipart/alternative", "text/plain", "text/html"],
        ),
        (
            (("html", "<p>h</p>"), ("amp-html", "<amp/>"), ("text", "t")),
            ["multipart/alternative", "text/plain", "text/x-amp-html", "text/html"],
        ),
    ],
)
def test_body_structure(fields, structure):
    _, message = build(*fields)
    assert [part.get_content_type() for part in message.walk()] == structure


def test_inline_and_attachments():
    _, message = build(
        ("text", "t"),
        ("html", '<img src="cid:logo.png">'),
        uploads=[
            Upload("attachment", "report.pdf", "application/pdf", b"%PDF-1.4"),
            Upload("inline", "logo.png", "image/png", b"\x89PNG\r\n"),
            Upload("attachment", "notes é.txt", "text/plain", "héllo".encode()),
        ],
    )
    assert [part.get_content_type() for part in message.walk()] == [
        "multipart/mixed",
        "multipart/related",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "image/png",
        "application/pdf",
        "text/plain",
    ]
    related = next(part for part in message.walk() if part.get_content_subtype() == "related")
    inline = list(related.iter_parts())[1]
    assert inline["Content-ID"] == "<logo.png>"
    assert inline.get_content_disposition() == "inline"
    assert inline.get_content() == b"\x89PNG\r\n"
    files = list(message.iter_attachments())
    assert [part.get_filename() for part in files] == ["report.pdf", "notes é.txt"]
    assert files[0].get_content() == b"%PDF-1.4"
    assert files[1].get_payload(decode=True) == "héllo".encode()


def test_unicode_headers_and_body():
    raw, message = build(
        ("from", "Jürgen <j@example.com>"),
        ("subject", "Grüße"),
        ("text", "Grüße, " + "x" * 2000),
    )
    assert raw.isascii()
    assert message["Subject"] == "Grüße"
    assert message.get_content() == "Grüße, " + "x" * 2000 + "\r\n"


def test_smtputf8_address():
    raw, _ = build(
        ("to", "Jürgen <jürgen@exämple.de>"), ("text", "t"), recipient="jürgen@exämple.de"
    )
    # SMTPUTF8 (RFC 6532): the headers are written as UTF-8, not RFC 2047 encoded words.
    assert "To: Alice <alice@example.com>, Jürgen <jürgen@exämple.de>\r\n" in raw.decode()


# messages.mime

RAW = (
    b"From: Sender <sender@example.com>\n"
    b"To: alice@example.com\n"
    b"Bcc: secret@example.com\n"
    b"Message-ID: <client@example.com>\n"
    b"Subject: Raw\n"
    b"X-Long: one\n two\n"
    b"Content-Type: text/plain\n"
    b"\n"
    b"Body line\nsecond %recipient.name%\n"
)


def render_mime(*fields, recipient="alice@example.com"):
    request = parse_mime_send(
        [("to", "alice@example.com"), *fields],
        [Upload("message", "m.eml", "message/rfc822", RAW)],
        now=NOW,
    )
    return render(
        request.spec, request.blobs, recipient=recipient, message_id="ours@example.com", date=NOW
    )


def test_mime_render():
    raw = render_mime(
        ("h:X-Extra", "%recipient.name%"),
        ("h:Subject", "Replaced"),
        ("v:k", "v"),
        ("o:tag", "t"),
        ("recipient-variables", '{"alice@example.com": {"name": "Alice"}}'),
    )
    assert raw == render_mime(
        ("h:X-Extra", "%recipient.name%"),
        ("h:Subject", "Replaced"),
        ("v:k", "v"),
        ("o:tag", "t"),
        ("recipient-variables", '{"alice@example.com": {"name": "Alice"}}'),
    )
    assert b"\n" not in raw.replace(b"\r\n", b"")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.get_all("Message-Id") == ["<ours@example.com>"]
    assert message["Bcc"] is None
    assert message.get_all("Subject") == ["Replaced"]
    assert message["X-Extra"] == "Alice"
    assert message["X-Mailgun-Tag"] == "t"
    assert json.loads(message["X-Mailgun-Variables"]) == {"k": "v"}
    assert message["X-Long"] == "one two"
    assert raw.endswith(b"\r\n\r\nBody line\r\nsecond %recipient.name%\r\n")


def test_mime_render_without_options_keeps_body():
    raw = render_mime()
    assert raw.startswith(b"Message-Id: <ours@example.com>\r\nFrom: Sender")
    assert b"Message-ID: <client" not in raw
