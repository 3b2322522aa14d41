"""What the egress choice reads, as plain values (pure): the configured sources, the pools,
each domain's assigned addresses and pool, and each warming address's progress."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Source:
    """An egress source address (``MAILWRIGHT_EGRESS_SOURCES``) and its HELO name."""

    ip: str  # canonical text form, as ``ipaddress`` writes it
    helo: str


@dataclass(frozen=True, slots=True)
class Pool:
    pool_id: str
    name: str
    description: str
    ips: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Warmup:
    """One address in warm-up: started at ``started_at``; ``sent`` messages on warm-up day
    ``day`` (whole days since the start, from 0), ``hour_sent`` in warm-up hour ``hour``."""

    ip: str
    started_at: float
    day: int
    sent: int
    hour: int = 0
    hour_sent: int = 0

    def sent_on(self, day: int, hour: int) -> tuple[int, int]:
        """What was sent on ``day`` and in ``hour`` (0 for a day or hour not yet counted)."""
        return (self.sent if self.day == day else 0, self.hour_sent if self.hour == hour else 0)


@dataclass(frozen=True, slots=True)
class Assignments:
    pools: Mapping[str, Pool] = field(default_factory=dict)
    domain_ips: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    domain_pools: Mapping[str, str] = field(default_factory=dict)  # domain -> pool_id
    warmups: Mapping[str, Warmup] = field(default_factory=dict)


def source_named(sources: tuple[Source, ...], ip: str) -> Source | None:
    """The configured source whose address is ``ip`` (canonical form), else None."""
    for source in sources:
        if source.ip == ip:
            return source
    return None
