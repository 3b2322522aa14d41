"""Where a send waits for its destination site's rate: in this process, or shared by every
worker process on one PostgreSQL database.

``LocalThrottle`` keeps one ``TokenBucket`` per site in memory (SQLite: one machine, one
worker process). ``SharedThrottle`` leases a share of each site's rate from the
``site_throttles`` row (``store/throttles.py``): one statement per lease of up to
``lease_size`` tokens (a quarter second's worth), not per message, sized to what this process
used of its last lease; the sends wait on the leased tokens' valid times.

Approximation (README "Scaling out on PostgreSQL"): all workers together are granted at most
``burst + per_second * T`` tokens in any T seconds, and a leased token is used within
``LEASE_SECONDS`` of its valid time or dropped, so the sends to one site in any T seconds stay
within ``burst + per_second * (T + LEASE_SECONDS)``. Unused leased tokens are lost, never
saved up, so a quiet worker can only make the combined rate lower, not higher.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Protocol

from mailwright.delivery.adaptive import AdaptivePolicy, AdaptiveState, allowed_rate
from mailwright.delivery.replies import Reply
from mailwright.delivery.throttle import (
    LEASE_SECONDS,
    Lease,
    LeasedTokens,
    ThrottleSpec,
    TokenBucket,
    lease_size,
)
from mailwright.logs import get_logger
from mailwright.store import Store, throttles

log = get_logger(__name__)

Clock = Callable[[], float]


class SiteThrottle(Protocol):
    async def reserve(self, site: str) -> float:
        """Take the right to send one message to ``site``: seconds to wait before sending."""
        ...


class LocalThrottle:
    def __init__(self, spec: ThrottleSpec, clock: Clock) -> None:
        self._spec = spec
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    async def reserve(self, site: str) -> float:
        now = self._clock()
        return self._buckets.setdefault(site, TokenBucket.full(self._spec, now)).take(now)


class SharedThrottle:
    """``clock`` is wall-clock time (``time.time``): the buckets are shared between hosts."""

    def __init__(
        self,
        store: Store,
        spec: ThrottleSpec,
        clock: Clock,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self._store = store
        self._spec = spec
        self._clock = clock
        self._lease_seconds = lease_seconds
        self._tokens: dict[str, LeasedTokens] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def reserve(self, site: str) -> float:
        tokens = self._tokens.setdefault(site, LeasedTokens(ttl=self._lease_seconds))
        wait = tokens.take(self._clock())
        if wait is not None:
            return wait
        # One lease per site at a time: the coroutines waiting here share its tokens.
        async with self._locks.setdefault(site, asyncio.Lock()):
            wait = tokens.take(self._clock())
            if wait is not None:
                return wait
            now = self._clock()
            count = tokens.next_size(lease_size(self._spec, self._lease_seconds))
            balance = await self._store.write_alone(
                functools.partial(
                    throttles.lease_tokens,
                    site=site,
                    count=count,
                    per_second=self._spec.per_second,
                    burst=self._spec.burst,
                    now=now,
                )
            )
            tokens.add(Lease.reserved(self._spec, balance, count, now))
            wait = tokens.take(now)
            assert wait is not None  # a lease holds at least one token
            return wait


_NOT_SLOWED = AdaptiveState()


class ProviderThrottle:
    """Adaptive rates per destination provider (``adaptive.py``), in this process: a provider
    that is not slowed costs nothing; a slowed one is paced by a token bucket at its current
    rate, with a burst of one message."""

    def __init__(self, policy: AdaptivePolicy, clock: Clock) -> None:
        self._policy = policy
        self._clock = clock
        self._states: dict[str, AdaptiveState] = {}
        self._buckets: dict[str, TokenBucket] = {}

    def state(self, provider: str) -> AdaptiveState:
        return self._states.get(provider, _NOT_SLOWED)

    def reserve(self, provider: str) -> float:
        """Seconds to wait before the next send to ``provider``."""
        rate = allowed_rate(self.state(provider))
        if rate is None:
            return 0.0
        now = self._clock()
        spec = ThrottleSpec(per_second=rate, burst=1.0)
        bucket = self._buckets.get(provider)
        if bucket is None:
            bucket = self._buckets[provider] = TokenBucket.full(spec, now)
        bucket.spec = spec
        return bucket.take(now)

    def observe(self, provider: str, reply: Reply) -> None:
        before = self.state(provider)
        after = self._policy.on_reply(before, reply, self._clock())
        if after is before:
            return
        if after.rate is None:
            self._states.pop(provider, None)
            self._buckets.pop(provider, None)
            log.info("provider_rate_recovered", provider=provider)
            return
        self._states[provider] = after
        if after.cut_at != before.cut_at:
            log.info(
                "provider_rate_cut",
                provider=provider,
                per_second=round(after.rate, 3),
                smtp_code=reply.code,
                enhanced=reply.enhanced,
            )


__all__ = ["LocalThrottle", "ProviderThrottle", "SharedThrottle", "SiteThrottle"]
