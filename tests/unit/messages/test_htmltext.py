"""``t:text=yes``: the plain-text part made from rendered HTML."""

from __future__ import annotations

import pytest

from mailwright.messages.htmltext import html_to_text

CASES = [
    ("<p>Hello <b>Ann</b></p>", "Hello Ann\n"),
    ("<p>One</p><p>Two</p>", "One\n\nTwo\n"),
    ("a<br>b<br/>c", "a\nb\nc\n"),
    ("<html><head><title>T</title><style>p{}</style></head><body>Hi</body></html>", "Hi\n"),
    ("<script>var x=1;</script>text", "text\n"),
    ('<a href="https://x.test/a">Shop</a>', "Shop (https://x.test/a)\n"),
    ('<a href="https://x.test/">https://x.test/</a>', "https://x.test/\n"),
    ('<a href="#top">Top</a>', "Top\n"),
    ("<ul><li>one</li><li>two</li></ul>", "- one\n- two\n"),
    ("<table><tr><td>a</td><td>b</td></tr></table>", "a b\n"),
    ("Fish &amp; chips&nbsp;&lt;3", "Fish & chips <3\n"),
    ("  lots   of\n\n  space  ", "lots of space\n"),
    ("<div>a</div>\n\n\n<div>b</div>", "a\nb\n"),
]


@pytest.mark.parametrize(("html", "text"), CASES)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text
