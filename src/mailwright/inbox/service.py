"""Read and clear captured mail; each item is one recipient's final bytes, as delivered."""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.errors import NotFound
from mailwright.store import InboxRow, Store, queries


async def list_items(
    store: Store,
    *,
    limit: int,
    skip: int,
    recipient: str | None,
    domain: str | None,
    subject: str | None = None,
    is_test_only: bool = False,
) -> tuple[int, list[InboxRow]]:
    """Newest first; ``recipient`` and ``domain`` match exactly, ``subject`` is a substring;
    ``is_test_only``: the mail of test-mode messages only (what a test credential sees)."""
    async with store.read() as conn:
        return await queries.list_inbox(
            conn,
            limit=limit,
            skip=skip,
            recipient=recipient,
            domain=domain,
            subject=subject,
            is_test_only=is_test_only,
        )


async def get_item(
    store: Store, item_id: str, *, is_test_only: bool = False
) -> tuple[InboxRow, bytes]:
    async with store.read() as conn:
        found = await queries.get_inbox(conn, item_id, is_test_only=is_test_only)
    if found is None:
        raise NotFound("Message not found in the inbox")
    return found


async def delete_items(
    store: Store, item_id: str | None = None, *, is_test_only: bool = False
) -> int:
    async def remove(conn: AsyncConnection) -> int:
        return await queries.delete_inbox(conn, item_id, is_test_only=is_test_only)

    count = await store.write(remove)
    if item_id is not None and not count:
        raise NotFound("Message not found in the inbox")
    return count


def item_json(row: InboxRow, base_url: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "domain": row.domain,
        "recipient": row.recipient,
        "sender": row.sender,
        "subject": row.subject,
        "message-id": row.message_id,
        "storage-key": row.message_key,
        "received_at": formatdate(row.created_at, usegmt=True),
        "timestamp": row.created_at,
        "url": f"{base_url}/mailwright/v1/inbox/messages/{row.id}",
        "raw_url": f"{base_url}/mailwright/v1/inbox/messages/{row.id}/raw",
    }
