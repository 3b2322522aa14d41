"""The delivery worker: claim due deliveries, render each recipient's bytes, deliver, record.

In ``capture`` mode delivery means writing the message into the built-in inbox; test-mode
messages are logged as delivered (flag ``is-test-mode``) but kept out of the inbox, as
Mailgun's test mode accepts and logs without sending. Each batch of outcomes is written in one
transaction together with its events.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.events import EventType, event_row, record
from mailwright.logs import get_logger
from mailwright.messages import StoredMessage, load_many
from mailwright.store import DeliveryRow, Store, queries

log = get_logger(__name__)

CLAIM_BATCH = 200
LEASE_SECONDS = 300.0
IDLE_POLL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    retention: float  # seconds captured mail is kept
    batch: int = CLAIM_BATCH
    lease: float = LEASE_SECONDS
    idle_poll: float = IDLE_POLL_SECONDS
    batch_window: float = 0.02


class DeliveryWorker:
    def __init__(
        self, store: Store, config: WorkerConfig, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        self._name = f"worker-{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def kick(self) -> None:
        """New work was committed: look now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

        async def release(conn: AsyncConnection) -> None:
            await queries.release_claims(conn, worker=self._name)

        await self._store.write(release)

    async def run(self) -> None:
        while True:
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("delivery_batch_failed", worker=self._name)
                handled = 0
            if handled < self._config.batch:
                await self._sleep()

    async def _sleep(self) -> None:
        self._wake.clear()
        delay = self._config.idle_poll
        async with self._store.read() as conn:
            due = await queries.next_due_at(conn)
        if due is not None:
            delay = max(0.0, min(delay, due - self._clock()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)
        # Let a burst of accepts gather so one claim, one load and one commit serve many.
        await asyncio.sleep(self._config.batch_window)

    async def run_once(self) -> int:
        """Claim one batch of due deliveries and deliver it; returns how many were handled."""
        now = self._clock()
        skip_locked = self._store.is_postgres

        async def claim(conn: AsyncConnection) -> list[DeliveryRow]:
            return await queries.claim_due(
                conn,
                worker=self._name,
                now=now,
                lease=self._config.lease,
                limit=self._config.batch,
                skip_locked=skip_locked,
            )

        claimed = await self._store.write(claim)
        if claimed:
            await self._deliver(claimed)
        return len(claimed)

    async def _deliver(self, claimed: list[DeliveryRow]) -> None:
        messages = await load_many(self._store, sorted({row.message_key for row in claimed}))
        now = self._clock()
        outcomes = [
            self._capture(row, messages[row.message_key], now)
            for row in claimed
            if row.message_key in messages
        ]

        async def write(conn: AsyncConnection) -> None:
            held = await queries.finish_deliveries(
                conn,
                [d.id for d, _, _ in outcomes],
                worker=self._name,
                status="delivered",
                now=now,
            )
            kept = [o for o in outcomes if o[0].id in held]
            await queries.insert_inbox(conn, [i for _, i, _ in kept if i is not None])
            await record(conn, [e for _, _, e in kept])

        await self._store.write(write)
        log.info("deliveries_captured", count=len(outcomes), worker=self._name)

    def _capture(
        self, row: DeliveryRow, message: StoredMessage, now: float
    ) -> tuple[DeliveryRow, dict[str, Any] | None, dict[str, Any]]:
        started = time.perf_counter()
        raw = message.render_for(row.recipient, row.recipient_index)
        inbox_row = None
        if not message.row.is_test_mode:
            inbox_row = {
                "id": secrets.token_urlsafe(12),
                "delivery_id": row.id,
                "message_key": row.message_key,
                "domain": row.domain,
                "recipient": row.recipient.lower(),
                "sender": message.facts.sender,
                "subject": message.subject_for(row.recipient),
                "message_id": message.row.message_id,
                "raw": raw,
                "created_at": now,
                "expires_at": now + self._config.retention,
            }
        status = {
            "code": 250,
            "message": "OK",
            "description": "",
            "attempt-no": row.attempts,
            "session-seconds": round(time.perf_counter() - started, 6),
            "tls": False,
            "certificate-verified": False,
            "mx-host": "capture",
            "enhanced-code": "2.0.0",
            "utf8": True,
        }
        envelope = {
            "sender": message.facts.sender,
            "targets": row.recipient,
            "transport": "smtp",
            "sending-ip": "127.0.0.1",
        }
        event = event_row(
            message.facts,
            EventType.DELIVERED,
            row.recipient,
            now,
            **{"delivery-status": status, "envelope": envelope},
        )
        return row, inbox_row, event
