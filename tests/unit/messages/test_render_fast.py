"""The fast renderer writes exactly the bytes ``email`` writes, over a corpus of sends."""

import email
import email.policy
import itertools
import json
import random
from datetime import UTC, datetime
from html import escape as html_escape

import pytest

from mailwright.messages.form import Upload, parse_send
from mailwright.messages.render import render, render_with_email
from mailwright.messages.tracking import Tracking

NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)

LONG_DOMAIN = "sandbox0123456789abcdef0123456789abcdef.mailwright-mail.com"
FROMS = [
    "sender@example.com",
    f"Bench <bench@{LONG_DOMAIN}>",
    "Sender <sender@example.com>",
    "Sender   Name <sender@example.com>",
    '"Doe, John" <john.doe@example.com>',
    "J. R. Doe <jrd@example.com>",
    "Zoë Ünïcode <zoe@example.com>",
    "sender+tag@sub.example.com",
    "Very Long Display Name That Goes On And On Forever <very.long.local.part@example.com>",
]
TOS = [
    ["alice@example.com"],
    ["Alice <alice@example.com>", "bob@example.com"],
    ['"Smith, Al" <al@example.com>'],
    ["Ærøskøbing <aero@example.com>"],
    [f"user{i}@example.com" for i in range(6)],
    ["o'brien@example.com"],
]
SUBJECTS = [
    "Hello",
    "",
    "Hello  world",
    " leading space",
    "=?utf-8?q?looks_encoded?=",
    "Grüße aus Köln",
    "A subject that is long enough that the SMTP policy has to fold it over two lines",
    "tab\there",
    "%recipient.name%, your order",
]
TEXTS = [
    "plain text",
    "line one\nline two\r\nline three\rfour",
    "\n",
    "trailing newline\n",
    "From the start\n.dot line\n",
    "non-ASCII: café €\n",
    "x" * 1200,
    "   spaced   \n\n\n",
]
EXTRA = [
    [],
    [("h:Reply-To", "Replies <replies@example.com>")],
    [("h:X-Campaign", "spring-2024"), ("o:tag", "news"), ("o:tag", "promo")],
    [("v:user-id", "42"), ("v:plan", "pro")],
    [("h:X-Long", "v" * 90)],
    [("h:Subject", "Replaced subject")],
    [("html", "<p>Hello <b>there</b></p>")],
    [("html", "<p>Grüße</p>"), ("amp-html", "<html amp4email><body>amp</body></html>")],
    [("cc", "Carol <carol@example.com>"), ("bcc", "dave@example.com")],
]
UPLOADS = [
    [],
    [Upload("attachment", "report.pdf", "application/pdf", b"%PDF-1.4 " * 50)],
    [
        Upload("attachment", "ünï code.txt", "text/plain", "Grüße".encode()),
        Upload("inline", "logo.png", "image/png", b"\x89PNG\r\n" + bytes(range(256))),
    ],
]


def cases(count: int) -> list[tuple[list[tuple[str, str]], list[Upload], str, str]]:
    rng = random.Random(20241126)
    every = list(itertools.product(range(len(FROMS)), range(len(TOS)), range(len(SUBJECTS))))
    chosen = []
    for _ in range(count):
        f, t, s = rng.choice(every)
        fields = [("from", FROMS[f]), *[("to", to) for to in TOS[t]], ("subject", SUBJECTS[s])]
        fields.append(("text", rng.choice(TEXTS)))
        fields += rng.choice(EXTRA)
        recipient = fields[1][1].rpartition("<")[2].rstrip(">")
        if rng.random() < 0.3:
            variables = {recipient: {"name": rng.choice(["Ann", "Zoë", "x\r\ny", ""])}}
            fields.append(("recipient-variables", json.dumps(variables)))
        message_id = rng.choice(
            ["20240101.abc@example.com", f"20240101120000.{'f' * 16}@{LONG_DOMAIN}"]
        )
        chosen.append((fields, rng.choice(UPLOADS), recipient, message_id))
    return chosen


@pytest.mark.parametrize(("fields", "uploads", "recipient", "message_id"), cases(400))
def test_fast_render_matches_email(fields, uploads, recipient, message_id):
    request = parse_send(fields, uploads, now=NOW)
    args = {"recipient": recipient, "message_id": message_id, "date": NOW}
    assert render(request.spec, request.blobs, **args) == render_with_email(
        request.spec, request.blobs, **args
    )


TRACKING = Tracking(
    key=b"k" * 32,
    base_url="https://track.example.com",
    domain="example.com",
    storage_key="storage-key",
    tags=("news",),
    opens=True,
    clicks=True,
    unsubscribes=True,
    html_footer='<p><a href="%unsubscribe_url%">unsubscribe</a></p>',
    text_footer="\nUnsubscribe: %tag_unsubscribe_url%\n",
)
TRACKED_HTML = [
    '<html><body><p>Hi <a href="https://example.org/a?b=1&amp;c=2">link</a></p></body></html>',
    "<p>Grüße <a href='http://example.org/ü'>x</a> <a href=\"mailto:a@example.com\">m</a></p>",
    "no tags at all " + "y" * 1100,
]


@pytest.mark.parametrize(("fields", "uploads", "recipient", "message_id"), cases(60))
@pytest.mark.parametrize("html", TRACKED_HTML)
def test_fast_render_matches_email_with_tracking(fields, uploads, recipient, message_id, html):
    """Tracking changes the parts and adds List-Unsubscribe headers; both paths agree."""
    request = parse_send([*fields, ("html", html)], uploads, now=NOW)
    args = {"recipient": recipient, "message_id": message_id, "date": NOW, "tracking": TRACKING}
    fast = render(request.spec, request.blobs, **args)
    assert fast == render_with_email(request.spec, request.blobs, **args)
    assert b"List-Unsubscribe: <https://track.example.com/u/" in fast


def test_corpus_takes_the_fast_path_for_plain_sends():
    """Most of the corpus is plain ASCII: the comparison above exercises the fast path."""
    request = parse_send(
        [
            ("from", "Sender <sender@example.com>"),
            ("to", TOS[1][0]),
            ("subject", "Hi"),
            ("text", "plain"),
        ],
        [],
        now=NOW,
    )
    raw = render(
        request.spec, request.blobs, recipient="alice@example.com", message_id="a@b", date=NOW
    )
    assert raw.startswith(b"From: Sender <sender@example.com>\r\nTo: Alice <alice@example.com>\r\n")


TEMPLATE_HTML = [
    "<p>Hello {{name}} {{#each items}}<a href='https://example.org/{{this}}'>{{@index}}</a>{{/each}}</p>",
    "<p>{{#if vip}}VIP {{{badge}}}{{else}}Grüße {{name}}{{/if}} %recipient.name%</p>",
]


def _pinned(spec: dict, content: str) -> dict:
    """What accept stores for a template send: the version's content pinned into the spec."""
    template = {**spec["template"], "version": "v1", "engine": "handlebars", "headers": {}}
    return {**spec, "template": {**template, "content": content}}


@pytest.mark.parametrize(("fields", "uploads", "recipient", "message_id"), cases(40))
@pytest.mark.parametrize("content", TEMPLATE_HTML)
@pytest.mark.parametrize("tracking", [None, TRACKING])
def test_fast_render_matches_email_for_template_sends(
    fields, uploads, recipient, message_id, content, tracking
):
    template_fields = [
        ("template", "welcome"),
        ("t:text", "yes"),
        ("t:variables", json.dumps({"name": "<Ann>", "items": ["a", "b"], "badge": "<b>*</b>"})),
    ]
    request = parse_send([*fields, *template_fields], uploads, now=NOW)
    spec = _pinned(request.spec, content)
    args = {"recipient": recipient, "message_id": message_id, "date": NOW, "tracking": tracking}
    fast = render(spec, request.blobs, **args)
    assert fast == render_with_email(spec, request.blobs, **args)
    message = email.message_from_bytes(fast, policy=email.policy.default)
    html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_content()
    batch = (spec["recipient-variables"] or {}).get(recipient.lower(), {})
    name = html_escape(batch.get("name", "<Ann>"))
    greeting = "Hello" if "Hello" in content else "Grüße"
    assert f"{greeting} {name}".replace("\r", "") in html.replace("\r", "")  # recipient's wins
    assert "{{" not in html
