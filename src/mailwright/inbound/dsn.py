"""Delivery status notifications (RFC 3464) into :class:`Bounce` records; pure, no I/O.

A standard DSN is ``multipart/report; report-type=delivery-status`` with a human-readable part,
a ``message/delivery-status`` part (one per-message block, then one block per recipient with
Final-Recipient, Action, Status, Diagnostic-Code, Remote-MTA) and optionally the returned
message or its headers. MTAs that send no such report (qmail, older Exim and Exchange) are left
to the best-effort heuristics of :mod:`mailwright.inbound.textbounce`, tried only when the
message holds no delivery-status part at all.

Missing or broken fields are filled in as little as possible: a missing Status comes from the
enhanced code in Diagnostic-Code (or its basic reply code's class), a missing Action from the
Status class; a block with neither, or without a recipient, is skipped.
"""

from __future__ import annotations

from dataclasses import replace
from email.message import Message

from mailwright.inbound import reports, textbounce
from mailwright.inbound.reports import Action, Bounce, BounceFormat, RecipientStatus

_STATUS_PARTS = frozenset({"message/delivery-status", "message/global-delivery-status"})
_ACTION_BY_CLASS = {"5": Action.FAILED, "4": Action.DELAYED, "2": Action.DELIVERED}
_STATUS_BY_ACTION = {
    Action.FAILED: "5.0.0",
    Action.DELAYED: "4.0.0",
    Action.DELIVERED: "2.0.0",
    Action.RELAYED: "2.0.0",
    Action.EXPANDED: "2.0.0",
}


def parse_dsn(raw: bytes) -> Bounce | None:
    """The bounce ``raw`` reports, or None when it is no delivery status notification."""
    return bounce_from(reports.load(raw))


def bounce_from(message: Message) -> Bounce | None:
    status_part = _status_part(message)
    if status_part is not None:
        return _from_report(message, status_part)
    return textbounce.bounce_from(message)


def _status_part(message: Message) -> Message | None:
    # Some MTAs omit report-type or send multipart/mixed: the delivery-status part is what counts.
    return next((p for p in reports.parts(message) if p.get_content_type() in _STATUS_PARTS), None)


def _from_report(message: Message, status_part: Message) -> Bounce | None:
    blocks = reports.field_blocks(status_part)
    recipients = tuple(r for r in map(_recipient_status, blocks) if r is not None)
    if not recipients:
        return None
    reporting = next(filter(None, (reports.field(b, "Reporting-MTA") for b in blocks)), None)
    original = reports.returned_message(message)
    # Gmail names the original in the per-message block, whether or not it returns headers.
    gmail_id = reports.message_id(reports.field(blocks[0], "X-Original-Message-ID"))
    if gmail_id and original is None:
        original = reports.OriginalMessage(
            message_id=gmail_id, to=(), return_path=None, sender=None, subject=None, headers=()
        )
    elif gmail_id and original is not None and original.message_id is None:
        original = replace(original, message_id=gmail_id)
    return Bounce(
        format=BounceFormat.RFC3464,
        recipients=recipients,
        original=original,
        reporting_mta=reports.typed_value(reporting),
    )


def _recipient_status(block: Message) -> RecipientStatus | None:
    final = reports.address(reports.field(block, "Final-Recipient"))
    original = reports.address(reports.field(block, "Original-Recipient"))
    recipient = final or original
    if recipient is None:
        return None
    diagnostic = reports.typed_value(reports.field(block, "Diagnostic-Code"))
    status = reports.status_code(reports.field(block, "Status")) or reports.status_from(diagnostic)
    action = _action(reports.field(block, "Action"), status)
    if action is None:
        return None
    return RecipientStatus(
        recipient=recipient,
        original_recipient=original,
        action=action,
        status=status or _STATUS_BY_ACTION[action],
        diagnostic=diagnostic,
        remote_mta=reports.typed_value(reports.field(block, "Remote-MTA")),
    )


def _action(value: str | None, status: str | None) -> Action | None:
    word = reports.clean(value or "").split(" ")[0].lower()
    try:
        return Action(word)
    except ValueError:
        return _ACTION_BY_CLASS.get(status[0]) if status else None
