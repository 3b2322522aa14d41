"""Settle attempt results: one transaction writes each delivery's new state, its attempt row
(with the SMTP transcript), its event, captured mail, and bounces for permanent failures.

The decisions come from pure policies: ``classify_reply`` says what a reply means and
``RetrySchedule`` when to try again; this module only applies them.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.delivery.classify import Outcome, classify_reply
from mailwright.delivery.jobs import Result
from mailwright.delivery.retry import RetrySchedule
from mailwright.events import EventType, LogLevel, MessageFacts, Severity, event_row, record
from mailwright.store import limits, queries
from mailwright.suppressions import add_bounce

# Mailgun's codes for messages it did not attempt because of a suppression.
SUPPRESSED: dict[str, tuple[int, str]] = {
    "suppress-bounce": (605, "Not delivering to previously bounced address"),
    "suppress-unsubscribe": (606, "Not delivering to unsubscribed address"),
    "suppress-complaint": (607, "Not delivering to a user who marked your messages as spam"),
}


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to one delivery after its attempt."""

    status: str  # delivered | queued | failed
    outcome: Outcome
    reason: str
    due_at: float | None  # next attempt when requeued


def decide(result: Result, schedule: RetrySchedule, now: float) -> Decision:
    if result.suppressed is not None:
        return Decision("failed", Outcome.PERMANENT, result.suppressed, None)
    verdict = classify_reply(result.code, result.enhanced, result.text)
    if verdict.outcome is Outcome.DELIVERED:
        return Decision("delivered", verdict.outcome, verdict.reason, None)
    if verdict.outcome is Outcome.PERMANENT:
        return Decision("failed", verdict.outcome, verdict.reason, None)
    first = datetime.fromtimestamp(result.delivery.created_at, UTC)
    due = schedule.next_attempt_at(
        result.delivery.attempts, first, datetime.fromtimestamp(now, UTC)
    )
    if due is None:
        # RFC 5321 4.5.4.1: give up after the retry period; Mailgun calls this reason "old".
        return Decision("failed", Outcome.PERMANENT, "old", None)
    return Decision("queued", verdict.outcome, verdict.reason, due.timestamp())


def _status(result: Result, decision: Decision, now: float) -> dict[str, Any]:
    code, text = result.code, result.text
    if result.suppressed is not None:
        code, text = SUPPRESSED[result.suppressed]
    status: dict[str, Any] = {
        "code": code if code is not None else 0,
        "message": text,
        "description": text if decision.outcome is not Outcome.DELIVERED else "",
        "attempt-no": result.delivery.attempts,
        "session-seconds": round(result.session_seconds, 6),
        "tls": result.tls,
        "certificate-verified": result.certificate_verified,
        "mx-host": result.mx_host,
        "enhanced-code": result.enhanced or "",
        "utf8": result.utf8,
    }
    if decision.due_at is not None:
        status["retry-seconds"] = max(0, round(decision.due_at - now))
    return status


def _event(facts: MessageFacts, result: Result, decision: Decision, now: float) -> dict[str, Any]:
    rcpt = result.delivery.recipient
    extra: dict[str, Any] = {
        "delivery-status": _status(result, decision, now),
        "envelope": {
            "sender": facts.sender,
            "targets": rcpt,
            "transport": "smtp",
            "sending-ip": result.sending_ip or "127.0.0.1",
        },
    }
    if decision.outcome is Outcome.DELIVERED:
        return event_row(facts, EventType.DELIVERED, rcpt, now, **extra)
    permanent = decision.outcome is Outcome.PERMANENT
    extra |= {
        "severity": str(Severity.PERMANENT if permanent else Severity.TEMPORARY),
        "log-level": str(LogLevel.ERROR if permanent else LogLevel.WARN),
        "reason": decision.reason,
    }
    return event_row(facts, EventType.FAILED, rcpt, now, **extra)


def _attempt(result: Result, decision: Decision, now: float) -> dict[str, Any]:
    d = result.delivery
    return {
        "delivery_id": d.id,
        "message_key": d.message_key,
        "domain": d.domain,
        "recipient": d.recipient,
        "attempt_no": d.attempts,
        "started_at": now - result.session_seconds,
        "session_seconds": result.session_seconds,
        "outcome": str(decision.outcome),
        "mx_host": result.mx_host,
        "code": result.code,
        "enhanced_code": result.enhanced,
        "message": result.text,
        "tls": result.tls,
        "certificate_verified": result.certificate_verified,
        "transcript": result.transcript,
        "sending_ip": result.sending_ip,
    }


def _inbox(
    result: Result, facts: MessageFacts, subject: str, now: float, retention: float
) -> dict[str, Any]:
    d = result.delivery
    assert result.captured is not None
    return {
        "id": secrets.token_urlsafe(12),
        "delivery_id": d.id,
        "message_key": d.message_key,
        "domain": d.domain,
        "recipient": d.recipient.lower(),
        "sender": facts.sender,
        "subject": subject,
        "message_id": facts.message_id,
        "raw": result.captured,
        "created_at": now,
        "expires_at": now + retention,
    }


@dataclass(frozen=True, slots=True)
class Settled:
    """One result ready to write: its decision, and the facts and subject of its message."""

    result: Result
    facts: MessageFacts
    subject: str


async def settle(
    conn: AsyncConnection,
    items: Sequence[Settled],
    *,
    worker: str,
    schedule: RetrySchedule,
    now: float,
    retention: float,
) -> tuple[int, list[tuple[Result, Decision]]]:
    """Write the outcomes in the caller's transaction; returns how many deliveries this worker
    still held (those waiting for warm-up room included) and the outcomes written.

    Only deliveries this worker still holds are settled: one whose lease ran out may have been
    claimed (and attempted) again elsewhere, and its outcome, attempt and event belong there.
    """
    held = await queries.held_claims(
        conn, [item.result.delivery.id for item in items], worker=worker
    )
    items = [item for item in items if item.result.delivery.id in held]
    waiting = {
        int(item.result.delivery.id): item.result.held_until
        for item in items
        if item.result.held_until is not None
    }
    await limits.hold_deliveries(conn, waiting, worker=worker, now=now)
    kept = len(items)
    items = [item for item in items if item.result.held_until is None]
    updates, attempts, events, inbox = [], [], [], []
    written: list[tuple[Result, Decision]] = []
    for item in items:
        result = item.result
        decision = decide(result, schedule, now)
        written.append((result, decision))
        updates.append(
            {
                "b_id": result.delivery.id,
                "b_status": decision.status,
                "b_due": decision.due_at if decision.due_at is not None else result.delivery.due_at,
                "b_code": result.code,
                "b_message": result.text,
            }
        )
        if result.attempted:
            attempts.append(_attempt(result, decision, now))
        events.append(_event(item.facts, result, decision, now))
        if result.captured is not None and decision.status == "delivered":
            inbox.append(_inbox(result, item.facts, item.subject, now, retention))
        if decision.outcome is Outcome.PERMANENT and decision.reason == "bounce":
            await add_bounce(
                conn,
                item.facts.domain,
                result.delivery.recipient,
                code=result.code,
                error=result.text,
                now=now,
            )
    await queries.settle_deliveries(conn, updates, worker=worker, now=now)
    await queries.insert_attempts(conn, attempts)
    await queries.insert_inbox(conn, inbox)
    await record(conn, events)
    return kept, written
