"""Mailgun's ``DELETE /v3/{domain}/envelopes``: the domain's queued mail is deleted from the
queue. Each delivery that was waiting (scheduled, or between retries) fails permanently with a
``failed`` event that says why, in one transaction, so the log and the stats stay whole; one a
worker is attempting at this moment is left to finish."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright import jsontext
from mailwright.events import EventType, LogLevel, MessageFacts, Severity, event_row, record
from mailwright.store import Store, queries

DELETED = "Deleted from the domain's queue by request (DELETE /v3/{domain}/envelopes)"


async def cancel_queued(store: Store, domain: str, *, now: float) -> int:
    """Fail the domain's waiting deliveries; answers how many there were."""
    message = DELETED.replace("{domain}", domain)

    async def cancel(conn: AsyncConnection) -> int:
        cancelled = await queries.cancel_queued(conn, domain, now=now, message=message)
        keys = sorted({key for key, _ in cancelled})
        facts: dict[str, MessageFacts] = {
            str(row.id): MessageFacts.from_json(jsontext.loads(row.spec)["facts"])
            for row in await queries.get_messages(conn, keys)
        }
        await record(conn, [_event(facts[key], rcpt, now, message) for key, rcpt in cancelled])
        return len(cancelled)

    return await store.write(cancel)


def _event(facts: MessageFacts, recipient: str, now: float, message: str) -> dict[str, Any]:
    return event_row(
        facts,
        EventType.FAILED,
        recipient,
        now,
        severity=str(Severity.PERMANENT),
        reason="generic",
        **{
            "log-level": str(LogLevel.ERROR),
            "delivery-status": {
                "code": 0,
                "message": message,
                "description": message,
                "attempt-no": 0,
            },
        },
    )
