"""Feedback reports (RFC 5965 ARF, Microsoft JMRP) into :class:`Complaint` records; pure.

An ARF report is ``multipart/report; report-type=feedback-report`` with a human-readable part, a
``message/feedback-report`` part (Feedback-Type, User-Agent, Version, Original-Mail-From,
Original-Rcpt-To, Arrival-Date, Source-IP, Reported-Domain, ...) and the original message or its
headers. Mailbox providers redact freely: the recipient is taken from Original-Rcpt-To, else
Microsoft's ``X-HmXmrOriginalRecipient`` header on the returned message, else its To.

Microsoft JMRP sends ARF today; older JMRP reports are a plain message carrying the original as
``message/rfc822`` with ``X-HmXmrOriginalRecipient``, which is read as an ``abuse`` complaint.

:func:`classify_report` is the single entry for anything arriving at a bounce address.
"""

from __future__ import annotations

import ipaddress
import re
from email.message import Message

from mailwright.inbound import dsn, reports
from mailwright.inbound.reports import Bounce, Complaint, ComplaintFormat, OriginalMessage

JMRP_RECIPIENT = "X-HmXmrOriginalRecipient"
_JMRP_AGENTS = re.compile(r"hotmail|microsoft|jmrp|outlook", re.I)


def parse_arf(raw: bytes) -> Complaint | None:
    """The complaint ``raw`` reports, or None when it is no feedback report."""
    return complaint_from(reports.load(raw))


def classify_report(raw: bytes) -> Bounce | Complaint | None:
    """A complaint, a bounce, or None for mail that is neither (an auto-reply, a reply)."""
    message = reports.load(raw)
    return complaint_from(message) or dsn.bounce_from(message)


def complaint_from(message: Message) -> Complaint | None:
    if reports.report_type(message) == "feedback-report" or _feedback_part(message):
        return _from_arf(message)
    return _from_jmrp(message)


def _feedback_part(message: Message) -> Message | None:
    return next(
        (p for p in reports.parts(message) if p.get_content_type() == "message/feedback-report"),
        None,
    )


def _from_arf(message: Message) -> Complaint | None:
    part = _feedback_part(message)
    blocks = reports.field_blocks(part) if part is not None else []
    if not blocks:
        return None
    report = blocks[0]
    original = reports.returned_message(message)
    rcpt_to = reports.addresses(reports.fields(report, "Original-Rcpt-To"))
    user_agent = _text(reports.field(report, "User-Agent"))
    is_jmrp = bool(user_agent and _JMRP_AGENTS.search(user_agent)) or _jmrp_recipient(original)
    return Complaint(
        format=ComplaintFormat.JMRP if is_jmrp else ComplaintFormat.ARF,
        feedback_type=(_text(reports.field(report, "Feedback-Type")) or "abuse").lower(),
        recipient=next(iter(rcpt_to), None) or _recipient(original),
        user_agent=user_agent,
        version=_text(reports.field(report, "Version")),
        original_mail_from=reports.address(reports.field(report, "Original-Mail-From")),
        original_rcpt_to=rcpt_to,
        # Yahoo has written Received-Date (from the ARF draft) in place of Arrival-Date.
        arrival_date=reports.parse_date(
            reports.field(report, "Arrival-Date") or reports.field(report, "Received-Date")
        ),
        source_ip=_text(reports.field(report, "Source-IP")),
        reported_domains=tuple(
            d.lower() for d in map(_text, reports.fields(report, "Reported-Domain")) if d
        ),
        original=original,
    )


def _from_jmrp(message: Message) -> Complaint | None:
    if message.get_content_type() == "multipart/report":  # a DSN returning such a message
        return None
    original = reports.returned_message(message)
    if not _jmrp_recipient(original):
        return None
    return Complaint(
        format=ComplaintFormat.JMRP,
        feedback_type="abuse",
        recipient=_recipient(original),
        user_agent=None,
        version=None,
        original_mail_from=None,
        original_rcpt_to=(),
        arrival_date=reports.parse_date(reports.field(message, "Date")),
        source_ip=_ip_in(reports.decoded(reports.field(message, "Subject")) or ""),
        reported_domains=(),
        original=original,
    )


def _jmrp_recipient(original: OriginalMessage | None) -> bool:
    return original is not None and original.header(JMRP_RECIPIENT) is not None


def _recipient(original: OriginalMessage | None) -> str | None:
    if original is None:
        return None
    return reports.address(original.header(JMRP_RECIPIENT)) or next(iter(original.to), None)


def _ip_in(text: str) -> str | None:
    """The first IP address among the words of ``text`` ("complaint about message from IP")."""
    for word in text.split():
        try:
            return str(ipaddress.ip_address(word.strip("[]()<>,.;:")))
        except ValueError:
            continue
    return None


def _text(value: object) -> str | None:
    return reports.clean(value) or None if value is not None else None
