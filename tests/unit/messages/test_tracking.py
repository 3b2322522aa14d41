"""Tracking tokens and the rewriting of one recipient's parts (pure)."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from mailwright.messages.tracking import (
    DomainTracking,
    Token,
    TokenKind,
    Tracking,
    clean_url,
    resolve,
    sign,
    verify,
)

KEY = bytes(range(32))
BASE = "https://track.example.com"
RCPT = "bob@example.net"
ON = Tracking(
    key=KEY,
    base_url=BASE,
    domain="example.com",
    storage_key="key123",
    tags=("news", "weekly"),
    opens=True,
    clicks=True,
)


def tokens(text: str, path: str) -> list[Token]:
    found = []
    for value in re.findall(rf"{re.escape(BASE)}/{path}/([A-Za-z0-9_-]+)", text):
        token = verify(KEY, value)
        assert token is not None
        found.append(token)
    return found


def clicks(text: str) -> list[str]:
    return [t.value for t in tokens(text, "c")]


# --- tokens ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        Token(TokenKind.OPEN, "example.com", "k", "a@example.net"),
        Token(TokenKind.CLICK, "example.com", "k", "a@example.net", "https://x.org/?a=1&b=\n2"),
        Token(TokenKind.UNSUBSCRIBE, "example.com", "k", "Zoë@example.net"),
        Token(TokenKind.TAG_UNSUBSCRIBE, "example.com", "k", "a@example.net", "a\x1fb"),
    ],
)
def test_token_round_trips(token):
    text = sign(KEY, token)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", text)
    assert verify(KEY, text) == token
    assert sign(KEY, token) == text  # deterministic: a retry renders the same bytes


def test_tag_token_lists_its_tags():
    token = Token(TokenKind.TAG_UNSUBSCRIBE, "d", "k", "r", "news\x1fweekly")
    assert token.tags == ["news", "weekly"]


def flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


@pytest.mark.parametrize("where", [0, 5, 20, -3, -1])
def test_changed_token_does_not_verify(where):
    text = sign(KEY, Token(TokenKind.CLICK, "example.com", "k", "a@example.net", "https://x.org"))
    assert verify(KEY, flip(text, where % len(text))) is None


@pytest.mark.parametrize("text", ["", "A", "!!!!", "A" * 10, "A" * 200, "é"])
def test_garbage_does_not_verify(text):
    assert verify(KEY, text) is None


def test_other_key_does_not_verify():
    text = sign(KEY, Token(TokenKind.OPEN, "example.com", "k", "a@example.net"))
    assert verify(b"another key", text) is None


# --- HTML links ------------------------------------------------------------------------------


def test_http_links_are_rewritten_and_lead_to_their_url():
    source = (
        '<p><a href="https://example.org/a?b=1&amp;c=2">one</a> '
        "<a class=x HREF='http://example.org/two'>two</a> "
        "<a href=https://example.org/bare>bare</a></p>"
    )
    out = replace(ON, opens=False).html(source, RCPT)
    assert clicks(out) == [
        "https://example.org/a?b=1&c=2",  # the entity decoded: what the browser follows
        "http://example.org/two",
        "https://example.org/bare",
    ]
    assert out.count("<a ") == 3
    assert "class=x" in out
    assert ">bare</a>" in out


@pytest.mark.parametrize(
    "href",
    [
        "mailto:someone@example.com",
        "#top",
        "tel:+123",
        "/relative/path",
        "ftp://example.org/file",
        "javascript:alert(1)",
        f"{BASE}/u/already-ours",
    ],
)
def test_other_links_are_left_alone(href):
    source = f'<a href="{href}">x</a>'
    out = ON.html(source, RCPT)
    assert out.startswith(source)
    assert clicks(out) == []


def test_unsubscribe_link_is_not_click_tracked():
    out = ON.html('<a href="%unsubscribe_url%">x</a>', RCPT)
    assert clicks(out) == []
    assert [t.kind for t in tokens(out, "u")] == [TokenKind.UNSUBSCRIBE]


def test_link_whitespace_and_non_ascii_are_cleaned_before_signing():
    out = replace(ON, opens=False).html('<a href="  https://example.org/ü a\n">x</a>', RCPT)
    assert clicks(out) == ["https://example.org/%C3%BC%20a"]


def test_links_inside_scripts_and_comments_are_not_touched():
    source = (
        "<!-- <a href='http://c.example'> --><script>x = \"<a href='http://s.example'>\";"
        "</script><a href='http://real.example'>r</a>"
    )
    out = replace(ON, opens=False).html(source, RCPT)
    assert clicks(out) == ["http://real.example"]
    assert "http://c.example" in out
    assert "http://s.example" in out


def test_rest_of_the_document_is_kept_byte_for_byte():
    source = (
        "<!DOCTYPE html>\r\n<html><head><style>a{color:red}</style></head>\r\n"
        '<body class="b">&copy; &amp; caf\u00e9 <a  href = "https://e.org"  id=l >x</a>\r\n'
        "<img src=cid:logo.png></body></html>"
    )
    out = replace(ON, opens=False).html(source, RCPT)
    [url] = re.findall(r'"(https://track[^"]+)"', out)
    assert out == source.replace('"https://e.org"', f'"{url}"')


def test_output_parses_to_the_same_structure():
    source = '<div><a href="https://e.org/1">1</a><br/><a name=x>n</a></div>'
    out = ON.html(source, RCPT)

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags = []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)

    before, after = Tags(), Tags()
    before.feed(source)
    after.feed(out)
    assert after.tags == [*before.tags, "img"]  # plus the pixel, nothing else


# --- pixel, footers, placeholders --------------------------------------------------------------


def test_pixel_goes_before_body_end_or_at_the_top():
    source = "<html><body><p>hi</p></body></html>"
    bottom = replace(ON, clicks=False).html(source, RCPT)
    assert re.search(
        r'<p>hi</p><img src="https://track\.example\.com/o/[^"]+"[^>]*/></body>', bottom
    )
    top = replace(ON, clicks=False, opens_at_top=True).html(source, RCPT)
    assert re.search(r'<body><img src="https://track\.example\.com/o/', top)
    [token] = tokens(bottom, "o")
    assert token == Token(TokenKind.OPEN, "example.com", "key123", RCPT)


def test_pixel_is_appended_to_html_without_body():
    out = replace(ON, clicks=False).html("just text", RCPT)
    assert out.startswith("just text<img src=")


def test_nothing_on_leaves_html_as_written():
    source = '<a href="https://e.org">x</a>'
    assert replace(ON, opens=False, clicks=False).html(source, RCPT) == source


def test_text_part_links_are_untouched():
    text = "Visit https://example.org/page and <https://example.org/x>"
    assert ON.text(text, RCPT) == text


def test_unsubscribe_placeholders_and_footers():
    tracking = replace(
        ON,
        opens=False,
        clicks=True,
        unsubscribes=True,
        html_footer='<p><a href="%unsubscribe_url%">unsubscribe</a></p>',
        text_footer="\nLeave: %unsubscribe_url%\n",
    )
    out_html = tracking.html('<body><a href="%tag_unsubscribe_url%">tags</a></body>', RCPT)
    [tag_token] = tokens(out_html, "u")[:1]
    assert tag_token.kind == TokenKind.TAG_UNSUBSCRIBE
    assert tag_token.tags == ["news", "weekly"]
    assert tokens(out_html, "u")[1].kind == TokenKind.UNSUBSCRIBE  # the footer's, not tracked
    assert clicks(out_html) == []
    out_text = tracking.text("Bye %unsubscribe_url%", RCPT)
    assert [t.kind for t in tokens(out_text, "u")] == [TokenKind.UNSUBSCRIBE] * 2


def test_tag_unsubscribe_without_tags_is_a_full_unsubscribe():
    out = replace(ON, tags=()).text("%tag_unsubscribe_url%", RCPT)
    assert [t.kind for t in tokens(out, "u")] == [TokenKind.UNSUBSCRIBE]


def test_list_unsubscribe_headers_only_when_unsubscribes_are_on():
    assert ON.headers(RCPT) == []
    headers = dict(replace(ON, unsubscribes=True).headers(RCPT))
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [token] = tokens(headers["List-Unsubscribe"], "u")
    assert headers["List-Unsubscribe"] == f"<{BASE}/u/{sign(KEY, token)}>"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"kind": "form", "html": "<p>x</p>", "text": "x"}, True),
        ({"kind": "form", "html": None, "text": "plain"}, False),
        ({"kind": "form", "html": None, "text": "bye %unsubscribe_url%"}, True),
        ({"kind": "mime", "raw": 0}, False),
        # a template send: its HTML is the pinned version's content
        ({"kind": "form", "html": None, "text": None, "template": {"content": "<p/>"}}, True),
        ({"kind": "form", "html": None, "text": None, "template": None}, False),
    ],
)
def test_applies_to(spec, expected):
    assert ON.applies_to(spec) is expected


def test_unsubscribes_make_every_message_personal():
    assert replace(ON, unsubscribes=True).applies_to({"kind": "mime", "raw": 0})


# --- settings and options ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "options", "expected"),
    [
        (DomainTracking(), {}, (False, False)),
        (DomainTracking(opens=True, clicks="yes"), {}, (True, True)),
        (DomainTracking(clicks="htmlonly"), {}, (False, True)),
        (DomainTracking(), {"tracking": True}, (True, True)),
        (DomainTracking(opens=True, clicks="yes"), {"tracking": False}, (False, False)),
        (DomainTracking(), {"tracking": True, "tracking-opens": False}, (False, True)),
        (DomainTracking(opens=True), {"tracking-clicks": "htmlonly"}, (True, True)),
        (DomainTracking(clicks="yes"), {"tracking": True, "tracking-clicks": "no"}, (True, False)),
    ],
)
def test_resolve(domain, options, expected):
    assert resolve(domain, options) == expected


@pytest.mark.parametrize(
    ("given", "cleaned"),
    [
        ("https://e.org/a", "https://e.org/a"),
        ("\t https://e.org/a \n", "https://e.org/a"),
        ("https://e.org/a\r\nb", "https://e.org/ab"),
        ("https://e.org/ä", "https://e.org/%C3%A4"),
    ],
)
def test_clean_url(given, cleaned):
    assert clean_url(given) == cleaned
