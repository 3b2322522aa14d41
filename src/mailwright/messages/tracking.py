"""Open/click tracking and unsubscribe links in one recipient's copy; pure, no I/O.

A tracked copy differs from the stored message in three places, all derived from the recipient,
the message and a secret key, so a retry renders the same bytes:

- every ``http(s)`` link in an ``<a href>`` of the HTML part becomes ``{base}/c/{token}``;
- a 1x1 pixel ``{base}/o/{token}`` is added to the HTML part (before ``</body>``, or after
  ``<body>`` when the domain asks for the top);
- ``%unsubscribe_url%`` and ``%tag_unsubscribe_url%`` become ``{base}/u/{token}``, the domain's
  unsubscribe footers are appended, and ``List-Unsubscribe`` / ``List-Unsubscribe-Post``
  (RFC 8058 one-click) headers are added.

A token is ``base64url(payload + mac)``: the payload names what it is for (open, click,
unsubscribe from everything or from the message's tags), the sending domain, the storage key,
the recipient and the link, and ``mac`` is the first 16 bytes of its HMAC-SHA256. The click
endpoint redirects only to the URL inside a token whose MAC checks, so it is no open redirect.
The text part's links are left as written; ``htmlonly`` click tracking is therefore the same
as ``yes``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

_VERSION = "1"
_MAC_BYTES = 16  # 128 bits of HMAC-SHA256: forging one is out of reach
_TAG_SEPARATOR = "\x1f"
UNSUBSCRIBE_PLACEHOLDERS = ("%unsubscribe_url%", "%tag_unsubscribe_url%")
LIST_UNSUBSCRIBE_PLACEHOLDER = "%mailing_list_unsubscribe_url%"
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058 3.1: the List-Unsubscribe-Post value
CLICK_MODES = ("yes", "no", "htmlonly")


class TokenKind(StrEnum):
    OPEN = "o"  # the open pixel
    CLICK = "c"  # a tracked link; ``value`` is the URL it leads to
    UNSUBSCRIBE = "u"  # unsubscribe from every message of the domain
    TAG_UNSUBSCRIBE = "t"  # unsubscribe from the message's tags; ``value`` holds them
    LIST_UNSUBSCRIBE = "l"  # unsubscribe from a mailing list; ``value`` is the list address


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    domain: str
    storage_key: str
    recipient: str
    value: str = ""

    @property
    def tags(self) -> list[str]:
        """The tags a tag unsubscribe applies to."""
        return [t for t in self.value.split(_TAG_SEPARATOR) if t]


def sign(key: bytes, token: Token) -> str:
    fields = (_VERSION, token.kind, token.domain, token.storage_key, token.recipient, token.value)
    payload = "\n".join(fields).encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.urlsafe_b64encode(payload + mac).rstrip(b"=").decode("ascii")


def verify(key: bytes, text: str) -> Token | None:
    """The token ``text`` encodes, or None when it is malformed or its MAC does not check."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    expected = hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]
    if len(raw) <= _MAC_BYTES or not hmac.compare_digest(mac, expected):
        return None
    try:
        fields = payload.decode().split("\n", 5)
    except UnicodeDecodeError:
        return None
    if len(fields) != 6 or fields[0] != _VERSION or fields[1] not in _KINDS:
        return None
    _, kind, domain, storage_key, recipient, value = fields
    return Token(TokenKind(kind), domain, storage_key, recipient, value)


_KINDS = frozenset(k.value for k in TokenKind)


# WHATWG URL parsing drops tabs and newlines anywhere and C0 controls/spaces at either end;
# the signed URL is what a browser would follow, made ASCII so it fits a Location header.
_URL_NOISE = re.compile(r"[\t\n\r]")
_UNSAFE = re.compile(r"[^\x21-\x7e]")


_C0_AND_SPACE = "".join(map(chr, range(0x21)))


def clean_url(url: str) -> str:
    stripped = _URL_NOISE.sub("", url).strip(_C0_AND_SPACE)
    return _UNSAFE.sub(lambda m: quote(m.group(0), safe=""), stripped)


def is_trackable(url: str) -> bool:
    """Only web links are tracked: not ``mailto:``, ``tel:``, ``#anchors`` or placeholders."""
    lowered = url.lower()
    return lowered.startswith(("http://", "https://")) and len(url) > len("https://")


# --- the HTML part ---------------------------------------------------------------------------

_ATTRIBUTE = re.compile(r"""([^\s/>=][^\s/=>]*)(\s*=\s*('[^']*'|"[^"]*"|[^\s>]*))?""")


@dataclass(frozen=True, slots=True)
class _Edit:
    start: int
    end: int
    text: str


class _Scanner(HTMLParser):
    """Finds the ``href`` values of ``<a>`` tags and where ``<body>`` starts and ends, as
    offsets into the source, so the document is edited in place and never re-serialised."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[int, int, str]] = []  # value span, unescaped URL
        self.body_start: int | None = None  # just after the <body ...> tag
        self.body_end: int | None = None  # at the last </body>
        self._lines = [0]
        for index, char in enumerate(source):
            if char == "\n":
                self._lines.append(index + 1)

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._lines[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raw = self.get_starttag_text() or ""
        if tag == "body" and self.body_start is None:
            self.body_start = self._offset() + len(raw)
        elif tag == "a":
            self._link(self._offset(), raw)

    def handle_endtag(self, tag: str) -> None:
        if tag == "body":
            self.body_end = self._offset()

    def _link(self, offset: int, raw: str) -> None:
        for match in _ATTRIBUTE.finditer(raw, 2):  # after "<a"
            if match.group(1).lower() != "href":
                continue
            if match.group(3) is None:
                return
            value = match.group(3)
            start, end = match.span(3)
            if value[:1] in ("'", '"'):
                value = value[1:-1]
            self.links.append((offset + start, offset + end, html.unescape(value)))
            return  # browsers follow the first href


def _scan(source: str) -> _Scanner:
    scanner = _Scanner(source)
    scanner.feed(source)
    scanner.close()
    return scanner


def _apply(source: str, edits: Sequence[_Edit]) -> str:
    out: list[str] = []
    at = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        out.append(source[at : edit.start])
        out.append(edit.text)
        at = edit.end
    out.append(source[at:])
    return "".join(out)


# --- per message and recipient ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DomainTracking:
    """A domain's tracking settings, as ``/v3/domains/{name}/tracking`` shows them."""

    opens: bool = False
    opens_at_top: bool = False
    clicks: str = "no"  # yes | no | htmlonly
    unsubscribes: bool = False
    html_footer: str = ""
    text_footer: str = ""


def resolve(domain: DomainTracking, options: Mapping[str, Any]) -> tuple[bool, bool]:
    """``(opens, clicks)`` for one message: ``o:tracking`` sets both, ``o:tracking-opens`` and
    ``o:tracking-clicks`` set one each and win over ``o:tracking``; absent options leave the
    domain's setting."""
    opens, clicks = domain.opens, domain.clicks != "no"
    if "tracking" in options:
        opens = clicks = bool(options["tracking"])
    if "tracking-opens" in options:
        opens = bool(options["tracking-opens"])
    if "tracking-clicks" in options:
        clicks = options["tracking-clicks"] != "no"
    return opens, clicks


class RawHeader(str):
    """A header value written as it is, never folded nor RFC 2047-encoded: a URL split into
    encoded words would no longer be a URL. ``email`` calls ``fold`` for values that carry
    a ``name`` (``email.policy.EmailPolicy.header_store_parse``)."""

    __slots__ = ("name",)

    def __new__(cls, name: str, value: str) -> RawHeader:
        made = super().__new__(cls, value)
        made.name = name
        return made

    name: str

    def fold(self, *, policy: Any) -> str:
        return f"{self.name}: {self}{policy.linesep}"


@dataclass(frozen=True, slots=True)
class Tracking:
    """What tracking does to one message; ``render`` asks it for each recipient's parts."""

    key: bytes
    base_url: str
    domain: str
    storage_key: str
    tags: tuple[str, ...] = ()
    opens: bool = False
    clicks: bool = False
    unsubscribes: bool = False
    opens_at_top: bool = False
    html_footer: str = ""
    text_footer: str = ""

    def applies_to(self, spec: Mapping[str, Any]) -> bool:
        """Whether each recipient's copy differs: then every recipient is rendered alone."""
        if self.unsubscribes or spec.get("lists"):
            return True
        if spec.get("kind") == "mime":
            return False
        # A template send's HTML is its pinned template version.
        html = spec.get("html") or (spec.get("template") or {}).get("content") or ""
        if (self.opens or self.clicks) and html:
            return True
        bodies = (html, spec.get("text") or "")
        return any(p in body for body in bodies for p in UNSUBSCRIBE_PLACEHOLDERS)

    def url(self, kind: TokenKind, recipient: str, value: str = "") -> str:
        token = Token(kind, self.domain, self.storage_key, recipient, value)
        return f"{self.base_url}/{_PATHS[kind]}/{sign(self.key, token)}"

    def unsubscribe_url(self, recipient: str) -> str:
        return self.url(TokenKind.UNSUBSCRIBE, recipient)

    def list_unsubscribe_url(self, recipient: str, list_address: str) -> str:
        return self.url(TokenKind.LIST_UNSUBSCRIBE, recipient, list_address)

    def tag_unsubscribe_url(self, recipient: str) -> str:
        if not self.tags:  # nothing to unsubscribe from but everything
            return self.unsubscribe_url(recipient)
        return self.url(TokenKind.TAG_UNSUBSCRIBE, recipient, _TAG_SEPARATOR.join(self.tags))

    def html(self, source: str, recipient: str) -> str:
        """The HTML part: links rewritten, footer and pixel added, placeholders replaced."""
        edits: list[_Edit] = []
        scanner = _scan(source) if self.clicks or self.opens or self.unsubscribes else None
        if scanner is not None and self.clicks:
            edits += self._links(scanner, recipient)
        if scanner is not None:
            edits += self._additions(scanner, len(source), recipient)
        rewritten = _apply(source, edits) if edits else source
        return self._placeholders(rewritten, recipient, escape=True)

    def text(self, source: str, recipient: str) -> str:
        if self.unsubscribes and self.text_footer:
            source = source + self.text_footer
        return self._placeholders(source, recipient, escape=False)

    def headers(self, recipient: str) -> list[tuple[str, RawHeader]]:
        """RFC 2369 ``List-Unsubscribe`` and RFC 8058 one-click, when unsubscribes are on."""
        if not self.unsubscribes:
            return []
        url = self.unsubscribe_url(recipient)
        return [
            ("List-Unsubscribe", RawHeader("List-Unsubscribe", f"<{url}>")),
            ("List-Unsubscribe-Post", RawHeader("List-Unsubscribe-Post", ONE_CLICK)),
        ]

    def list_headers(self, recipient: str, list_address: str) -> list[tuple[str, RawHeader]]:
        """``List-Unsubscribe`` (one-click) for a mailing list member's copy."""
        url = self.list_unsubscribe_url(recipient, list_address)
        return [
            ("List-Unsubscribe", RawHeader("List-Unsubscribe", f"<{url}>")),
            ("List-Unsubscribe-Post", RawHeader("List-Unsubscribe-Post", ONE_CLICK)),
        ]

    def _links(self, scanner: _Scanner, recipient: str) -> list[_Edit]:
        edits = []
        own = f"{self.base_url}/"
        for start, end, value in scanner.links:
            url = clean_url(value)
            if not is_trackable(url) or url.startswith(own):
                continue
            tracked = self.url(TokenKind.CLICK, recipient, url)
            edits.append(_Edit(start, end, f'"{html.escape(tracked, quote=True)}"'))
        return edits

    def _additions(self, scanner: _Scanner, length: int, recipient: str) -> list[_Edit]:
        end = scanner.body_end if scanner.body_end is not None else length
        edits = []
        if self.unsubscribes and self.html_footer:
            edits.append(_Edit(end, end, self.html_footer))
        if self.opens:
            pixel = _pixel(self.url(TokenKind.OPEN, recipient))
            if self.opens_at_top:
                top = scanner.body_start if scanner.body_start is not None else 0
                edits.append(_Edit(top, top, pixel))
            else:
                edits.append(_Edit(end, end, pixel))
        return edits

    def _placeholders(self, text: str, recipient: str, *, escape: bool) -> str:
        for placeholder, make in (
            ("%unsubscribe_url%", self.unsubscribe_url),
            ("%tag_unsubscribe_url%", self.tag_unsubscribe_url),
        ):
            if placeholder in text:
                url = make(recipient)
                text = text.replace(placeholder, html.escape(url, quote=True) if escape else url)
        return text


_PATHS = {
    TokenKind.OPEN: "o",
    TokenKind.CLICK: "c",
    TokenKind.UNSUBSCRIBE: "u",
    TokenKind.TAG_UNSUBSCRIBE: "u",
    TokenKind.LIST_UNSUBSCRIBE: "u",
}


def _pixel(url: str) -> str:
    return (
        f'<img src="{html.escape(url, quote=True)}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0" />'
    )
