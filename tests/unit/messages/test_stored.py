import json
from datetime import UTC, datetime

from mailwright.messages.form import Upload, parse_send
from mailwright.messages.render import render
from mailwright.messages.stored import describe

NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def stored(*fields, uploads=()):
    request = parse_send(
        [("from", "Sender <sender@example.com>"), ("to", "alice@example.com"), *fields],
        list(uploads),
        now=NOW,
    )
    raw = render(
        request.spec, request.blobs, recipient="alice@example.com", message_id="m.1@x", date=NOW
    )
    return describe(
        raw,
        recipients=request.recipients,
        sender=request.sender,
        attachment_url=lambda index: f"https://api.example.com/attachments/{index}",
    )


def test_describe_full_message():
    described = stored(
        ("cc", "bob@example.com"),
        ("subject", "Hello"),
        ("text", "Plain body"),
        ("html", '<p>Hi <img src="cid:logo.png"></p>'),
        ("v:order", "42"),
        uploads=[
            Upload("attachment", "report.pdf", "application/pdf", b"%PDF-1.4"),
            Upload("inline", "logo.png", "image/png", b"\x89PNG"),
        ],
    )
    assert described["From"] == "Sender <sender@example.com>"
    assert described["To"] == "alice@example.com"
    assert described["Subject"] == "Hello"
    assert described["Message-Id"] == "<m.1@x>"
    assert described["Date"] == "Mon, 01 Jan 2024 12:00:00 +0000"
    assert described["Content-Type"].startswith("multipart/mixed")
    assert described["recipients"] == "alice@example.com,bob@example.com"
    assert described["sender"] == "sender@example.com"
    assert described["from"] == "Sender <sender@example.com>"
    assert described["subject"] == "Hello"
    assert described["body-plain"] == "Plain body\r\n"
    assert described["stripped-text"] == described["body-plain"]
    assert described["body-html"] == '<p>Hi <img src="cid:logo.png"></p>\r\n'
    assert described["stripped-html"] == described["body-html"]
    assert described["stripped-signature"] == ""
    assert described["attachments"] == [
        {
            "url": "https://api.example.com/attachments/0",
            "content-type": "image/png",
            "name": "logo.png",
            "size": 4,
        },
        {
            "url": "https://api.example.com/attachments/1",
            "content-type": "application/pdf",
            "name": "report.pdf",
            "size": 8,
        },
    ]
    assert described["content-id-map"] == {"<logo.png>": "https://api.example.com/attachments/0"}
    assert json.loads(described["X-Mailgun-Variables"]) == {"order": "42"}
    assert ["Subject", "Hello"] in described["message-headers"]
    assert ["Cc", "bob@example.com"] in described["message-headers"]
    json.dumps(described)


def test_describe_text_only():
    described = stored(("text", "Only text"))
    assert described["body-plain"] == "Only text\r\n"
    assert described["body-html"] == ""
    assert described["attachments"] == []
    assert described["content-id-map"] == {}
    assert "X-Mailgun-Variables" not in described


def test_describe_html_only():
    described = stored(("html", "<b>x</b>"))
    assert described["body-plain"] == ""
    assert described["body-html"] == "<b>x</b>\r\n"
