"""After the 250: process each received message, off the SMTP connection.

Postal's ``incoming_message_processor`` is the model; each message goes through these steps:

1. **Report?** A DSN (RFC 3464) or feedback report (RFC 5965) that names one of our deliveries
   (through the VERP return path it was sent to or quotes, else the original Message-Id) becomes
   a ``failed`` (permanent) or ``complained`` event for that delivery, plus the bounce or
   complaint suppression; ``record`` queues the webhooks. Delay notices are logged only.
2. **Authenticate**: SPF, DKIM and DMARC through our resolver; the results go to the routes
   (an ``Authentication-Results`` header in forwarded/stored mail and ``X-Mailgun-*`` fields).
3. **Route** each recipient through Mailgun's waterfall (``routes.plan``): ``forward(url)``
   queues a signed multipart POST in the webhook outbox (retried on its schedule),
   ``forward(address)`` re-sends through ``messages.accept``, ``store()`` keeps the message
   retrievable at a storage URL (and ``notify`` POSTs its URL). An ``accepted`` event with
   ``flags.is-routed`` (and ``stored`` for store) is recorded per recipient.

A failure inside a step is retried with backoff up to ``max_attempts`` (the row keeps the
error); a message is never dropped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright import jsontext
from mailwright.logs import get_logger
from mailwright.store import Store, health, inbound

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ProcessorConfig:
    batch: int = 64
    concurrency: int = 32  # messages at once: most of their time is waiting on DNS
    lease: float = 300.0
    idle_poll: float = 1.0
    max_attempts: int = 8
    retry_base: float = 30.0  # the n-th retry waits retry_base * 2**(n-1) seconds


@dataclass
class InboundWorker:
    """Claims received messages and runs ``handle`` on each; settles the outcome."""

    store: Store
    config: ProcessorConfig
    handle: Callable[[dict[str, Any]], Any]  # async (row) -> outcome JSON-able dict
    clock: Callable[[], float] = time.time
    name: str = field(default_factory=lambda: f"inbound-{secrets.token_hex(4)}")
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _stopping: bool = False

    def kick(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    async def stop(self, grace: float = 30.0) -> None:
        """Claim no more, let the messages in hand finish (up to ``grace``), release the rest:
        a message cut off mid-way would run its routes twice."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._task), grace)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

        async def release(conn: AsyncConnection) -> None:
            await inbound.release_received(conn, worker=self.name)

        with contextlib.suppress(Exception):
            await self.store.write(release)

    async def run(self) -> None:
        while not self._stopping:
            try:
                claimed = await self._claim()
            except Exception:
                log.exception("inbound_claim_failed", worker=self.name)
                claimed = []
            if claimed:
                slots = asyncio.Semaphore(self.config.concurrency)

                async def one(row: dict[str, Any], slots: asyncio.Semaphore = slots) -> None:
                    async with slots:
                        if not self._stopping:  # else left for release: not begun
                            await self.process(row)

                await asyncio.gather(*(one(row) for row in claimed))
            else:
                await self._sleep()

    async def _claim(self) -> list[dict[str, Any]]:
        now = self.clock()

        async def claim(conn: AsyncConnection) -> list[dict[str, Any]]:
            return await inbound.claim_received(
                conn,
                worker=self.name,
                now=now,
                lease=self.config.lease,
                limit=self.config.batch,
                skip_locked=self.store.is_postgres,
            )

        return await self.store.write(claim)

    async def _sleep(self) -> None:
        self._wake.clear()
        if self._stopping:
            return
        delay = self.config.idle_poll
        async with self.store.read() as conn:
            due = await inbound.next_received_due(conn)
        if due is not None:
            delay = max(0.0, min(delay, due - self.clock()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def process(self, row: dict[str, Any]) -> None:
        """Run one message's steps; on an error, retry later (or give up after max_attempts)."""
        try:
            outcome = await self.handle(row)
            update = {"b_status": "done", "b_due": row["due_at"], "b_outcome": outcome}
        except Exception as exc:
            attempts = int(row["attempts"])
            log.exception("inbound_processing_failed", received_id=row["id"], attempt=attempts)
            error = {"error": f"{type(exc).__name__}: {exc}"[:1000], "attempt": attempts}
            if attempts >= self.config.max_attempts:
                update = {"b_status": "failed", "b_due": row["due_at"], "b_outcome": error}
            else:
                delay = self.config.retry_base * 2 ** (attempts - 1)
                update = {"b_status": "queued", "b_due": self.clock() + delay, "b_outcome": error}
        update = {**update, "b_id": row["id"], "b_outcome": jsontext.dumps(update["b_outcome"])}

        async def settle(conn: AsyncConnection) -> None:
            await inbound.settle_received(conn, [update], worker=self.name, now=self.clock())

        await self.store.write(settle)


def recipients_of(row: dict[str, Any]) -> Sequence[str]:
    return [str(r) for r in jsontext.loads(row["recipients"])]


async def received_backlog(store: Store) -> health.Backlog:
    """Received messages not processed yet; ``oldest_at`` is the earliest receipt."""
    async with store.read() as conn:
        return await health.inbound_backlog(conn)
