"""The uptime loop: every running role checks itself each interval and the result is stored
with the endpoint counts gathered since the last round; old rows are pruned in the same loop.

A role's check is a list of named probes (built in ``app.py``: the database answers, the
queue can be read, the delivery worker runs, the SMTP listeners greet). A probe returns None
when fine, else what is wrong; the check is ok when every probe is. When the database cannot
take the rows they wait in memory (a bounded number) and go with the next write, so an outage
of the database shows as failed checks rather than only as a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.logs import get_logger
from mailwright.store import Store, uptime
from mailwright.store.uptime import CheckRow
from mailwright.uptime.counters import EndpointCounts

log = get_logger(__name__)

Probe = Callable[[], Awaitable[str | None]]  # None: fine; else what is wrong
PROBE_TIMEOUT = 5.0
MAX_PENDING = 2880  # checks kept while the database is away: a day of one role at 30 s
PRUNE_EVERY = 3600.0


@dataclass(frozen=True, slots=True)
class UptimeConfig:
    node: str  # MAILWRIGHT_NODE_NAME
    interval: float  # seconds between two checks of a role
    retention: float  # seconds the rows are kept


class UptimeMonitor:
    def __init__(
        self,
        store: Store,
        config: UptimeConfig,
        roles: Mapping[str, Sequence[tuple[str, Probe]]],
        endpoints: EndpointCounts,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._config = config
        self._roles = roles
        self._endpoints = endpoints
        self._clock = clock
        self._pending: list[CheckRow] = []
        self._pruned_at = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Checks waiting in memory for the database to take them."""
        return len(self._pending)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop checking; the endpoint counts since the last round are written once more."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._write([], self._clock(), prune=False)

    async def _run(self) -> None:
        # Rounds keep to a fixed grid (start + k * interval), so the sleep's lateness does not
        # add up into gaps that would count as down; a round that overran starts a new grid.
        interval = self._config.interval
        due = time.monotonic()
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("uptime_round_failed", node=self._config.node)
            due += interval
            now = time.monotonic()
            if due < now:
                due = now
            await asyncio.sleep(due - now)

    async def run_once(self) -> None:
        """Check every role (at once), then store the results and the endpoint counts."""
        now = self._clock()
        checks = await asyncio.gather(
            *(self._check(role, probes, now) for role, probes in self._roles.items())
        )
        for check in checks:
            if not check.is_ok:
                log.warning("uptime_check_failed", role=check.role, detail=check.detail)
        await self._write(checks, now, prune=now - self._pruned_at >= PRUNE_EVERY)

    async def _check(self, role: str, probes: Sequence[tuple[str, Probe]], now: float) -> CheckRow:
        started = time.perf_counter()
        failures = []
        for name, probe in probes:
            try:
                failure = await asyncio.wait_for(probe(), PROBE_TIMEOUT)
            except TimeoutError:
                failure = f"no answer within {PROBE_TIMEOUT:g}s"
            if failure:
                failures.append(f"{name}: {failure}")
        return CheckRow(
            node=self._config.node,
            role=role,
            checked_at=now,
            is_ok=not failures,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            interval=self._config.interval,
            detail="; ".join(failures),
        )

    async def _write(self, checks: Sequence[CheckRow], now: float, *, prune: bool) -> None:
        rows = [*self._pending, *checks]
        drained = self._endpoints.drain()
        node = self._config.node
        counts = [
            {
                "node": node,
                "method": method,
                "route": route,
                "hour": hour,
                "requests": requests,
                "errors": errors,
            }
            for (method, route, hour), (requests, errors) in drained.items()
        ]
        if not rows and not counts and not prune:
            return
        before = now - self._config.retention

        async def write(conn: AsyncConnection) -> Any:
            await uptime.record(conn, rows, counts)
            if prune:
                await uptime.prune(conn, before)

        try:
            await self._store.write(write)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("uptime_write_failed", node=node, pending=len(rows), error=str(exc))
            self._pending = rows[-MAX_PENDING:]
            self._endpoints.restore(drained)
            return
        self._pending = []
        if prune:
            self._pruned_at = now
