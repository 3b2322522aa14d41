"""A mailing-list member's copy: member vars, list variables and the list unsubscribe URL."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime

from mailwright.messages.render import render
from mailwright.messages.tracking import TokenKind, Tracking, verify

KEY = b"k" * 32
SPEC = {
    "kind": "form",
    "from": "me@example.org",
    "to": [["", "news@example.org"]],
    "cc": [],
    "subject": "Hi %recipient.name%",
    "text": "%recipient_fname%/%recipient_lname%/%recipient_email%/%recipient.city%/%recipient.x%"
    "\nleave: %mailing_list_unsubscribe_url%",
    "html": '<a href="%mailing_list_unsubscribe_url%">leave</a>',
    "amp-html": None,
    "headers": [],
    "variables": {},
    "tags": [],
    "recipient-variables": None,
    "attachments": [],
    "inline": [],
    "options": {},
    "lists": ["news@example.org"],
}
MEMBER = {"list": "news@example.org", "name": "Ann Lee", "vars": {"city": "Oslo"}}
TRACKING = Tracking(key=KEY, base_url="https://t.example", domain="example.org", storage_key="k1")


def rendered(
    member: dict | None, tracking: Tracking | None = TRACKING
) -> email.message.EmailMessage:
    raw = render(
        SPEC,
        [],
        recipient="ann@example.com",
        message_id="1@example.org",
        date=datetime(2026, 1, 1, tzinfo=UTC),
        tracking=tracking,
        member=member,
    )
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def text(message: email.message.EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())


def test_member_variables_are_substituted() -> None:
    message = rendered(MEMBER)
    assert message["Subject"] == "Hi Ann Lee"
    first_line = text(message, "plain").splitlines()[0]
    # An unknown key stays as written, as in batch sends.
    assert first_line == "Ann/Lee/ann@example.com/Oslo/%recipient.x%"


def test_member_var_name_wins_over_the_member_name() -> None:
    message = rendered(MEMBER | {"vars": {"name": "Annie"}})
    assert message["Subject"] == "Hi Annie"


def test_list_unsubscribe_url_is_a_signed_list_token() -> None:
    message = rendered(MEMBER)
    [url] = re.findall(r"https://t\.example/u/[\w-]+", text(message, "plain"))
    assert url in text(message, "html")
    assert message["List-Unsubscribe"] == f"<{url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = verify(KEY, url.rsplit("/", 1)[1])
    assert token is not None
    assert (token.kind, token.recipient, token.value) == (
        TokenKind.LIST_UNSUBSCRIBE,
        "ann@example.com",
        "news@example.org",
    )


def test_without_a_member_nothing_is_substituted() -> None:
    plain = text(rendered(None, None), "plain")
    assert "%recipient_fname%" in plain
    assert "%mailing_list_unsubscribe_url%" in plain
