"""What happens when a recipient opens, clicks or unsubscribes: check the token, record the
``opened`` / ``clicked`` / ``unsubscribed`` event, and for an unsubscribe add the address to the
domain's unsubscribes list in the same transaction.

Opens and clicks never fail the recipient: a token that checks is always answered with the
pixel or the redirect, and a failed event write is logged instead (postal's tracking
middleware does the same). An unsubscribe is different: the recipient must learn when it did
not happen, so its failure is raised.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.errors import NotFound
from mailwright.events import EventType, MessageFacts, event_row, record
from mailwright.logs import get_logger
from mailwright.messages import Token, TokenKind, TrackingKey, load_facts, verify
from mailwright.store import Store, lists
from mailwright.suppressions import add_unsubscribe
from mailwright.tracking.clients import GEOLOCATION_UNKNOWN, client_info

log = get_logger(__name__)

ALL_TAGS = "*"
_FACTS_CACHED = 10_000


@dataclass(frozen=True, slots=True)
class Visit:
    """The request that fetched a tracking URL."""

    ip: str
    user_agent: str

    def fields(self) -> dict[str, Any]:
        return {
            "ip": self.ip,
            "geolocation": dict(GEOLOCATION_UNKNOWN),
            "client-info": client_info(self.user_agent),
        }


class Tracker:
    def __init__(
        self, store: Store, key: TrackingKey, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._key = key
        self._clock = clock
        self._facts: OrderedDict[str, MessageFacts] = OrderedDict()

    async def token(self, text: str, kinds: Collection[TokenKind]) -> Token:
        """The token ``text`` encodes; NotFound when it is forged, damaged or of another kind."""
        token = verify(await self._key.get(), text)
        if token is None or token.kind not in kinds:
            raise NotFound("Not found")
        return token

    async def opened(self, token: Token, visit: Visit) -> None:
        await self._record_quietly(token, EventType.OPENED, visit.fields())

    async def clicked(self, token: Token, visit: Visit) -> None:
        await self._record_quietly(token, EventType.CLICKED, visit.fields() | {"url": token.value})

    async def unsubscribe(self, token: Token, visit: Visit) -> None:
        """Add the recipient to the unsubscribes list (for everything, or for the message's
        tags) and record ``unsubscribed``, in one transaction."""
        if token.kind == TokenKind.LIST_UNSUBSCRIBE:
            await self._leave_list(token, visit)
            return
        tags = token.tags if token.kind == TokenKind.TAG_UNSUBSCRIBE else [ALL_TAGS]
        now = self._clock()
        facts = await self._facts_of(token)
        row = event_row(facts, EventType.UNSUBSCRIBED, token.recipient, now, **visit.fields())

        async def write(conn: AsyncConnection) -> None:
            await add_unsubscribe(
                conn,
                token.domain,
                token.recipient,
                tags=tags,
                now=now,
                test=facts.is_test_mode,
            )
            await record(conn, [row])

        await self._store.write(write)
        log.info("unsubscribed", domain=token.domain, tags=tags)

    async def _leave_list(self, token: Token, visit: Visit) -> None:
        """Mark the member unsubscribed from the list (no domain suppression) and record
        ``unsubscribed`` with the list's address, in one transaction."""
        now = self._clock()
        row = event_row(
            await self._facts_of(token),
            EventType.UNSUBSCRIBED,
            token.recipient,
            now,
            **visit.fields(),
            **{"mailing-list": {"address": token.value}},
        )
        row["list"] = token.value

        async def write(conn: AsyncConnection) -> None:
            await lists.unsubscribe_member(conn, token.value, token.recipient.lower())
            await record(conn, [row])

        await self._store.write(write)
        log.info("list_unsubscribed", domain=token.domain)

    async def _record_quietly(self, token: Token, event: EventType, fields: dict[str, Any]) -> None:
        try:
            row = event_row(
                await self._facts_of(token), event, token.recipient, self._clock(), **fields
            )

            async def write(conn: AsyncConnection) -> None:
                await record(conn, [row])

            await self._store.write(write)
        except Exception:
            # The recipient still gets the pixel or the redirect; the operator gets the error.
            log.exception(
                "tracking_event_failed",
                event_type=str(event),
                domain=token.domain,
                message_key=token.storage_key,
            )

    async def _facts_of(self, token: Token) -> MessageFacts:
        """The message's facts (cached: they never change), or what the token itself says
        once the message has been purged."""
        facts = self._facts.get(token.storage_key)
        if facts is not None:
            self._facts.move_to_end(token.storage_key)
            return facts
        facts = await load_facts(self._store, token.storage_key)
        if facts is None or facts.domain != token.domain:
            return _purged(token)
        self._facts[token.storage_key] = facts
        if len(self._facts) > _FACTS_CACHED:
            self._facts.popitem(last=False)
        return facts


def _purged(token: Token) -> MessageFacts:
    return MessageFacts(
        domain=token.domain,
        message_id="",
        storage_key=token.storage_key,
        storage_url="",
        sender="",
        from_header="",
        to_header=token.recipient,
        subject="",
        size=0,
    )
