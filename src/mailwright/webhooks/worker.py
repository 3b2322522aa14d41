"""The webhook worker: claim due outbox rows, sign each event, POST it, settle the outcome.

It mirrors the delivery worker: claims carry a lease (renewed while this worker lives), so a
worker that dies leaves its rows to be claimed again; on PostgreSQL claims use SKIP LOCKED, so
any number of workers share the outbox. At most ``per_endpoint`` POSTs to one endpoint
(scheme://host:port) run at once, and an endpoint with that many in flight is left out of new
claims so one slow receiver cannot hold up the others. Outcomes follow ``policy.decide``: an
endpoint still failing ``report_after`` seconds after an event's first try is logged at
warning, and so is a delivery given up; both show in ``/mailwright/v1/webhooks/deliveries``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.events import FORM_KINDS, fill_payloads
from mailwright.logs import get_logger
from mailwright.resolver import Resolver
from mailwright.store import Store, queries
from mailwright.webhooks.keys import current_key
from mailwright.webhooks.policy import Decision, Schedule, Verdict, decide
from mailwright.webhooks.sender import Poster, PostResult, vet
from mailwright.webhooks.signing import TOKEN_LENGTH, body, form_body, sign

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SenderConfig:
    schedule: Schedule
    allow_private: bool = False  # MAILWRIGHT_ALLOW_PRIVATE_URLS
    per_endpoint: int = 8  # POSTs at once to one endpoint
    max_in_flight: int = 500
    batch: int = 200
    lease: float = 120.0  # renewed every third of it while the worker lives
    idle_poll: float = 0.5
    report_after: float = 3600.0  # seconds of failing before an endpoint is reported


@dataclass(frozen=True, slots=True)
class _Outcome:
    row: dict[str, Any]
    result: PostResult
    decision: Decision


class WebhookWorker:
    def __init__(
        self,
        store: Store,
        config: SenderConfig,
        poster: Poster,
        resolver: Resolver,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._config = config
        self._poster = poster
        self._resolver = resolver
        self._clock = clock
        self._name = f"webhooks-{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._busy: Counter[str] = Counter()
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._sends: set[asyncio.Task[None]] = set()
        self._done: list[_Outcome] = []
        self._settler: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def kick(self) -> None:
        """New outbox rows were committed: look now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self.run()), asyncio.create_task(self._renew())]

    async def stop(self, grace: float = 15.0) -> None:
        """Stop claiming, let POSTs in flight finish (up to ``grace``), release the rest.
        The leases are renewed until then (the renewer is the last task to go)."""
        self._stopping = True
        for task in self._tasks[:1]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._sends:
            _, pending = await asyncio.wait(self._sends, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._settler is not None:
            with contextlib.suppress(Exception):
                await self._settler
        for task in self._tasks[1:]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._poster.close()

        async def release(conn: AsyncConnection) -> None:
            await queries.release_outbox(conn, worker=self._name)

        await self._store.write(release)

    @property
    def in_flight(self) -> int:
        return sum(self._busy.values())

    async def run(self) -> None:
        while True:
            try:
                key, claimed = await self._claim()
            except Exception:
                log.exception("webhook_claim_failed", worker=self._name)
                key, claimed = "", []
            for row in claimed:
                self._spawn(row, key)
            if not claimed:
                await self._sleep()
            while self.in_flight >= self._config.max_in_flight:
                self._room.clear()
                await self._room.wait()

    async def _claim(self) -> tuple[str, list[dict[str, Any]]]:
        now = self._clock()
        limit = min(self._config.batch, self._config.max_in_flight - self.in_flight)
        busy = [e for e, n in self._busy.items() if n >= self._config.per_endpoint]

        async def claim(conn: AsyncConnection) -> tuple[str, list[dict[str, Any]]]:
            rows = await queries.claim_outbox(
                conn,
                worker=self._name,
                now=now,
                lease=self._config.lease,
                limit=limit,
                skip_locked=self._store.is_postgres,
                exclude_endpoints=busy,
            )
            await fill_payloads(conn, rows)  # To headers kept apart (events.to_headers)
            return (await current_key(conn, self._store.keyring, now=now) if rows else ""), rows

        return await self._store.write(claim) if limit > 0 else ("", [])

    async def _sleep(self) -> None:
        self._wake.clear()
        delay = self._config.idle_poll
        async with self._store.read() as conn:
            due = await queries.next_outbox_due(conn)
        if due is not None:
            delay = max(0.0, min(delay, due - self._clock()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)

    def _spawn(self, row: dict[str, Any], key: str) -> None:
        self._busy[row["endpoint"]] += 1
        task = asyncio.create_task(self._send(row, key))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _send(self, row: dict[str, Any], key: str) -> None:
        endpoint = row["endpoint"]
        slots = self._slots.setdefault(endpoint, asyncio.Semaphore(self._config.per_endpoint))
        try:
            async with slots:
                if self._stopping:
                    return  # not begun: released when the worker stops, due again at once
                result = await self._post(row, key)
            decision = decide(
                result.status,
                row["attempts"],
                row["created_at"],
                self._clock(),
                self._config.schedule,
            )
            self._report(row, result, decision)
            self._done.append(_Outcome(row, result, decision))
            if self._settler is None or self._settler.done():
                self._settler = asyncio.create_task(self._settle_done())
        except Exception:
            log.exception("webhook_send_failed", worker=self._name, outbox_id=row["id"])
        finally:
            self._busy[endpoint] -= 1
            if self._busy[endpoint] <= 0:
                del self._busy[endpoint]
                self._slots.pop(endpoint, None)
            self._room.set()

    async def _post(self, row: dict[str, Any], key: str) -> PostResult:
        signature = sign(key, int(self._clock()), secrets.token_hex(TOKEN_LENGTH // 2))
        destination = await vet(
            row["url"], self._resolver, allow_private=self._config.allow_private
        )
        if row["kind"] in FORM_KINDS:
            data, content_type = form_body(signature, row["payload"], secrets.token_hex(16))
            return await self._poster.post(row["url"], data, destination, content_type)
        return await self._poster.post(row["url"], body(signature, row["payload"]), destination)

    def _report(self, row: dict[str, Any], result: PostResult, decision: Decision) -> None:
        facts = {
            "outbox_id": row["id"],
            "event_id": row["event_id"],
            "domain": row["domain"],
            "webhook": row["kind"],
            "endpoint": row["endpoint"],
            "attempt": row["attempts"],
            "http_status": result.status,
            "error": result.error,
        }
        failing_for = self._clock() - row["created_at"]
        if decision.verdict is Verdict.DELIVERED:
            return
        if decision.verdict is Verdict.FAILED:
            log.warning("webhook_given_up", failing_seconds=round(failing_for), **facts)
        elif decision.verdict is Verdict.DROPPED:
            log.info("webhook_dropped", note="the receiver answered 406: not retried", **facts)
        elif failing_for >= self._config.report_after:
            log.warning("webhook_endpoint_failing", failing_seconds=round(failing_for), **facts)
        else:
            log.info("webhook_attempt_failed", next_attempt_at=decision.due_at, **facts)

    async def _settle_done(self) -> None:
        """Write every outcome that ended meanwhile in one transaction, until none are left."""
        while self._done:
            taken, self._done = self._done, []
            updates = [_update(o) for o in taken]
            now = self._clock()

            async def write(
                conn: AsyncConnection, updates: list[dict[str, Any]] = updates, now: float = now
            ) -> None:
                await queries.settle_outbox(conn, updates, worker=self._name, now=now)

            try:
                await self._store.write(write)
            except Exception:
                # The rows stay claimed; their lease runs out and they are sent again.
                log.exception("webhook_settle_failed", worker=self._name, count=len(taken))

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._config.lease / 3)
            if not self._busy and not self._done:
                continue
            until = self._clock() + self._config.lease

            async def renew(conn: AsyncConnection, until: float = until) -> None:
                await queries.renew_outbox(conn, worker=self._name, until=until)

            try:
                await self._store.write(renew)
            except Exception:
                log.exception("webhook_lease_renewal_failed", worker=self._name)


def _update(outcome: _Outcome) -> dict[str, Any]:
    result, decision = outcome.result, outcome.decision
    error = result.error
    if error is None and decision.verdict is not Verdict.DELIVERED:
        error = f"HTTP {result.status}"
    return {
        "b_id": outcome.row["id"],
        "b_status": decision.status,
        "b_due": decision.due_at if decision.due_at is not None else outcome.row["due_at"],
        "b_code": result.status,
        "b_error": error,
        "b_answer": result.answer or None,
    }
