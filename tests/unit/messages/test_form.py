import json
from datetime import UTC, datetime, timedelta
from email.utils import getaddresses

import pytest

from mailwright.errors import InvalidInput, PayloadTooLarge
from mailwright.messages.form import (
    MAX_MESSAGE_BYTES,
    Upload,
    _getaddresses,
    new_message_id,
    parse_mime_send,
    parse_send,
)

NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
BASE = [("from", "Sender <sender@example.com>"), ("to", "alice@example.com"), ("text", "Hi")]
RAW = b"From: Sender <sender@example.com>\r\nSubject: Raw\r\n\r\nBody\r\n"


def send(*extra, without=(), uploads=()):
    fields = [pair for pair in BASE if pair[0] not in without] + list(extra)
    return parse_send(fields, list(uploads), now=NOW)


def bad_header(name):
    return (f"h:{name}", "x")


@pytest.mark.parametrize(
    ("extra", "without", "field", "message"),
    [
        ((), ("from",), "from", "'from' parameter is missing"),
        ((("from", "nobody"),), ("from",), "from", "'from' parameter is not a valid address"),
        ((("from", "a@x.com, b@x.com"),), ("from",), "from", "not a valid address"),
        ((), ("to",), "to", "'to' parameter is missing"),
        ((("to", "not an address"),), (), "to", "'to' parameter is not a valid address"),
        ((("cc", "bob@"),), (), "cc", "'cc' parameter is not a valid address"),
        ((("bcc", "a@b@c"),), (), "bcc", "'bcc' parameter is not a valid address"),
        ((("to", "a@x.com;b@x.com"),), (), "to", "'to' parameter is not a valid address"),
        ((("to", "a@x.com>, b@x.com"),), (), "to", "'to' parameter is not a valid address"),
        ((("to", "a@x.com junk"),), (), "to", "'to' parameter is not a valid address"),
        ((), ("text",), "text", "Need at least one of 'text', 'html' or 'template'"),
        ((("recipient-variables", "{nope"),), (), "recipient-variables", "valid JSON object"),
        ((("recipient-variables", "[1]"),), (), "recipient-variables", "valid JSON object"),
        ((("t:variables", "3"),), (), "t:variables", "valid JSON object"),
        ((("h:X-Mailgun-Variables", "x"),), (), "h:X-Mailgun-Variables", "valid JSON object"),
        ((("h:X-Foo", "a\r\nBcc: evil@x.com"),), (), "h:X-Foo", "must not contain CR or LF"),
        ((("subject", "a\nb"),), (), "subject", "must not contain CR or LF"),
        ((("from", "a@x.com\r\n"),), ("from",), "from", "must not contain CR or LF"),
        ((("to", "b@x.com\nc@x.com"),), (), "to", "must not contain CR or LF"),
        # str.splitlines breaks there too, and email refuses the header when rendering
        ((("h:X-Foo", "a\x0cb"),), (), "h:X-Foo", "must not contain CR or LF"),
        ((("subject", "a\u2028b"),), (), "subject", "must not contain CR or LF"),
        ((bad_header("Bad Name"),), (), "h:Bad Name", "not a valid header name"),
        ((bad_header("Bad:Name"),), (), "h:Bad:Name", "not a valid header name"),
        ((bad_header("Bäd"),), (), "h:Bäd", "not a valid header name"),
        ((("o:tag", "a"), ("o:tag", "b"), ("o:tag", "c"), ("o:tag", "d")), (), "o:tag", "o:tag"),
        ((("o:tag", "x" * 129),), (), "o:tag", "128"),
        ((("o:testmode", "maybe"),), (), "o:testmode", "o:testmode"),
        ((("o:dkim", "1"),), (), "o:dkim", "o:dkim"),
        ((("o:tracking", ""),), (), "o:tracking", "o:tracking"),
        ((("o:tracking-opens", "on"),), (), "o:tracking-opens", "o:tracking-opens"),
        ((("o:require-tls", "x"),), (), "o:require-tls", "o:require-tls"),
        ((("o:skip-verification", "x"),), (), "o:skip-verification", "o:skip-verification"),
        ((("o:tracking-clicks", "sometimes"),), (), "o:tracking-clicks", "o:tracking-clicks"),
        ((("o:sending-ip", "1.2.3"),), (), "o:sending-ip", "o:sending-ip"),
        ((("o:deliverytime-optimize-period", "1d"),), (), "o:deliverytime-optimize-period", "o:"),
        ((("o:time-zone-localize", "25:00"),), (), "o:time-zone-localize", "o:time-zone"),
        ((("t:text", "perhaps"),), (), "t:text", "t:text"),
        ((("o:deliverytime", "tomorrow"),), (), "o:deliverytime", "o:deliverytime"),
        (
            (("o:deliverytime", "Mon, 01 Jan 2024 13:00:00 -0000"),),
            (),
            "o:deliverytime",
            "time zone",
        ),
        (
            (("o:deliverytime", "Tue, 09 Jan 2024 12:00:01 +0000"),),
            (),
            "o:deliverytime",
            "7 days",
        ),
    ],
)
def test_invalid_input_names_the_field(extra, without, field, message):
    with pytest.raises(InvalidInput) as caught:
        send(*extra, without=without)
    assert type(caught.value) is InvalidInput
    assert caught.value.field == field
    assert message in caught.value.message
    assert field.split(":", 1)[-1] in caught.value.message or field == "text"


def test_too_many_recipients():
    to = ", ".join(f"user{i}@example.com" for i in range(600))
    cc = ", ".join(f"other{i}@example.com" for i in range(401))
    with pytest.raises(InvalidInput) as caught:
        send(("to", to), ("cc", cc))
    assert caught.value.field == "to"
    assert caught.value.message == "Too many recipients: at most 1000 are allowed per message"


def test_exactly_1000_recipients_with_duplicates_is_fine():
    to = ", ".join(f"user{i}@example.com" for i in range(999))
    request = send(("to", to), ("cc", "USER1@example.com"))
    assert len(request.recipients) == 1000


@pytest.mark.parametrize(
    ("uploads", "extra"),
    [
        (
            [Upload("attachment", "big.bin", "application/octet-stream", b"x" * MAX_MESSAGE_BYTES)],
            (),
        ),
        ([], (("html", "x" * (MAX_MESSAGE_BYTES - 1)),)),
    ],
)
def test_too_large(uploads, extra):
    with pytest.raises(PayloadTooLarge) as caught:
        send(*extra, uploads=uploads)
    assert caught.value.field == "message"
    assert "25 MB" in caught.value.message


def test_repeated_and_comma_separated_recipients_deduplicated_in_order():
    request = send(
        ("to", 'Bob <bob@example.com>, "Doe, Carol" <carol@example.com>'),
        ("to", "ALICE@example.com"),
        ("cc", "dave@example.com, bob@EXAMPLE.com"),
        ("bcc", "erin@example.com"),
        ("bcc", "erin@example.com, "),
    )
    assert request.recipients == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
        "dave@example.com",
        "erin@example.com",
    ]
    assert request.spec["to"][2] == ["Doe, Carol", "carol@example.com"]
    assert request.spec["cc"] == [["", "dave@example.com"], ["", "bob@example.com"]]
    assert "bcc" not in request.spec


def test_unicode_names_and_smtputf8_addresses():
    request = send(("to", "Jürgen <jürgen@exämple.de>"), ("subject", "Grüße"))
    assert request.recipients[-1] == "jürgen@exämple.de"
    assert request.spec["to"][-1] == ["Jürgen", "jürgen@exämple.de"]
    assert request.spec["smtputf8"] is True
    assert request.subject == "Grüße"
    assert send().spec["smtputf8"] is False


def test_request_fields():
    request = send(
        ("subject", "Hello"),
        ("html", "<p>Hi</p>"),
        ("amp-html", "<html amp4email></html>"),
        ("h:Reply-To", "reply@example.com"),
        ("h:X-Mailgun-Variables", '{"a": 1, "b": 2}'),
        ("v:b", "two"),
        ("v:json", '{"k": 1}'),
        ("o:tag", "one"),
        ("o:tag", "two"),
        ("o:testmode", "Yes"),
        ("o:tracking-clicks", "htmlonly"),
        ("o:tracking-opens", "False"),
        ("o:dkim", "true"),
        ("o:sending-ip", "192.0.2.1"),
        ("o:sending-ip-pool", "pool"),
        ("o:deliverytime", "Wed, 03 Jan 2024 10:00:00 +0200"),
        ("o:deliverytime-optimize-period", "24h"),
        ("o:time-zone-localize", "10:00AM"),
        uploads=[
            Upload("attachment", "a.pdf", "application/pdf; name=a.pdf", b"%PDF"),
            Upload("inline", "logo.png", "", b"PNG"),
        ],
    )
    assert request.sender == "sender@example.com"
    assert request.from_header == "Sender <sender@example.com>"
    assert request.tags == ["one", "two"]
    assert request.user_variables == {"a": 1, "b": "two", "json": '{"k": 1}'}
    assert request.deliver_at == datetime(2024, 1, 3, 8, 0, tzinfo=UTC)
    assert request.is_test_mode is True
    assert request.is_batch is False
    assert request.template is None
    assert request.blobs == [b"%PDF", b"PNG"]
    assert request.size == len("Hi<p>Hi</p><html amp4email></html>") + 7
    assert request.attachments == [
        {"filename": "a.pdf", "content-type": "application/pdf", "size": 4},
        {"filename": "logo.png", "content-type": "application/octet-stream", "size": 3},
    ]
    assert request.spec["headers"] == [["Reply-To", "reply@example.com"]]
    assert request.spec["options"] == {
        "testmode": True,
        "tracking-opens": False,
        "dkim": True,
        "sending-ip-pool": "pool",
        "tracking-clicks": "htmlonly",
        "sending-ip": "192.0.2.1",
        "deliverytime-optimize-period": "24h",
        "time-zone-localize": "10:00AM",
        "deliverytime": "2024-01-03T08:00:00+00:00",
    }
    json.dumps(request.spec)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("yes", True), ("YES", True), ("true", True), ("True", True), ("no", False), ("FALSE", False)],
)
def test_booleans(value, expected):
    assert send(("o:tracking", value)).spec["options"]["tracking"] is expected


@pytest.mark.parametrize(
    ("value", "expected"), [("true", "yes"), ("No", "no"), ("htmlonly", "htmlonly")]
)
def test_tracking_clicks(value, expected):
    assert send(("o:tracking-clicks", value)).spec["options"]["tracking-clicks"] == expected


def test_template_without_body():
    request = send(
        ("template", "welcome"),
        ("t:version", "v2"),
        ("t:text", "yes"),
        ("t:variables", '{"name": "Ann"}'),
        without=("text",),
    )
    assert request.template == "welcome"
    assert request.spec["template"] == {
        "name": "welcome",
        "version": "v2",
        "text": True,
        "variables": {"name": "Ann"},
    }


def test_recipient_variables_make_a_batch():
    request = send(
        ("recipient-variables", '{"Alice@Example.com": {"name": "Alice"}, "x@y.com": 1}')
    )
    assert request.is_batch is True
    assert request.spec["recipient-variables"] == {
        "alice@example.com": {"name": "Alice"},
        "x@y.com": {},
    }


def test_new_message_id():
    when = datetime(2024, 1, 2, 4, 5, 6, tzinfo=UTC) + timedelta(microseconds=5)
    assert new_message_id("example.com", when, "abc") == "20240102040506.abc@example.com"


# messages.mime


@pytest.mark.parametrize("as_upload", [True, False])
def test_mime_send(as_upload):
    uploads = [Upload("message", "message.mime", "message/rfc822", RAW)] if as_upload else []
    fields = [("to", "a@example.com, b@example.com"), ("o:tag", "t"), ("v:k", "v")]
    if not as_upload:
        fields.append(("message", RAW.decode()))
    request = parse_mime_send(fields, uploads, now=NOW)
    assert request.blobs == [RAW]
    assert request.recipients == ["a@example.com", "b@example.com"]
    assert request.sender == "sender@example.com"
    assert request.subject == "Raw"
    assert request.tags == ["t"]
    assert request.user_variables == {"k": "v"}
    assert request.size == len(RAW)
    assert request.spec["kind"] == "mime"
    json.dumps(request.spec)


def test_mime_send_lists_attachments():
    raw = (
        b"From: s@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
        b"--b\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename=a.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b--\r\n"
    )
    request = parse_mime_send([("to", "a@example.com"), ("message", raw.decode())], [], now=NOW)
    assert request.attachments == [
        {"filename": "a.pdf", "content-type": "application/pdf", "size": 4}
    ]


@pytest.mark.parametrize(
    ("fields", "uploads", "field", "message"),
    [
        ([("to", "a@example.com")], [], "message", "'message' parameter is missing"),
        ([("message", RAW.decode())], [], "to", "'to' parameter is missing"),
        ([("to", "nope"), ("message", RAW.decode())], [], "to", "not a valid address"),
        ([("to", "a@example.com"), ("message", "just text")], [], "message", "'message'"),
        (
            [("to", "a@example.com"), ("message", "Subject: x\r\n\r\nno from")],
            [],
            "message",
            "From",
        ),
        (
            [
                ("to", "a@example.com"),
                ("o:tag", "1"),
                ("o:tag", "2"),
                ("o:tag", "3"),
                ("o:tag", "4"),
            ],
            [Upload("message", "m", "message/rfc822", RAW)],
            "o:tag",
            "o:tag",
        ),
    ],
)
def test_mime_send_errors(fields, uploads, field, message):
    with pytest.raises(InvalidInput) as caught:
        parse_mime_send(fields, uploads, now=NOW)
    assert caught.value.field == field
    assert message in caught.value.message


def test_mime_send_too_large():
    raw = RAW + b"x" * MAX_MESSAGE_BYTES
    with pytest.raises(PayloadTooLarge):
        parse_mime_send([("to", "a@example.com")], [Upload("message", "m", "", raw)], now=NOW)


@pytest.mark.parametrize(
    "values",
    [
        ["a@example.com"],
        ["Alice <alice@example.com>"],
        ["Alice Smith <alice.smith+tag@mail.example.com>", "bob@example.com"],
        ["Alice  Smith <a@example.com>"],
        ["J. R. Doe <jrd@example.com>"],
        ['"Doe, John" <jd@example.com>'],
        ["a@example.com, b@example.com"],
        ["a@example.com junk"],
        ["Zoë <zoe@example.com>"],
        [" a@example.com "],
        ["bob@"],
        ["o'brien@example.com"],
        ["Alice<alice@example.com>"],
    ],
)
def test_address_shortcut_agrees_with_getaddresses(values):
    assert _getaddresses(values) == getaddresses(values)
