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
    ``day`` (days since the start, counted from 0)."""

    ip: str
    started_at: float
    day: int
    sent: int


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
