"""Quoted-reply and signature stripping for Mailgun's ``stripped-text``, ``stripped-signature``
and ``stripped-html`` inbound fields; pure, no I/O.

Mailgun computes these with its own ``talon`` library. We reimplement talon's published
brute-force algorithm on the stdlib instead of depending on a library. Measured on the client
samples in ``tests/fixtures/inbound/replies`` (plain-text bodies):

- ``mail-parser-reply`` (1.36) is the closest: 9/9 stripped texts right, 7/9 signatures (for
  the German and French samples the signature runs on into the quoted header block). But it
  strips every line (indentation in the reply is lost), has no HTML support and no type
  information, and returns strings only: ``stripped-html`` needs to know which text lines the
  algorithm removed so that it can remove their HTML nodes, which no library exposes.
- ``quotequail`` (0.5.4, needs lxml) finds quotations but no signatures, and keeps the
  "On ... wrote:" or "From:" header in the reply (2/9 clean).
- ``email-reply-parser`` (0.5.12, last release 2020) is English-only and does not separate
  the signature (7/9 with the signature left in the text).
- ``talon`` (1.4.4, 2017) is unmaintained and pulls in lxml, cssselect, chardet, numpy, scipy
  and scikit-learn for a signature classifier we would not use.

Plain text (talon's ``extract_from_plain`` then ``bruteforce.extract_signature``):

1. Each line gets a marker: ``e`` empty, ``m`` starts with ``>``, ``f`` a "Forwarded message"
   banner, ``s`` a splitter (an attribution such as "On <date>, <who> wrote:" over up to three
   lines and its French, German, Dutch, Scandinavian, Polish, Spanish and Italian forms;
   "-----Original Message-----" and its translations; an Outlook header block, i.e. a
   "From:" line followed within four lines by "Sent:"/"To:"/"Subject:" or a translation),
   ``t`` any other text.
2. The marker string is matched as talon does: quote markers without a splitter and fewer than
   three quoted lines are text; a reply interleaved with quotes (``m t m``) is kept whole; a
   splitter followed by text cuts everything from the splitter on; otherwise the quotation is a
   splitter or two or more ``m`` lines running to the last ``m`` (``(s|(me*){2,}).*me*`` followed
   only by text), removed in place.
3. The signature is searched in what is left: a phone signature ("Sent from my iPhone",
   "Von meinem iPhone gesendet", "Envoyé de mon iPhone", "Get Outlook for iOS") cuts to the
   end; then among the last 11 non-empty lines, never the first one, the trailing run of short
   lines (at most 60 characters; at most one line starting with a dash) is searched for a
   "-- " delimiter or a closing ("Thanks", "Regards", "Best ...", "Cheers", "Mit freundlichen
   Grüßen", "Cordialement", ...), and the signature runs from there to the end.

HTML (talon's ``extract_from_html``): the document is read into a small tree and the quotation
elements are cut (Gmail's ``gmail_quote`` unless it holds a forward, Yahoo's ``yahoo_quoted``;
Outlook's ``divRplyFwdMsg``/``appendonsend``/``OLK_SRC_BODY_SECTION`` and its bordered header
``div`` together with everything after them; else the last outermost ``blockquote``); then the
plain-text algorithm runs on the text of what is left and every text node on a removed line goes
too (the attribution line before an Apple Mail or Thunderbird ``blockquote``; Thunderbird may
put the reply itself inside its ``moz-cite-prefix`` div, so that div is not cut whole). Markup
that is not cut is written back as it came.

Where we differ from talon, on purpose: an attribution must end with a colon and a "From:"
line counts only when another header line follows it (talon takes "On Monday I sent..." or a
lone "From: ..." line as a splitter); the repeats talon nests in its marker patterns are written
flat (they backtrack exponentially on long text); lines past the first 1000 are kept rather than
dropped; an attribution that follows text on the same line is not split off.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from itertools import pairwise

__all__ = ["Stripped", "strip_html", "strip_reply"]

MAX_LINES = 1000  # talon: only the first lines are searched, the rest costs too much
MAX_HTML_DEPTH = 256  # deeper markup is returned unstripped (the tree walks recurse)
SPLITTER_MAX_LINES = 4
SIGNATURE_MAX_LINES = 11
SIGNATURE_MAX_LINE_LENGTH = 60


@dataclass(frozen=True, slots=True)
class Stripped:
    text: str
    signature: str


_QUOTE_LINE = re.compile(r">")
_FORWARDED = re.compile(
    r"\s*(?:-+\s*(?:Forwarded message|Weitergeleitete Nachricht|Message transféré)\s*-+"
    r"|Begin forwarded message:|Anfang der weitergeleiteten Nachricht:"
    r"|Début du message réexpédié\s?:)\s*$",
    re.IGNORECASE,
)
_ON_DATE_WROTE = re.compile(
    r"[-> ]*(?:On|Le|Am|Op|W dniu|På|Den|El|Il|Em)\s[^\n]*(?:\n[^\n]*){0,2}?"
    r"(?:wrote|sent|a\s+écrit|schrieb|schreef|geschreven|skrev|napisał|escribió|ha scritto"
    r"|escreveu)\b[^\n]*:[ \t]*-*[ \t]*(?:\n|$)",
    re.IGNORECASE,
)
_ORIGINAL_MESSAGE = re.compile(
    r"\s*-{2,}\s*(?:Original Message|Reply Message|Ursprüngliche Nachricht|Antwort Nachricht"
    r"|Oprindelig meddelelse|Message d'origine|Mensaje original|Messaggio originale"
    r"|Oorspronkelijk bericht|Originalmeddelande)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_DATED_ADDRESS = re.compile(
    r"\s*(?:\d{4}-\d{2}-\d{2}\s+\d{1,2}:\d{2}|\d{1,2}[./]\d{1,2}[./]\d{2,4}\s+\d{1,2}:\d{2})"
    r"[^\n]*(?:\n[^\n]*){0,2}?@[^\n]*:[ \t]*(?:\n|$)"
)
_HEADER_FROM = re.compile(r"\s*\*?(?:From|Von|De|Van|Fra|Från|Da|Od|Från)\s?:\*?\s*\S", re.I)
_HEADER_OTHER = re.compile(
    r"\s*\*?(?:Sent|Date|To|Subject|Cc|Gesendet|Datum|An|Betreff|Envoyé|À|A|Objet|Verzonden"
    r"|Aan|Onderwerp|Enviado|Para|Asunto|Inviato|Oggetto|Skickat|Till|Ämne|Sendt|Til|Emne)"
    r"\s?:",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"\s*_{10,}\s*$")

_PHONE_SIGNATURE = re.compile(
    r"^[ \t]*(?:Sent from my [\w ,!]*|Sent from Mailbox for iPhone.*|Sent (?:\S* )?from my "
    r"BlackBerry.*|Enviado desde mi (?:\S+ ){0,2}BlackBerry.*|Get Outlook for (?:iOS|Android).*"
    r"|Von meinem (?:\S+ ){0,2}gesendet\.?|Envoyé de mon (?:\S+ ?){1,3}|Envoyé depuis mon \S+.*"
    r"|Enviado desde mi (?:\S+ ?){1,3}|Inviato da[l]? (?:mio )?\S+.*)[ \t]*$.*",
    re.IGNORECASE | re.MULTILINE | re.DOTALL,
)
_SIGNATURE_START = re.compile(
    r"^(?:[ \t]*-+[ \t]*[a-z .]*|[ \t]*—+[ \t]*|thanks[\sa-z]*[\s,!.]*|regards[\sa-z]*[\s,!]*"
    r"|kind\sregards[\sa-z]*[\s,!]*|take\scare[\sa-z]*[\s,!]*|cheers[\sa-z]*[\s,!]*"
    r"|sincerely[\sa-z]*[\s,!]*|best[ a-z]*[\s,!]*|ihre?[\s,!]*|deine?[\s,!]*"
    r"|mit[a-z\s]*grüßen[\sa-z]*[\s,!]*|[a-zäöüß\s]*\sgrüße[\sa-z]*[\s,!]*|viele\sgrüße[\s,!]*"
    r"|vielen\sdank[\s,!]*|danke[\sa-zäöüß]*[\s,!]*|grüße[\s,!]*|cordialement[\s,!.]*"
    r"|bien\scordialement[\s,!.]*|bien\sà\svous[\s,!.]*|amitiés[\s,!.]*|merci[\sa-zé]*[\s,!.]*"
    r"|salutations[\sa-zé]*[\s,!.]*)$.*",
    re.IGNORECASE | re.MULTILINE | re.DOTALL,
)


def strip_reply(text: str) -> Stripped:
    """The reply without quoted parts and without its signature, and the signature (or "")."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    head, tail = lines[:MAX_LINES], lines[MAX_LINES:]
    kept, removed = _cut_quotation(head)
    if removed and removed.stop == len(head):
        tail = []  # the quotation runs past the searched lines: it runs to the end
    return _split_signature("\n".join(kept + tail).strip())


def mark_lines(lines: list[str]) -> str:
    """One marker per line: ``e`` empty, ``m`` quoted, ``f`` forwarded, ``s`` splitter, ``t`` text.

    >>> mark_lines(["answer", "On Mon, 1 Jan 2024, Bob <b@x.org> wrote:", "", "> question"])
    'tsem'
    """
    markers: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        splitter = 0 if _QUOTE_LINE.match(line) else _splitter_lines(lines, index)
        if not line.strip():
            markers.append("e")
        elif _QUOTE_LINE.match(line):
            markers.append("m")
        elif _FORWARDED.match(line):
            markers.append("f")
        elif splitter:
            markers.extend("s" * splitter)
            index += splitter
            continue
        else:
            markers.append("t")
        index += 1
    return "".join(markers)[: len(lines)]


def _splitter_lines(lines: list[str], index: int) -> int:
    """How many lines the splitter starting at ``lines[index]`` spans; 0 when it is none."""
    window = "\n".join(lines[index : index + SPLITTER_MAX_LINES])
    for pattern in (_ON_DATE_WROTE, _DATED_ADDRESS):
        found = pattern.match(window)
        if found:
            return found.group().rstrip("\n").count("\n") + 1
    line = lines[index]
    if _ORIGINAL_MESSAGE.match(line):
        return 1
    following = lines[index + 1 : index + 1 + SPLITTER_MAX_LINES]
    if _HEADER_FROM.match(line) and any(_HEADER_OTHER.match(other) for other in following):
        return 1
    if _UNDERSCORES.match(line) and following and _HEADER_FROM.match(following[0]):
        return 1
    return 0


_QUOTATION = re.compile(r"((?:s|(?:me*){2,}).*me*)[te]*$")
_EMPTY_QUOTATION = re.compile(r"((?:(?:se*)+|(?:me*){2,}))e*")
# talon writes these two as "(?<=m)e*((?:t+e*)+)m" and "(?:se*)+(?:[tf]+e*)+"; the nested
# repeats backtrack exponentially on a long run of text lines, so they are written flat here.
_INLINE_REPLY = re.compile(r"(?<=m)e*t[te]*m")
_SPLITTER_THEN_TEXT = re.compile(r"s[se]*[tf]")


def _cut_quotation(lines: list[str]) -> tuple[list[str], range]:
    """The lines outside the quotation, and the indexes of the lines removed."""
    markers = mark_lines(lines)
    if "s" not in markers and not re.search(r"(?:me*){3}", markers):
        markers = markers.replace("m", "t")  # a line or two starting with ">" is not a quote
    if re.match(r"[te]*f", markers) or _INLINE_REPLY.search(markers):
        return lines, range(0)  # a forward, or a reply written between the quoted lines
    found = _SPLITTER_THEN_TEXT.search(markers)
    if found:
        return lines[: found.start()], range(found.start(), len(lines))
    found = _QUOTATION.search(markers) or _EMPTY_QUOTATION.search(markers)
    if found:
        start, end = found.start(1), found.end(1)
        return lines[:start] + lines[end:], range(start, end)
    return lines, range(0)


def _split_signature(body: str) -> Stripped:
    phone = _PHONE_SIGNATURE.search(body)
    phone_signature = phone.group().strip() if phone else ""
    if phone:
        body = body[: phone.start()].rstrip()
    lines = body.split("\n")
    start = _signature_candidate(lines)
    signature = _SIGNATURE_START.search("\n".join(lines[start:])) if start is not None else None
    if signature is None:
        return Stripped(body.strip(), phone_signature)
    text = body[: len(body) - len(signature.group())]
    found = "\n".join(part for part in (signature.group().strip(), phone_signature) if part)
    return Stripped(text.strip(), found)


def _signature_candidate(lines: list[str]) -> int | None:
    """Index of the first line that may belong to a signature: among the last
    ``SIGNATURE_MAX_LINES`` non-empty lines but never the first one, the trailing run of short
    lines, ending at the first line that starts with a dash (a "-Bob" closing) unless the line
    above starts with one too (then both are list items, body text)."""
    non_empty = [index for index, line in enumerate(lines) if line.strip()]
    candidate = non_empty[1:][-SIGNATURE_MAX_LINES:]
    taken: list[int] = []
    for position in range(len(candidate) - 1, -1, -1):
        line = lines[candidate[position]].strip()
        if len(line) > SIGNATURE_MAX_LINE_LENGTH:
            break
        if _is_dashed(line):
            if position == 0 or not _is_dashed(lines[candidate[position - 1]].strip()):
                taken.append(candidate[position])
            break
        taken.append(candidate[position])
    return taken[-1] if taken else None


def _is_dashed(line: str) -> bool:
    return line.startswith("-") and bool(line.strip("-"))


# --- HTML ------------------------------------------------------------------------------------

_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
_BLOCKS = frozenset(
    {
        "p", "div", "table", "tr", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
        "blockquote", "pre", "section", "article", "header", "footer", "hr", "body", "center",
    }
)  # fmt: skip
_OUTLOOK_BORDER = re.compile(r"border-top:\s*solid\s+#(?:B5C4DF|E1E1E1)", re.IGNORECASE)
# Outlook on the web and new Outlook ("appendonsend", "divRplyFwdMsg"), Outlook for Mac
_QUOTE_IDS_TO_END = ("appendonsend", "divRplyFwdMsg", "OLK_SRC_BODY_SECTION")


@dataclass(eq=False, slots=True)
class _Node:
    tag: str  # "" for text, "#raw" for comments, doctypes and entity references
    raw: str = ""  # the start tag as written, or the text
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[_Node] = field(default_factory=list)
    closed: bool = False

    def render(self) -> str:
        if self.tag in ("", "#raw"):
            return self.raw
        inner = "".join(child.render() for child in self.children)
        end = f"</{self.tag}>" if self.closed else ""
        return self.raw + inner + end


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.root = _Node("#root")
        self.stack = [self.root]
        self.depth = 0  # the deepest nesting seen

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = _Node(tag, self.get_starttag_text() or f"<{tag}>", _attrs(attrs))
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)
            self.depth = max(self.depth, len(self.stack))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(
            _Node(tag, self.get_starttag_text() or f"<{tag}/>", _attrs(attrs))
        )

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                self.stack[depth].closed = True
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(_Node("", data))

    def handle_entityref(self, name: str) -> None:
        self.stack[-1].children.append(_Node("#raw", f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.stack[-1].children.append(_Node("#raw", f"&#{name};"))

    def handle_comment(self, data: str) -> None:
        self.stack[-1].children.append(_Node("#raw", f"<!--{data}-->"))

    def handle_decl(self, decl: str) -> None:
        self.stack[-1].children.append(_Node("#raw", f"<!{decl}>"))

    def handle_pi(self, data: str) -> None:
        self.stack[-1].children.append(_Node("#raw", f"<?{data}>"))

    def unknown_decl(self, data: str) -> None:
        self.stack[-1].children.append(_Node("#raw", f"<![{data}]>"))


def _attrs(attrs: list[tuple[str, str | None]]) -> dict[str, str]:
    return {name: value or "" for name, value in attrs}


def strip_html(html: str) -> str:
    """``html`` without the quoted message; returned unchanged when nothing is found to cut,
    when cutting would leave no readable text, or when the markup nests deeper than
    ``MAX_HTML_DEPTH``."""
    if not html.strip():
        return html
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    if builder.depth > MAX_HTML_DEPTH:
        return html
    root = builder.root
    has_cut = _cut_quote_elements(root)
    has_cut = _cut_quoted_lines(root) or has_cut
    if not has_cut:
        return html
    stripped = root.render()
    return stripped if _readable(root) else html


def _cut_quote_elements(root: _Node) -> bool:
    """Remove the quotation elements of known clients; True when something was removed."""
    for parent, index, node in _walk(root):
        if _is_quote_container(node):
            del parent.children[index]
            return True
        if node.attrs.get("id") in _QUOTE_IDS_TO_END or _is_outlook_header(node):
            _cut_to_end(root, node)
            return True
    blockquotes = [
        (parent, node)
        for parent, _, node in _walk(root, into=_not_blockquote)
        if node.tag == "blockquote"
    ]
    if blockquotes:
        parent, node = blockquotes[-1]
        parent.children.remove(node)
        return True
    return False


def _is_quote_container(node: _Node) -> bool:
    """Gmail's ``gmail_quote`` (unless it holds a forward, which is content) or Yahoo's
    ``yahoo_quoted`` (its class carries a per-message prefix: ``ydp1a2b3cyahoo_quoted``)."""
    classes = node.attrs.get("class", "").split()
    if "gmail_quote" in classes:
        return not _FORWARDED.match(_first_text(node))
    return any(name.endswith("yahoo_quoted") for name in classes)


def _first_text(node: _Node) -> str:
    for _, _, child in _walk(node):
        if child.tag == "" and child.raw.strip():
            return child.raw
    return ""


def _is_outlook_header(node: _Node) -> bool:
    return node.tag == "div" and bool(_OUTLOOK_BORDER.search(node.attrs.get("style", "")))


def _not_blockquote(node: _Node) -> bool:
    return node.tag != "blockquote"


def _walk(
    node: _Node, into: Callable[[_Node], bool] | None = None
) -> list[tuple[_Node, int, _Node]]:
    """(parent, index, node) in document order; ``into`` decides whether to descend."""
    found: list[tuple[_Node, int, _Node]] = []
    for index, child in enumerate(node.children):
        found.append((node, index, child))
        if child.tag not in ("", "#raw") and (into is None or into(child)):
            found.extend(_walk(child, into))
    return found


def _cut_to_end(root: _Node, start: _Node) -> None:
    """Remove ``start`` and everything after it in the document (Outlook puts the quoted message
    in the siblings after its header block). A preceding ``<hr>`` goes too."""
    path = _path_to(root, start)
    assert path is not None
    for parent, child in reversed(list(pairwise(path))):
        index = parent.children.index(child)
        cut_from = index if child is start else index + 1
        if child is start and index and parent.children[index - 1].tag == "hr":
            cut_from -= 1
        del parent.children[cut_from:]


def _path_to(node: _Node, target: _Node) -> list[_Node] | None:
    if node is target:
        return [node]
    for child in node.children:
        path = _path_to(child, target)
        if path is not None:
            return [node, *path]
    return None


def _text_lines(root: _Node) -> list[list[_Node]]:
    """The text nodes on each line of the document as text (block elements and ``<br>`` end
    lines)."""
    lines: list[list[_Node]] = [[]]

    def visit(node: _Node) -> None:
        for child in node.children:
            if child.tag == "" or (child.tag == "#raw" and child.raw.startswith("&")):
                lines[-1].append(child)  # a line break in HTML source is a space
            elif child.tag in ("br", *_BLOCKS):
                lines.append([])
                visit(child)
                lines.append([])
            elif child.tag not in ("#raw", "script", "style", "head", "title"):
                visit(child)

    visit(root)
    return [line for line in lines if line]


def _cut_quoted_lines(root: _Node) -> bool:
    lines = _text_lines(root)
    texts = ["".join(_unescaped(node) for node in dict.fromkeys(line)) for line in lines]
    if len(texts) > MAX_LINES:
        return False
    _, removed = _cut_quotation(texts)
    doomed = {id(node) for index in removed for node in lines[index]}
    if not doomed:
        return False
    _remove_nodes(root, doomed)
    return True


def _unescaped(node: _Node) -> str:
    text = unescape(node.raw) if node.tag == "#raw" else node.raw
    return text.replace("\n", " ").replace("\u00a0", " ")


def _remove_nodes(node: _Node, doomed: set[int]) -> bool:
    """Drop the doomed text nodes and the elements left without text; True if ``node`` lost all
    its text."""
    had_text = False
    kept: list[_Node] = []
    for child in node.children:
        if id(child) in doomed:
            had_text = True
            continue
        if child.tag not in ("", "#raw") and _remove_nodes(child, doomed):
            had_text = True
            if not _has_content(child):
                continue
        kept.append(child)
    node.children = kept
    return had_text


def _has_content(node: _Node) -> bool:
    if node.tag == "":
        return bool(node.raw.strip())
    if node.tag == "img":
        return True
    return any(_has_content(child) for child in node.children)


def _readable(root: _Node) -> bool:
    return any(node.raw.strip() for _, _, node in _walk(root) if node.tag == "") or any(
        node.tag == "img" for _, _, node in _walk(root)
    )
