"""The delivery worker: claim due deliveries, check suppressions, render and sign each job's
bytes, hand it to the transport, and settle the outcomes with their events.

The loop keeps claiming while jobs are in flight (up to ``max_in_flight``), and a destination
with ``per_domain_in_flight`` deliveries already in progress is left out of the next claims, so
one slow or tempfailing destination never holds up the others. Claims carry a lease: a worker
that dies leaves its deliveries to be claimed again when the lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright import jsontext
from mailwright.delivery.classify import reply_class
from mailwright.delivery.jobs import Job, Result, plan
from mailwright.delivery.quota import split_by_quota, windows
from mailwright.delivery.retry import RetrySchedule
from mailwright.delivery.settle import Decision, Settled, settle
from mailwright.delivery.smtp_client import TlsPolicy
from mailwright.delivery.transports import Transport, TransportStopped
from mailwright.domains import DomainCache, sign_message
from mailwright.errors import NotFound
from mailwright.logs import get_logger
from mailwright.messages import StoredMessage, Tracking, TrackingKey, load_many, tracking_for
from mailwright.store import DeliveryId, DeliveryRow, Store, limits, queries
from mailwright.suppressions import check_many

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    retention: float  # seconds captured mail is kept
    schedule: RetrySchedule
    sign_dkim: bool = True  # capture mode skips signing: nothing leaves the machine
    verify_tls: bool | None = None  # MAILWRIGHT_TLS_VERIFY: overrides message/domain settings
    batch: int = 200
    lease: float = 900.0  # longer than the slowest possible attempt (RFC 5321 timeouts)
    idle_poll: float = 1.0
    batch_window: float = 0.02
    max_in_flight: int = 2000
    per_domain_in_flight: int = 200
    public_url: str = ""  # base of tracking and unsubscribe links; empty: no tracking


class DeliveryWorker:
    def __init__(
        self,
        store: Store,
        config: WorkerConfig,
        transport: Transport,
        domains: DomainCache,
        clock: Callable[[], float] = time.time,
        tracking_key: TrackingKey | None = None,
    ) -> None:
        self._store = store
        self._tracking_key = tracking_key
        self._config = config
        self._transport = transport
        self._domains = domains
        self._clock = clock
        self._name = f"worker-{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._batches: set[asyncio.Task[None]] = set()
        self._busy: Counter[str] = Counter()
        self._renewer: asyncio.Task[None] | None = None
        self._to_settle: list[tuple[list[Settled], asyncio.Future[None]]] = []
        self._settler: asyncio.Task[None] | None = None
        self._attempts: Counter[tuple[str, str]] = Counter()

    @property
    def name(self) -> str:
        """What this worker writes in ``claimed_by``."""
        return self._name

    @property
    def attempts(self) -> Counter[tuple[str, str]]:
        """Attempts this worker settled since it started, by (outcome, reply class): read by
        ``/metrics`` (a per-process count, as Prometheus counters are)."""
        return self._attempts

    @property
    def is_running(self) -> bool:
        """The claiming loop runs: started, and neither stopped nor crashed."""
        return self._task is not None and not self._task.done()

    def kick(self) -> None:
        """New work was committed: look now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run())
        self._renewer = asyncio.create_task(self._renew_leases())

    async def _renew_leases(self) -> None:
        """Extend the lease of every delivery still in progress here, a third of a lease at a
        time, so a long batch (a slow site, a rate limit) is never claimed twice while this
        worker lives; a worker that dies stops renewing and its claims run out."""
        while True:
            await asyncio.sleep(self._config.lease / 3)
            if not self._busy:
                continue
            until = self._clock() + self._config.lease

            async def renew(conn: AsyncConnection, until: float = until) -> None:
                await queries.renew_claims(conn, worker=self._name, until=until)

            try:
                await self._store.write(renew)
            except Exception:
                log.exception("lease_renewal_failed", worker=self._name)

    async def stop(self, grace: float = 30.0) -> None:
        """Stop claiming, let SMTP transactions under way finish and settle (up to ``grace``),
        begin no new ones, and release every claim left: nothing stays claimed by a worker
        that is gone, and nothing half-sent is left to a lease."""
        self._transport.stop_starting()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._batches:
            _, pending = await asyncio.wait(self._batches, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._settler is not None:
            # Outcomes already handed to the settler are written before the claims go: a
            # release first would make that write find nothing held and drop a delivered mail.
            with contextlib.suppress(Exception):
                await self._settler
        if self._renewer is not None:  # kept renewing through the grace: a short lease holds
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        await self._transport.close()

        async def release(conn: AsyncConnection) -> None:
            await queries.release_claims(conn, worker=self._name)

        await self._store.write(release)

    @property
    def in_flight(self) -> int:
        return sum(self._busy.values())

    async def run(self) -> None:
        while True:
            try:
                claimed = await self._claim()
            except Exception:
                log.exception("delivery_claim_failed", worker=self._name)
                claimed = []
            if claimed:
                self._spawn(claimed)
            else:
                await self._sleep()
            while self.in_flight >= self._config.max_in_flight:
                self._room.clear()
                await self._room.wait()

    async def _claim(self) -> list[DeliveryRow]:
        now = self._clock()
        limit = min(self._config.batch, self._config.max_in_flight - self.in_flight)
        busy = [d for d, n in self._busy.items() if n >= self._config.per_domain_in_flight]

        async def claim(conn: AsyncConnection) -> list[DeliveryRow]:
            claimed = await queries.claim_due(
                conn,
                worker=self._name,
                now=now,
                lease=self._config.lease,
                limit=limit,
                skip_locked=self._store.is_postgres,
                exclude_domains=busy,
            )
            return await hold_over_quota(conn, claimed, worker=self._name, now=now)

        return await self._store.write(claim) if limit > 0 else []

    def _hold(self, claimed: Sequence[DeliveryRow]) -> None:
        self._busy.update(d.recipient_domain for d in claimed)

    def _spawn(self, claimed: list[DeliveryRow]) -> None:
        self._hold(claimed)
        task = asyncio.create_task(self._process(claimed))
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)

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

    async def _process(self, claimed: list[DeliveryRow]) -> None:
        """Deliver a claimed batch; each job's outcomes are settled as soon as that job ends,
        so a slow destination in the batch does not hold up the others' results."""
        pending = {d.id: d for d in claimed}
        try:
            messages = await load_many(self._store, sorted({d.message_key for d in claimed}))
            suppressed, rest = await self._suppressed(claimed, messages)
            if suppressed:
                await self._settle(suppressed, messages)
                self._release([r.delivery for r in suppressed], pending)
            tracking = await self._tracking(messages)
            personal = {k for k, t in tracking.items() if t.applies_to(messages[k].spec)}
            jobs = plan(rest, messages, personal)
            await asyncio.gather(
                *(
                    self._deliver(job, messages, pending, tracking.get(job.message.row.id))
                    for job in jobs
                )
            )
        except Exception:
            log.exception("delivery_batch_failed", worker=self._name, count=len(pending))
        finally:
            self._release(list(pending.values()), pending)

    async def _tracking(self, messages: dict[str, StoredMessage]) -> dict[str, Tracking]:
        """Each message's tracking, from its domain's settings and its o:tracking* options."""
        if self._tracking_key is None or not self._config.public_url:
            return {}
        key = await self._tracking_key.get()
        found: dict[str, Tracking] = {}
        for message_key, message in messages.items():
            try:
                domain = await self._domains.get(message.row.domain)
            except NotFound:
                continue
            found[message_key] = tracking_for(
                message, domain, key=key, base_url=self._config.public_url
            )
        return found

    async def _deliver(
        self,
        job: Job,
        messages: dict[str, StoredMessage],
        pending: dict[DeliveryId, DeliveryRow],
        tracking: Tracking | None,
    ) -> None:
        try:
            results = await self._run_job(job, tracking)
            if results:
                await self._settle(results, messages)
        finally:
            self._release(list(job.deliveries), pending)

    def _release(self, done: Sequence[DeliveryRow], pending: dict[DeliveryId, DeliveryRow]) -> None:
        """``done`` no longer count against their destination's in-flight limit."""
        for d in done:
            if pending.pop(d.id, None) is not None:
                self._busy[d.recipient_domain] -= 1
                if self._busy[d.recipient_domain] <= 0:
                    del self._busy[d.recipient_domain]
        self._room.set()

    async def _settle(self, results: list[Result], messages: dict[str, StoredMessage]) -> None:
        """Queue ``results`` for the next settle write and wait until it is committed.

        Jobs end one by one; writing each alone would cost a transaction's statements per job.
        Results that arrive while a write is in progress go together in the next one.
        """
        items = [
            Settled(
                result=r,
                facts=messages[r.delivery.message_key].facts,
                subject=messages[r.delivery.message_key].subject_for(
                    r.delivery.recipient, _member(r.delivery)
                ),
            )
            for r in results
        ]
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._to_settle.append((items, done))
        if self._settler is None or self._settler.done():
            self._settler = asyncio.create_task(self._settle_pending())
        await done

    async def _settle_pending(self) -> None:
        while self._to_settle:
            taken, self._to_settle = self._to_settle, []
            items = [item for batch, _ in taken for item in batch]
            try:
                written, settled = await self._write_settled(items, self._clock())
            except Exception as exc:
                for _, done in taken:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, done in taken:
                if not done.done():
                    done.set_result(None)
            self._count(settled)
            if written < len(items):
                log.warning(
                    "deliveries_lost_lease",
                    count=len(items) - written,
                    worker=self._name,
                    note="claimed again elsewhere after the lease ran out; not recorded here",
                )
            log.info("deliveries_settled", count=written, worker=self._name)

    def _count(self, settled: list[tuple[Result, Decision]]) -> None:
        self._attempts.update(
            (str(decision.outcome), reply_class(result.code))
            for result, decision in settled
            if result.attempted
        )

    async def _write_settled(
        self, items: list[Settled], now: float
    ) -> tuple[int, list[tuple[Result, Decision]]]:
        async def write(conn: AsyncConnection) -> tuple[int, list[tuple[Result, Decision]]]:
            return await settle(
                conn,
                items,
                worker=self._name,
                schedule=self._config.schedule,
                now=now,
                retention=self._config.retention,
            )

        return await self._store.write(write)

    async def _suppressed(
        self, claimed: list[DeliveryRow], messages: dict[str, StoredMessage]
    ) -> tuple[list[Result], list[DeliveryRow]]:
        suppressed: list[Result] = []
        rest: list[DeliveryRow] = []
        wanted = []
        test = []
        for d in claimed:
            message = messages.get(d.message_key)
            wanted.append((d.domain, d.recipient, message.facts.tags if message else []))
            # A test environment's mail meets the test lists, not the live ones.
            test.append(message is not None and message.spec.get("environment") == "test")
        async with self._store.read() as conn:
            reasons = await check_many(conn, wanted, test=test)
        for d, reason in zip(claimed, reasons, strict=True):
            if reason is None:
                rest.append(d)
            else:
                suppressed.append(
                    Result(
                        delivery=d,
                        code=None,
                        enhanced=None,
                        text="",
                        suppressed=reason,
                        attempted=False,
                    )
                )
        return suppressed, rest

    async def _run_job(self, job: Job, tracking: Tracking | None = None) -> list[Result]:
        if job.message.row.is_test_mode:
            # Mailgun's test mode: accepted and logged as delivered, never sent. A test
            # environment's mail is captured into the inbox too, whatever the delivery mode.
            is_captured = job.message.spec.get("environment") == "test"
            captured = await self._data(job, tracking) if is_captured else None
            return [
                Result(
                    delivery=d,
                    code=250,
                    enhanced="2.0.0",
                    text="OK (test mode)",
                    attempted=False,
                    mx_host="capture" if is_captured else "",
                    captured=captured,
                )
                for d in job.deliveries
            ]
        try:
            data = await self._data(job, tracking)
            return await self._transport.send(job, data, await self._tls(job))
        except TransportStopped:
            return []  # shutting down before its turn: released unattempted, due again at once
        except Exception:
            log.exception("delivery_job_failed", worker=self._name, message_key=job.message.row.id)
            return [
                Result(
                    delivery=d,
                    code=451,
                    enhanced="4.3.0",
                    text="Local error in processing",
                    attempted=False,
                )
                for d in job.deliveries
            ]

    async def _data(self, job: Job, tracking: Tracking | None) -> bytes:
        first = job.deliveries[0]
        index = first.recipient_index if job.is_personal else 0
        if tracking is not None and not job.personal:
            tracking = None  # nothing of it applies to this message: shared bytes stay shared
        member = _member(first)
        raw = job.message.render_for(first.recipient, index, tracking, member)
        options = job.message.spec.get("options") or {}
        if not self._config.sign_dkim or options.get("dkim") is False:
            return raw
        try:
            domain = await self._domains.get(first.domain)
        except NotFound:
            return raw
        return sign_message(raw, domain, self._store.keyring)

    async def _tls(self, job: Job) -> TlsPolicy:
        options = job.message.spec.get("options") or {}
        require = bool(options.get("require-tls"))
        skip = bool(options.get("skip-verification"))
        with contextlib.suppress(NotFound):
            domain = await self._domains.get(job.deliveries[0].domain)
            require = require or domain.require_tls
            skip = skip or domain.skip_verification
        verify = not skip if self._config.verify_tls is None else self._config.verify_tls
        return TlsPolicy(require_tls=require, verify=verify)


async def hold_over_quota(
    conn: AsyncConnection, claimed: list[DeliveryRow], *, worker: str, now: float
) -> list[DeliveryRow]:
    """Count claimed deliveries against their domain's sending quota, in the claim's
    transaction; those over it go back to the queue, due when the next window opens. The
    quota rows stay locked until commit on PostgreSQL, so workers claiming for one limited
    domain take turns and each sees what the other counted."""
    quotas = await limits.lock_quotas(conn, sorted({d.domain for d in claimed}))
    if not quotas:
        return claimed
    current = windows(now)
    usage = await limits.usage_of(conn, sorted(quotas), current)
    limited = [(int(d.id), d.domain) for d in claimed if d.domain in quotas]
    split = split_by_quota(limited, quotas, usage, now)
    await limits.add_usage(conn, split.sent, current)
    await limits.hold_deliveries(conn, split.held, worker=worker, now=now)
    if split.held:
        log.info("deliveries_held_by_quota", held=len(split.held), worker=worker)
    return [d for d in claimed if int(d.id) not in split.held]


def _member(delivery: DeliveryRow) -> dict[str, Any] | None:
    """A list delivery's member data (``{"list", "name", "vars"}``), else None."""
    return jsontext.loads(delivery.member) if delivery.member else None
