"""SQL for the reports that read rows other than the stat counters: finished validation jobs
(usage metrics) and the delivery outcome events (bounce classification).

Outcome events are read in ``seq`` order, one page at a time (``after`` the last ``seq`` seen),
so a report over days of events never holds them all at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, null, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import schema

FINISHED = ("completed", "failed")  # a job's validations are counted when it ends


async def finished_validation_jobs(
    conn: AsyncConnection, *, kinds: Sequence[str], start: float, end: float
) -> list[tuple[float, str, int]]:
    """(finished at, kind, addresses validated) of the jobs of these kinds that completed or
    failed in [start, end); a job's last progress report is when it finished."""
    jobs = schema.validation_jobs
    rows = await conn.execute(
        select(jobs.c.updated_at, jobs.c.kind, jobs.c.records_processed).where(
            jobs.c.kind.in_(kinds),
            jobs.c.status.in_(FINISHED),
            jobs.c.updated_at >= start,
            jobs.c.updated_at < end,
        )
    )
    return [(float(r[0]), str(r[1]), int(r[2])) for r in rows]


@dataclass(frozen=True, slots=True, kw_only=True)
class OutcomeSlice:
    """Which events of one type ``outcome_events`` reads."""

    event: str  # delivered | failed
    start: float  # timestamps in [start, end)
    end: float
    test: bool = False  # test-mode events only
    domains: tuple[str, ...] | None = None  # only these domains (None: all)
    not_domains: tuple[str, ...] = ()
    with_payload: bool = True  # else the payload column reads as None


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    seq: int
    timestamp: float
    domain: str
    recipient: str
    tags_key: str  # "|tag1|tag2|", lower-cased
    severity: str | None
    payload: str | None  # the event JSON, when asked for


async def outcome_events(
    conn: AsyncConnection, part: OutcomeSlice, *, after: int, limit: int
) -> list[OutcomeRow]:
    """Up to ``limit`` matching events with ``seq`` above ``after``, in ``seq`` order."""
    e = schema.events
    where: list[ColumnElement[bool]] = [
        e.c.event == part.event,
        e.c.timestamp >= part.start,
        e.c.timestamp < part.end,
        e.c.seq > after,
    ]
    if part.test:
        where.append(e.c.is_test_mode.is_(True))
    if part.domains is not None:
        where.append(e.c.domain.in_(part.domains))
    if part.not_domains:
        where.append(e.c.domain.not_in(part.not_domains))
    payload = e.c.payload if part.with_payload else null()
    rows = await conn.execute(
        select(e.c.seq, e.c.timestamp, e.c.domain, e.c.recipient, e.c.tags_key, e.c.severity)
        .add_columns(payload)
        .where(*where)
        .order_by(e.c.seq)
        .limit(limit)
    )
    return [
        OutcomeRow(
            int(r[0]),
            float(r[1]),
            str(r[2]),
            str(r[3]),
            str(r[4]),
            None if r[5] is None else str(r[5]),
            None if r[6] is None else str(r[6]),
        )
        for r in rows
    ]
