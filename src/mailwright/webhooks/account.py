"""Mailgun's account webhooks (``/v1/webhooks``): one URL and the event types it is POSTed for,
across every domain of the account. ``events.record`` and the accept path add them to each
domain's own webhooks (a URL on both levels is POSTed once per event)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.errors import Conflict, InvalidInput, NotFound
from mailwright.events import WebhookKind
from mailwright.store import Store, queries
from mailwright.webhooks.urls import MAX_URLS

MAX_DESCRIPTION = 1000
MAX_IDS = 100  # webhook ids in one ``webhook_ids``


def parse_description(value: str | None) -> str:
    text = (value or "").strip()
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"'description' must be at most {MAX_DESCRIPTION} characters", field="description"
        )
    return text


def parse_ids(value: str | None) -> list[str] | None:
    """``webhook_ids``: comma-separated ids, duplicates dropped; None when absent or empty."""
    ids = list(dict.fromkeys(v.strip() for v in (value or "").split(",") if v.strip()))
    if len(ids) > MAX_IDS:
        raise InvalidInput(f"at most {MAX_IDS} 'webhook_ids'", field="webhook_ids")
    return ids or None


def _json(row: dict[str, Any]) -> dict[str, Any]:
    kinds = set(row["event_types"])
    created = datetime.fromtimestamp(row["created_at"], UTC).isoformat(timespec="seconds")
    return {
        "webhook_id": row["webhook_id"],
        "description": row["description"],
        "url": row["url"],
        "event_types": [k.value for k in WebhookKind if k.value in kinds],
        "created_at": created.replace("+00:00", "Z"),  # RFC 3339
    }


async def list_account_webhooks(
    store: Store, webhook_ids: Sequence[str] | None
) -> list[dict[str, Any]]:
    """Every account webhook, oldest first; only those of ``webhook_ids`` when given."""
    async with store.read() as conn:
        rows = await queries.account_webhooks(conn, webhook_ids)
    return [_json(row) for row in rows]


async def get_account_webhook(store: Store, webhook_id: str) -> dict[str, Any]:
    async with store.read() as conn:
        rows = await queries.account_webhooks(conn, [webhook_id])
    if not rows:
        raise NotFound("Webhook not found")
    return _json(rows[0])


async def _check(
    conn: AsyncConnection, url: str, kinds: Sequence[WebhookKind], webhook_id: str | None
) -> None:
    """A URL is one account webhook; an event type has at most ``MAX_URLS`` of them (Mailgun:
    "Maximum of 3 unique URLs per event type")."""
    others = [h for h in await queries.account_webhooks(conn) if h["webhook_id"] != webhook_id]
    if any(h["url"] == url for h in others):
        raise Conflict("An account webhook with this 'url' already exists")
    for kind in kinds:
        if sum(kind in h["event_types"] for h in others) >= MAX_URLS:
            raise InvalidInput(
                f"'event_types': {kind} has {MAX_URLS} account webhook URLs already",
                field="event_types",
            )


async def create_account_webhook(
    store: Store, url: str, kinds: Sequence[WebhookKind], description: str, *, now: float
) -> str:
    """Create an account webhook; answers its ``webhook_id``."""
    webhook_id = secrets.token_hex(12)

    async def write(conn: AsyncConnection) -> None:
        await _check(conn, url, kinds, None)
        await queries.put_account_webhook(
            conn, webhook_id=webhook_id, url=url, description=description, kinds=kinds, now=now
        )

    await store.write(write)
    return webhook_id


async def update_account_webhook(
    store: Store, webhook_id: str, url: str, kinds: Sequence[WebhookKind], description: str
) -> None:
    """Replace the webhook's URL, event types and description (Mailgun's ``PUT``)."""

    async def write(conn: AsyncConnection) -> None:
        if not await queries.account_webhooks(conn, [webhook_id]):
            raise NotFound("Webhook not found")
        await _check(conn, url, kinds, webhook_id)
        await queries.put_account_webhook(
            conn, webhook_id=webhook_id, url=url, description=description, kinds=kinds, now=None
        )

    await store.write(write)


async def delete_account_webhooks(store: Store, webhook_ids: Sequence[str] | None) -> None:
    """Delete the webhooks of ``webhook_ids`` (all of them must exist, else none is deleted
    and it is a 404), or every account webhook when None."""

    async def write(conn: AsyncConnection) -> None:
        if webhook_ids is not None:
            found = {h["webhook_id"] for h in await queries.account_webhooks(conn, webhook_ids)}
            if any(i not in found for i in webhook_ids):
                raise NotFound("Webhook not found")
        await queries.delete_account_webhooks(conn, webhook_ids)

    await store.write(write)
