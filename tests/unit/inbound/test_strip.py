import tomllib
from pathlib import Path

import pytest

from mailwright.inbound.parse import parse_inbound
from mailwright.inbound.strip import Stripped, mark_lines, strip_html, strip_reply

REPLIES = Path(__file__).parents[2] / "fixtures" / "inbound" / "replies"
EXPECTED = tomllib.loads((REPLIES / "expected.toml").read_text())
LONG_LINE = (
    "Hello,\n\nThanks for all the detailed feedback on the proposal, I will rework section two"
    " today."
)
INLINE_REPLY = (
    "On Mon, 1 Jan 2024, Alice <a@example.org> wrote:\n> one\n> two\nmy answer\n> three\n> four"
)
FORWARD = "---------- Forwarded message ---------\nFrom: Alice <a@example.org>\nDate: Mon\n\nbody"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_client_replies(name):
    expected = EXPECTED[name]
    message = parse_inbound((REPLIES / f"{name}.eml").read_bytes())
    assert message.stripped_text == expected["stripped_text"]
    assert message.stripped_signature == expected["stripped_signature"]
    for kept in expected.get("html_keeps", []):
        assert kept in message.stripped_html
    for dropped in expected.get("html_drops", []):
        assert dropped in message.body_html
        assert dropped not in message.stripped_html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # no quotation, no signature
        ("Just a note.", Stripped("Just a note.", "")),
        # German Apple Mail / Gmail attribution
        (
            "Passt.\n\nAm 12.03.2024 um 09:41 schrieb Alice Example <alice@example.org>:\n\n"
            "> Passt Donnerstag?",
            Stripped("Passt.", ""),
        ),
        # Dutch
        (
            "Prima.\n\nOp di 12 mrt 2024 om 09:41 schreef Alice <alice@example.org>:\n> Goed?",
            Stripped("Prima.", ""),
        ),
        # Spanish Outlook header block
        (
            "Perfecto.\n\nDe: Alice <alice@example.org>\n"
            "Enviado: martes, 12 de marzo de 2024 9:41\n"
            "Para: Bob <bob@example.org>\nAsunto: Reunión\n\n¿Nos vemos?",
            Stripped("Perfecto.", ""),
        ),
        # French Outlook header block, with the space before the colon
        (
            "Très bien.\n\nDe : Alice <alice@example.org>\nEnvoyé : mardi 12 mars 2024 09:41\n"
            "À : Bob\nObjet : Réunion\n\nOn se voit ?",
            Stripped("Très bien.", ""),
        ),
        ("Ok\n\n-----Original Message-----\nFrom: a@b.c\n\nold", Stripped("Ok", "")),
        # the "-- " delimiter
        (
            "Hey man! How r u?\n\n-- \nRegards,\nRoman",
            Stripped("Hey man! How r u?", "-- \nRegards,\nRoman"),
        ),
        # phone signatures, localised
        (
            "Bin gleich da.\n\nVon meinem iPhone gesendet",
            Stripped("Bin gleich da.", "Von meinem iPhone gesendet"),
        ),
        ("J'arrive.\n\nEnvoyé de mon iPhone", Stripped("J'arrive.", "Envoyé de mon iPhone")),
        ("See you.\n\nGet Outlook for iOS", Stripped("See you.", "Get Outlook for iOS")),
        # a closing right under the first line is still the signature; the first line never is
        ("Thanks!", Stripped("Thanks!", "")),
        ("Done.\nCheers,\nAnn", Stripped("Done.", "Cheers,\nAnn")),
        # a long last line is body text, not a signature
        (
            LONG_LINE,
            Stripped(
                LONG_LINE,
                "",
            ),
        ),
        # one or two lines starting with ">" are not a quotation
        (
            "See below\n> this is important\nright?",
            Stripped("See below\n> this is important\nright?", ""),
        ),
        # a reply written between quoted lines is kept whole
        (
            INLINE_REPLY,
            Stripped(
                INLINE_REPLY,
                "",
            ),
        ),
        # a forward is not a quotation
        (
            FORWARD,
            Stripped(
                FORWARD,
                "",
            ),
        ),
        # "On" and "sent" in ordinary text do not make a splitter
        (
            "On Monday I sent the report\nto the team.\n\nBob",
            Stripped("On Monday I sent the report\nto the team.\n\nBob", ""),
        ),
        # a "From:" line alone is text
        (
            "From: the start, this was fine.\nBob",
            Stripped("From: the start, this was fine.\nBob", ""),
        ),
        (
            "Hi\r\n\r\nOn Mon, Jan 1, 2024 at 9:00 AM Bob <b@x.org> wrote:\r\n> a\r\n> b",
            Stripped("Hi", ""),
        ),
        ("", Stripped("", "")),
        # a dashed closing is a signature; a dashed list above the closing is body text
        ("See you there.\n-Bob", Stripped("See you there.", "-Bob")),
        (
            "To bring:\n- tent\n- stove\nThanks,\nAnn",
            Stripped("To bring:\n- tent\n- stove", "Thanks,\nAnn"),
        ),
    ],
)
def test_strip_reply(text, expected):
    assert strip_reply(text) == expected


def test_mark_lines():
    lines = ["answer", "On Mon, 1 Jan 2024, Bob <b@x.org>", "wrote:", "", "> question", "text"]
    assert mark_lines(lines) == "tssemt"


def test_long_bodies_strip_in_linear_time():
    # talon's nested repeats backtrack exponentially on markers like "m e t...t e" with no
    # closing "m"; pytest-timeout fails this test if that comes back
    text = "> a\n> b\n\n" + "text\n" * 400 + "\nend"
    assert strip_reply(text).text.endswith("end")


@pytest.mark.parametrize(
    ("html", "keeps", "drops"),
    [
        (
            '<div>Yes</div><blockquote type="cite"><div>old</div></blockquote>',
            ["<div>Yes</div>"],
            ["old", "blockquote"],
        ),
        # nested blockquotes: the outermost one goes
        (
            "<p>New</p><blockquote>q1<blockquote>q2</blockquote></blockquote>",
            ["<p>New</p>"],
            ["q1", "q2"],
        ),
        # only a quotation: stripping would leave nothing readable, so nothing is stripped
        ("<blockquote>only quoted</blockquote>", ["only quoted"], []),
        # entities and comments survive as written
        ("<p>a &amp; b &#169;<!-- c --></p>", ["<p>a &amp; b &#169;<!-- c --></p>"], []),
    ],
)
def test_strip_html(html, keeps, drops):
    stripped = strip_html(html)
    for kept in keeps:
        assert kept in stripped
    for dropped in drops:
        assert dropped not in stripped


def test_strip_html_without_quotation_is_unchanged():
    html = "<html><body><p>Plain <b>note</b> <img src='x.png'>\n</p></body></html>"
    assert strip_html(html) == html


def test_strip_html_of_unbalanced_markup():
    assert "hello" in strip_html("<div><p>hello<div></span></b>")


def test_lines_past_the_searched_ones_are_kept_or_cut_with_the_quotation():
    body = "answer\n" + "more text\n" * 1200 + "last line"
    assert strip_reply(body).text.endswith("last line")
    quoted = "answer\n\nOn Mon, 1 Jan 2024, Bob <b@x.org> wrote:\n" + "> old\n" * 1200
    assert strip_reply(quoted).text == "answer"


def test_deeply_nested_html_is_returned_unstripped():
    html = "<div>" * 5000 + "deep<blockquote>q</blockquote>" + "</div>" * 5000
    assert strip_html(html) == html


def test_gmail_forward_is_content_not_a_quotation():
    html = (
        '<div dir="ltr">FYI<br><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
        "---------- Forwarded message ---------<br>From: Carol &lt;c@example.org&gt;<br>"
        "</div><div>the forwarded text</div></div></div>"
    )
    assert strip_html(html) == html


def test_outlook_for_mac_section_is_cut():
    html = (
        "<div>Sure.</div><div><br></div>"
        '<span id="OLK_SRC_BODY_SECTION"><div><b>From: </b>Alice</div></span><div>old</div>'
    )
    assert strip_html(html) == "<div>Sure.</div><div><br></div>"
