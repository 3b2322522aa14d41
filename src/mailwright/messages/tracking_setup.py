"""Where tracking's inputs come from: the installation's signing key (the ``settings`` table,
read once per process) and the sending domain's settings, combined with a stored message's
``o:tracking*`` options into the ``Tracking`` that ``render`` applies."""

from __future__ import annotations

import asyncio
import secrets
import time

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.messages.storage import StoredMessage
from mailwright.messages.tracking import DomainTracking, Tracking, resolve
from mailwright.store import DomainRow, Store, queries

KEY_SETTING = "tracking_key"


class TrackingKey:
    """The HMAC key of tracking and unsubscribe tokens: created on first use by whichever
    process comes first, then the same in every process sharing the database."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._key: bytes | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> bytes:
        if self._key is not None:
            return self._key
        async with self._lock:
            if self._key is None:

                async def load(conn: AsyncConnection) -> str:
                    fresh = secrets.token_hex(32)
                    return await queries.setting_or_create(
                        conn, KEY_SETTING, fresh, self._store.keyring, now=time.time()
                    )

                self._key = bytes.fromhex(await self._store.write(load))
        return self._key


def domain_tracking(row: DomainRow) -> DomainTracking:
    return DomainTracking(
        opens=row.track_opens,
        opens_at_top=row.track_opens_at_top,
        clicks=row.track_clicks,
        unsubscribes=row.track_unsubscribes,
        html_footer=row.unsubscribe_html_footer,
        text_footer=row.unsubscribe_text_footer,
    )


def tracking_for(
    message: StoredMessage, domain: DomainRow, *, key: bytes, base_url: str
) -> Tracking:
    settings = domain_tracking(domain)
    opens, clicks = resolve(settings, message.spec.get("options") or {})
    return Tracking(
        key=key,
        base_url=base_url,
        domain=domain.name,
        storage_key=message.row.id,
        tags=tuple(message.facts.tags),
        opens=opens,
        clicks=clicks,
        unsubscribes=settings.unsubscribes,
        opens_at_top=settings.opens_at_top,
        html_footer=settings.html_footer,
        text_footer=settings.text_footer,
    )
