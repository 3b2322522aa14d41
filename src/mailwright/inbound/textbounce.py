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
    r"^<([^<>\s]+@[^<>\s]+)>:[ \t]*\n?(.*?)(?=^<[^<>\s]+@[^<>\s]+>:|\n[ \t]*\n|\Z)", re.M | re.S
)
_EXIM_SECTION = re.compile(r"^[^\n]*address[^\n]*:[ \t]*$", re.I | re.M)
_EXIM_DELAY = re.compile(r"has not yet been delivered", re.I)
_EXCHANGE_SECTION = re.compile(r"recipients?(?:\(s\))?[^\n]*:[ \t]*$", re.I | re.M)
_EXCHANGE_RECIPIENT = re.compile(r"^[ \t]*<?([^\s<>]+@[^\s<>]+?)>?(?:[ \t]+on[ \t][^\n]*)?$", re.M)
_ADDRESS = re.compile(r"[^\s<>\"'()]+@[^\s<>\"'()]+[^\s<>\"'().,;:]")

_Reader = Callable[[str], list[tuple[str, Action, str | None]]]


def bounce_from(message: Message) -> Bounce | None:
    text = reports.text_body(message).replace("\r\n", "\n")
    copy = _COPY.search(text)
    notice = text[: copy.start()] if copy else text
    for pattern, format_, reader in _GENERATORS:
        if pattern.search(notice):
            return _bounce(message, format_, reader(notice), text[copy.end() :] if copy else None)
    return None


def _bounce(
    message: Message,
    format_: BounceFormat,
    found: list[tuple[str, Action, str | None]],
    copied: str | None,
) -> Bounce | None:
    if not found:  # recognised the generator but not its layout: trust X-Failed-Recipients
        failed = reports.addresses(message.get_all("X-Failed-Recipients") or [])
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


def _qmail(notice: str) -> list[tuple[str, Action, str | None]]:
    found = []
    for match in _QMAIL_RECIPIENT.finditer(notice):
        found.append((match[1], Action.FAILED, reports.clean(match[2]) or None))
    return found


def _exim(notice: str) -> list[tuple[str, Action, str | None]]:
    action = Action.DELAYED if _EXIM_DELAY.search(notice) else Action.FAILED
    section = _EXIM_SECTION.search(notice)
    if section is None:
        return []
    found: list[tuple[str, Action, str | None]] = []
    reason: list[str] = []
    for line in notice[section.end() :].split("\n"):
        if line.startswith("    ") and found:
            reason.append(line)
            continue
        address = _ADDRESS.search(line) if line.startswith("  ") else None
        _close(found, reason)
        if address:
            found.append((address[0], action, None))
    _close(found, reason)
    return found


def _close(found: list[tuple[str, Action, str | None]], reason: list[str]) -> None:
    """Attach the reason lines read so far to the last address found."""
    if found and reason and found[-1][2] is None:
        rcpt, action, _ = found[-1]
        found[-1] = (rcpt, action, reports.clean(" ".join(reason)))
    reason.clear()


def _exchange(notice: str) -> list[tuple[str, Action, str | None]]:
    start = _EXCHANGE.search(notice)
    section = _EXCHANGE_SECTION.search(notice, start.start() if start else 0)
    if section is None:
        return []
    body = notice[section.end() :]
    starts = list(_EXCHANGE_RECIPIENT.finditer(body))
    found: list[tuple[str, Action, str | None]] = []
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(body)
        reason = reports.clean(body[match.end() : end])
        found.append((match[1], Action.FAILED, reason or None))
    return found


_GENERATORS: tuple[tuple[re.Pattern[str], BounceFormat, _Reader], ...] = (
    (_QMAIL, BounceFormat.QMAIL, _qmail),
    (_EXIM, BounceFormat.EXIM, _exim),
    (_EXCHANGE, BounceFormat.EXCHANGE, _exchange),
)
