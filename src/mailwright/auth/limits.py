"""Request limits per API key and per domain, held across every API process.

A limit is ``limit`` requests per fixed window of ``period`` seconds, the windows aligned to
the Unix epoch so every process agrees where one starts. On PostgreSQL the count is shared:
each process leases a chunk of the window (``chunk = ceil(limit / 20)``) from one counter row
per (scope, window) and admits requests from its lease without touching the database, so a
process makes at most 20 round trips per scope and window, not one per request. The shared
row only grows, so the limit is never exceeded; what a process leased and did not use is lost
to the others until the window ends (at most ``chunk - 1`` per process), so with ``P``
processes at least ``limit - P * (chunk - 1)`` requests are admitted. A limit of 20 or less
leases one request at a time and is exact. On SQLite (one machine, one API process) the count
stays in the process and is exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.errors import RateLimited
from mailwright.store import Store, limits

LEASES_PER_WINDOW = 20
MAX_TRACKED = 10_000  # scopes remembered per limiter before old windows are dropped


@dataclass(frozen=True, slots=True)
class RequestLimit:
    limit: int  # requests per window
    period: float  # window length in seconds

    @property
    def chunk(self) -> int:
        return max(1, math.ceil(self.limit / LEASES_PER_WINDOW))


@dataclass(frozen=True, slots=True)
class Verdict:
    limit: int
    remaining: int
    reset: int  # Unix time the window ends
    is_allowed: bool
    retry_after: int  # seconds until the window ends (0 when allowed)


@dataclass(slots=True)
class _Window:
    start: int
    leased: int = 0  # what this process may admit in the window
    used: int = 0  # what it admitted
    seen: int = 0  # the shared count after this process's last lease
    is_exhausted: bool = False  # the shared count reached the limit: stop asking


class RequestLimiter:
    """One limit over many scopes (``key:<id>``, ``domain:<name>``)."""

    def __init__(
        self, store: Store | None, limit: RequestLimit, clock: Callable[[], float]
    ) -> None:
        self._store = store  # None: count in this process only
        self._limit = limit
        self._clock = clock
        self._windows: dict[str, _Window] = {}

    async def take(self, scope: str) -> Verdict:
        """Count one request against ``scope``; the verdict says whether it may proceed."""
        now = self._clock()
        window = self._window(scope, now)
        if window.used >= window.leased and not window.is_exhausted:
            await self._lease(scope, window)
        is_allowed = window.used < window.leased
        if is_allowed:
            window.used += 1
        reset = window.start + self._limit.period
        return Verdict(
            limit=self._limit.limit,
            remaining=self._remaining(window),
            reset=math.ceil(reset),
            is_allowed=is_allowed,
            retry_after=0 if is_allowed else max(1, math.ceil(reset - now)),
        )

    def _window(self, scope: str, now: float) -> _Window:
        period = self._limit.period
        start = int(now // period * period)
        window = self._windows.get(scope)
        if window is None or window.start != start:
            if len(self._windows) >= MAX_TRACKED:
                self._windows = {k: w for k, w in self._windows.items() if w.start == start}
            window = self._windows[scope] = _Window(start=start)
        return window

    async def _lease(self, scope: str, window: _Window) -> None:
        limit = self._limit.limit
        if self._store is None:
            window.leased = window.seen = limit
            window.is_exhausted = True
            return
        chunk = self._limit.chunk

        async def lease(conn: AsyncConnection) -> int:
            return await limits.lease_window(conn, scope, window.start, chunk=chunk)

        before = await self._store.write(lease)
        window.leased += max(0, min(chunk, limit - before))
        window.seen = before + chunk
        window.is_exhausted = window.seen >= limit

    def _remaining(self, window: _Window) -> int:
        return max(0, self._limit.limit - window.seen) + (window.leased - window.used)


@dataclass
class RequestLimits:
    """The per-key and per-domain limiters of one API process (None: that limit is off)."""

    key: RequestLimiter | None = None
    domain: RequestLimiter | None = None

    async def check(self, key_id: str, domain: str | None) -> Verdict | None:
        """Count a request of ``key_id`` (for ``domain``); raises ``RateLimited`` when over a
        limit, else returns the tighter verdict (for the response headers). A request refused
        by the key limit does not count against the domain."""
        verdicts: list[Verdict] = []
        if self.key is not None:
            verdicts.append(_allowed(await self.key.take("key:" + key_id), "key"))
        if self.domain is not None and domain:
            verdicts.append(_allowed(await self.domain.take("domain:" + domain), "domain"))
        return min(verdicts, key=lambda v: v.remaining) if verdicts else None


def _allowed(verdict: Verdict, what: str) -> Verdict:
    if not verdict.is_allowed:
        raise RateLimited(
            f"Too many requests for this {what}: the limit is {verdict.limit} requests; "
            f"retry in {verdict.retry_after} seconds",
            limit=verdict.limit,
            reset=verdict.reset,
            retry_after=verdict.retry_after,
        )
    return verdict
