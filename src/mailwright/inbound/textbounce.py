"""Best-effort reading of bounces that are not RFC 3464 reports; pure, no I/O.

These are heuristics, kept apart from the standard parser in :mod:`mailwright.inbound.dsn` on
purpose. Each one recognises a generator by a sentence it always writes, then pulls the
recipients and reasons out of the text:

- qmail: ``Hi. This is the qmail-send program``, then ``<rcpt>:`` and the reason up to a blank
  line (Yahoo's ``Sorry, we were unable to deliver your message`` notices use the same layout);
- Exim: ``This message was created automatically by mail delivery software.``, then each
  address indented two spaces with its reason indented four (failures and delay warnings);
- old Exchange (5.5/2003): ``did not reach the following recipient(s)``, then
  ``<rcpt> on <date>`` and indented reason lines, with the original as ``message/rfc822``.

A message that matches none of these is not a bounce: an auto-reply or a human answer must
never suppress an address. The status is the first enhanced code (RFC 3463) in the reason,
else its reply code's class, else ``5.0.0`` for a failure and ``4.0.0`` for a delay.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import Message

from mailwright.inbound import reports
from mailwright.inbound.reports import Action, Bounce, BounceFormat, RecipientStatus

_QMAIL = re.compile(
    r"This is the qmail-send program"
    r"|Sorry, we were unable to deliver your message to the following address",
    re.I,
)
_EXIM = re.compile(r"This message was created automatically by mail delivery software", re.I)
_EXCHANGE = re.compile(
    r"did not reach the following recipient\(s\)"
    r"|did not reach some or all of the intended recipients",
    re.I,
)
# Where a plain-text bounce starts its copy of the original message.
_COPY = re.compile(
    r"^-{2,}\s*(?:Below this line is a copy of the message"
    r"|Enclosed are the original headers of the message"
    r"|This is a copy of the message"
    r"|Original message)[^\n]*\n",
    re.I | re.M,
)
_QMAIL_RECIPIENT = re.compile(
    r"^<([^<>\s@]+@[^<>\s]+)>:[ \t]*\n?(.*?)(?=^<[^<>\s@]+@[^<>\s]+>:|\n[ \t]*\n|\Z)",
    re.M | re.S,
)
_EXIM_DELAY = re.compile(r"has not yet been delivered", re.I)
_MAX_TEXT = 256 * 1024  # a notice is a few lines; never scan a huge body
_Found = list[tuple[str, Action, str | None]]
_Reader = Callable[[str], _Found]


def bounce_from(message: Message) -> Bounce | None:
    text = reports.text_body(message)[:_MAX_TEXT].replace("\r\n", "\n")
    copy = _COPY.search(text)
    notice = text[: copy.start()] if copy else text
    for pattern, format_, reader in _GENERATORS:
        if pattern.search(notice):
            return _bounce(message, format_, reader(notice), text[copy.end() :] if copy else None)
    return None


def _bounce(
    message: Message,
    format_: BounceFormat,
    found: _Found,
    copied: str | None,
) -> Bounce | None:
    if not found:  # recognised the generator but not its layout: trust X-Failed-Recipients
        failed = reports.addresses(reports.fields(message, "X-Failed-Recipients"))
        found = [(rcpt, Action.FAILED, None) for rcpt in failed]
    if not found:
        return None
    original = reports.returned_message(message)
    if original is None and copied:
        headers = reports.headers_from_text(copied)
        original = reports.original_from_headers(headers) if headers is not None else None
    return Bounce(
        format=format_,
        recipients=tuple(_status(rcpt, action, reason) for rcpt, action, reason in found),
        original=original,
        reporting_mta=None,
    )


def _status(recipient: str, action: Action, reason: str | None) -> RecipientStatus:
    fallback = "5.0.0" if action is Action.FAILED else "4.0.0"
    return RecipientStatus(
        recipient=recipient,
        original_recipient=None,
        action=action,
        status=reports.status_from(reason) or fallback,
        diagnostic=reason,
        remote_mta=None,
    )


def _qmail(notice: str) -> _Found:
    found = []
    for match in _QMAIL_RECIPIENT.finditer(notice):
        found.append((match[1], Action.FAILED, reports.clean(match[2]) or None))
    return found


def _exim(notice: str) -> _Found:
    action = Action.DELAYED if _EXIM_DELAY.search(notice) else Action.FAILED
    return _collect(_section(notice, 0, "address"), action, _exim_recipient)


def _exim_recipient(line: str) -> str | None:
    """The address of a line indented two spaces (the lines of its reason are indented four)."""
    return _address(line) if line.startswith("  ") and not line[2:3].isspace() else None


def _exchange(notice: str) -> _Found:
    start = _EXCHANGE.search(notice)
    lines = _section(notice, start.start() if start else 0, "recipient")
    return _collect(lines, Action.FAILED, _exchange_recipient)


def _exchange_recipient(line: str) -> str | None:
    """The address of a ``<rcpt> on <date>`` line (or a line holding only an address)."""
    tokens = line.split()
    if not tokens or (len(tokens) > 1 and tokens[1].lower() != "on"):
        return None
    return _address(tokens[0])


def _section(notice: str, start: int, word: str) -> list[str]:
    """The lines after the first line from ``start`` that mentions ``word`` and ends in ":"."""
    lines = notice[notice.rfind("\n", 0, start) + 1 :].split("\n")
    for index, line in enumerate(lines):
        if word in line.lower() and line.rstrip().endswith(":"):
            return lines[index + 1 :]
    return []


def _collect(lines: list[str], action: Action, starts: Callable[[str], str | None]) -> _Found:
    """Recipients at the lines where ``starts`` finds one, each with the lines after it as its
    reason, up to the next recipient or a line that is not indented."""
    found: _Found = []
    reason: list[str] = []
    for line in lines:
        recipient = starts(line)
        if recipient:
            _close(found, reason)
            found.append((recipient, action, None))
        elif found and line[:1].isspace():
            reason.append(line)
        elif found and line.strip():
            _close(found, reason)
    _close(found, reason)
    return found


def _close(found: _Found, reason: list[str]) -> None:
    """Attach the reason lines read so far to the last address found, once."""
    if found and reason and found[-1][2] is None:
        rcpt, action, _ = found[-1]
        found[-1] = (rcpt, action, reports.clean(" ".join(reason)) or None)
    reason.clear()


def _address(text: str) -> str | None:
    """The first word of ``text`` shaped like an address (RFC 5321 4.5.3.1.3: <= 254 octets)."""
    for token in text.split():
        candidate = token.strip("<>\"'(),.;:")
        local, _, domain = candidate.rpartition("@")
        if local and domain and "@" not in local and len(candidate) <= 254:
            return candidate
    return None


_GENERATORS: tuple[tuple[re.Pattern[str], BounceFormat, _Reader], ...] = (
    (_QMAIL, BounceFormat.QMAIL, _qmail),
    (_EXIM, BounceFormat.EXIM, _exim),
    (_EXCHANGE, BounceFormat.EXCHANGE, _exchange),
)
