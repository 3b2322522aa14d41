"""The plain-text alternative of an HTML body (``t:text=yes``); pure, no I/O.

Text content in document order; ``script``, ``style``, ``head`` and ``title`` dropped; block
elements and ``<br>`` end lines; a link whose text differs from its URL is written
``text (url)``; runs of spaces collapse and at most one blank line separates paragraphs.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["html_to_text"]

_SKIPPED = frozenset({"script", "style", "head", "title"})
_BLOCKS = frozenset(
    {
        "p", "div", "table", "tr", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
        "blockquote", "pre", "section", "article", "header", "footer", "hr", "body", "center",
    }
)  # fmt: skip
_PARAGRAPH = "\n\x00\n"  # a blank line; any other run of line breaks collapses to one
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skipping = 0
        self.links: list[tuple[str, int]] = []  # (href, chunk index where the link began)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag == "br":
            self.chunks.append("\n")
        elif tag in _BLOCKS:
            self.chunks.append(_PARAGRAPH if tag == "p" else "\n")
        elif tag in ("td", "th"):
            self.chunks.append(" ")
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.chunks)))
        if tag == "li":
            self.chunks.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.chunks.append(_PARAGRAPH if tag == "p" else "\n")
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = " ".join("".join(self.chunks[start:]).split())
            if href and not href.startswith("#") and label != href:
                self.chunks.append(f" ({href})" if label else href)

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.chunks.append(data.replace("\n", " "))


def html_to_text(html: str) -> str:
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    lines = [_SPACES.sub(" ", line).strip() for line in "".join(parser.chunks).split("\n")]
    kept: list[str] = []
    for line in lines:
        if line == "\x00":
            if kept and kept[-1]:
                kept.append("")
        elif line:
            kept.append(line.replace("\x00", ""))
    return "\n".join(kept).strip() + "\n"
