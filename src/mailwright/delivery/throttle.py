"""Per-destination rate limits, as pure arithmetic (KumoMTA's ``ThrottleSpec`` shape).

A spec like ``"600/min"`` becomes a token bucket holding at most ``burst`` tokens and refilled
at ``rate`` per second; ``TokenBucket.take(now)`` says how long to wait before the next send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_UNITS = {
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}
_SPEC = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*([a-z]+)\s*")


def parse_rate(text: str) -> tuple[float, float]:
    """``"600/min"`` -> ``(600.0, 60.0)``: a count and the period it is allowed in, in seconds."""
    match = _SPEC.fullmatch(text.lower())
    if match is None or match.group(2) not in _UNITS or float(match.group(1)) <= 0:
        raise ValueError("expected a rate like 100/s, 600/min, 5000/h or 20000/day")
    return float(match.group(1)), _UNITS[match.group(2)]


@dataclass(frozen=True, slots=True)
class ThrottleSpec:
    per_second: float
    burst: float

    @classmethod
    def parse(cls, text: str) -> ThrottleSpec:
        """``"100/s"``, ``"600/min"``, ``"5000/h"``, ``"20000/day"``; burst = one second's worth
        (at least one message)."""
        count, period = parse_rate(text)
        per_second = count / period
        return cls(per_second=per_second, burst=max(1.0, per_second))


@dataclass(slots=True)
class TokenBucket:
    spec: ThrottleSpec
    tokens: float
    updated: float

    @classmethod
    def full(cls, spec: ThrottleSpec, now: float) -> TokenBucket:
        return cls(spec=spec, tokens=spec.burst, updated=now)

    def take(self, now: float) -> float:
        """Take one token; returns 0 when allowed now, else the seconds to wait first.

        tokens = min(burst, tokens + (now - updated) * rate); a send needs one token, and a
        caller told to wait has its token reserved (tokens may go negative).
        """
        self.tokens = min(
            self.spec.burst, self.tokens + max(0.0, now - self.updated) * self.spec.per_second
        )
        self.updated = now
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.spec.per_second


# A worker leases this many seconds' worth of a site's rate per database round trip.
LEASE_SECONDS = 0.25


def lease_size(spec: ThrottleSpec, lease_seconds: float = LEASE_SECONDS) -> int:
    """Tokens to lease per round trip: ``per_second * lease_seconds``, at least 1, at most
    the burst (600/min leases 2 at a time, 1000/s leases 250)."""
    return max(1, min(int(spec.burst), int(spec.per_second * lease_seconds)))


@dataclass(frozen=True, slots=True)
class Lease:
    """Tokens taken from a shared bucket in one round trip, as the times they become valid.

    The shared bucket reserves like ``TokenBucket.take``: after taking ``count`` tokens the
    balance is ``balance``; token j (1..count) left a balance of ``balance + count - j``, so
    it is valid ``max(0, -(balance + count - j)) / per_second`` seconds after ``now``.
    """

    valid_at: tuple[float, ...]

    @classmethod
    def reserved(cls, spec: ThrottleSpec, balance: float, count: int, now: float) -> Lease:
        rate = spec.per_second
        return cls(
            tuple(now + max(0.0, -(balance + count - j)) / rate for j in range(1, count + 1))
        )


@dataclass(slots=True)
class LeasedTokens:
    """This process's share of one site's rate: leased tokens, each usable from its valid time
    for ``ttl`` seconds. A token unused by then is dropped (a slow worker gives its unused
    share back to time, never to a later burst)."""

    ttl: float
    valid_at: list[float] = field(default_factory=list)
    size: int = 0  # tokens in the latest lease
    dropped: int = 0  # of those, dropped unused

    def add(self, lease: Lease) -> None:
        self.valid_at.extend(lease.valid_at)
        self.valid_at.sort()
        self.size, self.dropped = len(lease.valid_at), 0

    def take(self, now: float) -> float | None:
        """Seconds to wait before sending on the next token; None when none is left."""
        while self.valid_at and self.valid_at[0] + self.ttl < now:
            self.valid_at.pop(0)
            self.dropped += 1
        if not self.valid_at:
            return None
        return max(0.0, self.valid_at.pop(0) - now)

    def next_size(self, most: int) -> int:
        """Tokens to lease next (slow start): 1 at first; twice the last lease when all of it
        was used, up to ``most``; else as many as were used. A worker that sends little leases
        little, so it cannot hold back a share of the rate that busier workers would use."""
        if self.size == 0:
            return 1
        if self.dropped == 0:
            return min(most, 2 * self.size)
        return min(most, max(1, self.size - self.dropped))
