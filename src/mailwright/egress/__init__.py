"""Egress sources and IP pools: the configured source addresses, pools grouping them, their
assignment to sending domains, and warm-up state; read by the API and the delivery engine."""

from mailwright.egress.records import Assignments, Pool, Source, Warmup, source_named
from mailwright.egress.service import EgressDirectory, canonical_ip

__all__ = [
    "Assignments",
    "EgressDirectory",
    "Pool",
    "Source",
    "Warmup",
    "canonical_ip",
    "source_named",
]
