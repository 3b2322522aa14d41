"""To headers kept apart: a message whose recipients share a long To header stores it once
(``schema.event_to_headers``, written when the message is accepted) and its events keep an
empty ``to``. Whatever hands events out (the Events and Logs APIs, the webhook worker) fills
it in here, so clients see each event as Mailgun shows it, with the whole header.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright import jsontext
from mailwright.store import queries

# How an emptied header looks in a stored payload (``jsontext.dumps`` is compact).
EMPTY_TO = '"to":""'


def _headers(event: dict[str, Any]) -> dict[str, Any] | None:
    message = event.get("message")
    headers = message.get("headers") if isinstance(message, dict) else None
    return headers if isinstance(headers, dict) else None


async def fill_events(conn: AsyncConnection, events: Sequence[dict[str, Any]]) -> None:
    """Put back the To header of each event (Mailgun's event JSON) whose ``to`` is empty and
    whose message keeps it apart; one query for them all."""
    emptied = [
        (headers, str(headers.get("message-id", "")))
        for headers in map(_headers, events)
        if headers is not None and headers.get("to") == ""
    ]
    if not emptied:
        return
    found = await queries.to_headers_of(conn, sorted({mid for _, mid in emptied}))
    for headers, message_id in emptied:
        headers["to"] = found.get(message_id, "")


async def fill_payloads(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """``fill_events`` for rows carrying an event as JSON text in ``payload`` (the webhook
    outbox); only the payloads that may need it are parsed and written again."""
    touched = [row for row in rows if EMPTY_TO in str(row.get("payload", ""))]
    events = [jsontext.loads(str(row["payload"])) for row in touched]
    await fill_events(conn, [e for e in events if isinstance(e, dict)])
    for row, event in zip(touched, events, strict=True):
        row["payload"] = jsontext.dumps(event)
