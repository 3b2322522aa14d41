"""Every attempt of a message, with its SMTP transcript (our extension of Mailgun's API)."""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

from mailwright.store import Store, queries


async def attempts_of(store: Store, message_key: str) -> list[dict[str, Any]]:
    async with store.read() as conn:
        rows = await queries.list_attempts(conn, message_key)
    return [
        {
            "recipient": r["recipient"],
            "attempt-no": r["attempt_no"],
            "started_at": formatdate(r["started_at"], usegmt=True),
            "timestamp": r["started_at"],
            "session-seconds": r["session_seconds"],
            "outcome": r["outcome"],
            "mx-host": r["mx_host"],
            "code": r["code"],
            "enhanced-code": r["enhanced_code"],
            "message": r["message"],
            "tls": r["tls"],
            "certificate-verified": r["certificate_verified"],
            "transcript": r["transcript"],
            "sending-ip": r["sending_ip"],
        }
        for r in rows
    ]


async def deliveries_of(store: Store, message_key: str) -> list[dict[str, Any]]:
    """Each recipient's delivery of a stored message: status, attempts so far, last reply."""
    async with store.read() as conn:
        rows = await queries.list_deliveries_of(conn, message_key)
    return [
        {
            "id": r["id"],
            "recipient": r["recipient"],
            "status": r["status"],
            "attempts": r["attempts"],
            "due_at": r["due_at"],
            "updated_at": r["updated_at"],
            "code": r["last_code"],
            "message": r["last_message"] or "",
        }
        for r in rows
    ]
