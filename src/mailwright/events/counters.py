"""Which stat counters an event increments, and Mailgun's stats entry built from counters (pure).

Every event counts once under the tag ``""`` (all messages) and once under each of its tags
(lower-cased), in the hour it happened. A stat is a dotted path into Mailgun's stats entry:

=========================  ==========================================================
``accepted.outgoing``      accepted, sent through the API or SMTP submission
``accepted.incoming``      accepted inbound message (``flags.is-routed``)
``delivered.smtp``         delivered over SMTP (the capture inbox counts as SMTP)
``delivered.http``         delivered by HTTP POST (``envelope.transport`` is ``http``)
``failed.temporary.*``     ``total``, and ``espblock`` when that is the reason
``failed.permanent.*``     ``total``, and the reason when it is one Mailgun counts
                           (``bounce``, ``delayed-bounce``, ``suppress-*``, ...)
``opened.total`` ...       opened, clicked, unsubscribed, complained, stored
=========================  ==========================================================

``accepted.total`` and ``delivered.total`` are sums of their parts, computed when read;
failure totals are counted, because reasons Mailgun has no field for (``old``, ``generic``)
count only in the total. Rejected and mailing-list events have no stats.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

HOUR = 3600

STAT_EVENTS = (
    "accepted",
    "delivered",
    "failed",
    "opened",
    "clicked",
    "unsubscribed",
    "complained",
    "stored",
)
PERMANENT_REASONS = (
    "suppress-bounce",
    "suppress-unsubscribe",
    "suppress-complaint",
    "bounce",
    "delayed-bounce",
    "webhook",
    "optimized",
)
TEMPORARY_REASONS = ("espblock",)
_TOTAL_ONLY = frozenset({"opened", "clicked", "unsubscribed", "complained", "stored"})

# Every stat each event's section is built from, for the query.
EVENT_STATS: dict[str, tuple[str, ...]] = {
    "accepted": ("accepted.incoming", "accepted.outgoing"),
    "delivered": ("delivered.smtp", "delivered.http", "delivered.optimized"),
    "failed": (
        *(f"failed.temporary.{r}" for r in TEMPORARY_REASONS),
        "failed.temporary.total",
        *(f"failed.permanent.{r}" for r in PERMANENT_REASONS),
        "failed.permanent.total",
    ),
    **{event: (f"{event}.total",) for event in _TOTAL_ONLY},
}


def stats_of(
    event: str,
    *,
    severity: str | None = None,
    reason: str | None = None,
    is_routed: bool = False,
    transport: str = "smtp",
) -> tuple[str, ...]:
    """The stats one event increments; ``()`` for events without stats."""
    if event == "accepted":
        return ("accepted.incoming" if is_routed else "accepted.outgoing",)
    if event == "delivered":
        return ("delivered.http" if transport == "http" else "delivered.smtp",)
    if event == "failed":
        kind = "permanent" if severity == "permanent" else "temporary"
        known = PERMANENT_REASONS if kind == "permanent" else TEMPORARY_REASONS
        total = f"failed.{kind}.total"
        return (f"failed.{kind}.{reason}", total) if reason in known else (total,)
    if event in _TOTAL_ONLY:
        return (f"{event}.total",)
    return ()


def stats_of_payload(payload: Mapping[str, Any]) -> tuple[str, ...]:
    """``stats_of`` for an event as the Events API returns it."""
    flags = payload.get("flags")
    envelope = payload.get("envelope")
    return stats_of(
        str(payload.get("event", "")),
        severity=payload.get("severity"),
        reason=payload.get("reason"),
        is_routed=bool(isinstance(flags, dict) and flags.get("is-routed")),
        transport=str(envelope.get("transport", "smtp")) if isinstance(envelope, dict) else "smtp",
    )


def tag_keys(tags: Iterable[Any]) -> list[str]:
    """The counter tags of an event: lower-cased, each once, in order."""
    return list(dict.fromkeys(str(t).lower() for t in tags))


def hour_of(timestamp: float) -> int:
    return int(timestamp // HOUR) * HOUR


def counter_rows(
    domain: str, tags: Sequence[str], stats: Sequence[str], timestamp: float, count: int = 1
) -> list[dict[str, Any]]:
    """Increments of ``count`` for each stat, under ``""`` and each tag (already ``tag_keys``)."""
    hour = hour_of(timestamp)
    return [
        {"domain": domain, "tag": tag, "stat": stat, "hour": hour, "count": count}
        for tag in ("", *tags)
        for stat in stats
    ]


def stats_entry(time: str, events: Sequence[str], counts: Mapping[str, int]) -> dict[str, Any]:
    """One element of Mailgun's ``stats`` list: the sections of ``events``, zeros included."""
    entry: dict[str, Any] = {"time": time}

    def get(stat: str) -> int:
        return counts.get(stat, 0)

    for event in events:
        if event == "accepted":
            incoming, outgoing = get("accepted.incoming"), get("accepted.outgoing")
            entry[event] = {
                "incoming": incoming,
                "outgoing": outgoing,
                "total": incoming + outgoing,
            }
        elif event == "delivered":
            parts = {p: get(f"delivered.{p}") for p in ("smtp", "http", "optimized")}
            entry[event] = parts | {"total": sum(parts.values())}
        elif event == "failed":
            entry[event] = {
                "temporary": {r: get(f"failed.temporary.{r}") for r in TEMPORARY_REASONS}
                | {"total": get("failed.temporary.total")},
                "permanent": {r: get(f"failed.permanent.{r}") for r in PERMANENT_REASONS}
                | {"total": get("failed.permanent.total")},
            }
        else:
            entry[event] = {"total": get(f"{event}.total")}
    return entry
