"""Blocklist monitoring: look our egress addresses and sending domains up in DNS blocklists
every so often (worker role), keep the latest answer per (target, zone), log changes.

``current_listings`` is what a metrics exporter reads; ``list_blocklists`` feeds the API. A
failed lookup is stored as ``error`` and does not end a listing: ``listed_since`` is kept, so a
DNS outage neither hides nor restarts one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from mailwright.domains.dnsbl import Verdict, judge, query_name, target_kind
from mailwright.logs import get_logger
from mailwright.resolver import DnsLookupFailed, Resolver
from mailwright.store import BlocklistRow, Store, blocklists, queries

log = get_logger(__name__)

CONCURRENT_LOOKUPS = 16
MAX_DOMAINS = 10_000


@dataclass(frozen=True, slots=True)
class BlocklistConfig:
    ip_zones: tuple[str, ...]  # MAILWRIGHT_DNSBL_ZONES
    domain_zones: tuple[str, ...]  # MAILWRIGHT_DNSBL_DOMAIN_ZONES
    egress: tuple[str, ...]  # our sending addresses (MAILWRIGHT_EGRESS_SOURCES)
    interval: float = 3600.0  # seconds between two rounds

    @property
    def is_enabled(self) -> bool:
        return bool(self.ip_zones or self.domain_zones)


async def _sending_domains(store: Store) -> list[str]:
    async with store.read() as conn:
        _, rows = await queries.list_domains(conn, limit=MAX_DOMAINS, skip=0)
    return [r.name for r in rows if r.type != "sandbox"]


async def _lookup(resolver: Resolver, target: str, zone: str) -> Verdict:
    name = query_name(target, zone)
    try:
        addresses = await resolver.a(name)
        txt = await resolver.txt(name) if addresses else []
    except DnsLookupFailed as exc:
        return Verdict("error", reason=exc.reason)
    return judge(addresses, txt)


def _row(
    target: str, zone: str, verdict: Verdict, previous: BlocklistRow | None, now: float
) -> BlocklistRow:
    was_listed = previous is not None and previous.listed_since is not None
    if verdict.status == "listed":
        since: float | None = previous.listed_since if was_listed and previous else now
    elif verdict.status == "error" and previous is not None:
        since = previous.listed_since
    else:
        since = None
    return BlocklistRow(
        target=target,
        zone=zone,
        kind=target_kind(target),
        status=verdict.status,
        codes=",".join(verdict.codes),
        reason=verdict.reason,
        checked_at=now,
        listed_since=since,
    )


async def check_blocklists(
    store: Store, resolver: Resolver, config: BlocklistConfig, *, now: float
) -> list[BlocklistRow]:
    """One round: every (target, zone), concurrently up to ``CONCURRENT_LOOKUPS``."""
    domains = await _sending_domains(store) if config.domain_zones else []
    pairs = [(ip, zone) for ip in config.egress for zone in config.ip_zones]
    pairs += [(domain, zone) for domain in domains for zone in config.domain_zones]
    limit = asyncio.Semaphore(CONCURRENT_LOOKUPS)

    async def one(target: str, zone: str) -> Verdict:
        async with limit:
            return await _lookup(resolver, target, zone)

    verdicts = await asyncio.gather(*(one(t, z) for t, z in pairs))
    async with store.read() as conn:
        previous = {(r.target, r.zone): r for r in await blocklists.list_results(conn)}
    rows = [
        _row(t, z, v, previous.get((t, z)), now) for (t, z), v in zip(pairs, verdicts, strict=True)
    ]
    _log_changes(rows, previous)

    async def save(conn: Any) -> None:
        await blocklists.replace_results(conn, rows)

    await store.write(save)
    return rows


def _log_changes(
    rows: Sequence[BlocklistRow], previous: dict[tuple[str, str], BlocklistRow]
) -> None:
    for row in rows:
        before = previous.get((row.target, row.zone))
        # An error in between does not end a listing (listed_since is kept through it).
        was_listed = before is not None and before.listed_since is not None
        if row.status == "listed" and not was_listed:
            log.warning(
                "blocklist_listed",
                target=row.target,
                zone=row.zone,
                codes=row.codes,
                reason=row.reason,
            )
        elif row.status == "clean" and was_listed:
            log.info("blocklist_delisted", target=row.target, zone=row.zone)


async def list_blocklists(store: Store) -> list[BlocklistRow]:
    async with store.read() as conn:
        return await blocklists.list_results(conn)


async def current_listings(store: Store) -> list[BlocklistRow]:
    """The (target, zone) pairs listed at the last check: what a metrics exporter counts."""
    async with store.read() as conn:
        return await blocklists.list_results(conn, status="listed")


def _date(ts: float | None) -> str | None:
    return None if ts is None else formatdate(ts, usegmt=True)


def blocklist_json(row: BlocklistRow) -> dict[str, Any]:
    return {
        "target": row.target,
        "kind": row.kind,
        "zone": row.zone,
        "status": row.status,
        "listed": row.status == "listed",
        "codes": [c for c in row.codes.split(",") if c],
        "reason": row.reason,
        "checked_at": _date(row.checked_at),
        "listed_since": _date(row.listed_since),
    }


class BlocklistMonitor:
    """Checks the blocklists at start (unless another process just did) and then every
    ``config.interval`` seconds."""

    def __init__(
        self, store: Store, resolver: Resolver, config: BlocklistConfig, clock: Callable[[], float]
    ) -> None:
        self._store = store
        self._resolver = resolver
        self._config = config
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def seconds_until_due(self) -> float:
        """Every worker process runs a monitor: a round any of them finished less than an
        interval ago (the table's newest ``checked_at``) is not repeated."""
        async with self._store.read() as conn:
            last = await blocklists.last_checked(conn)
        if last is None:
            return 0.0
        return min(last + self._config.interval - self._clock(), self._config.interval)

    async def run_once(self) -> list[BlocklistRow]:
        rows = await check_blocklists(self._store, self._resolver, self._config, now=self._clock())
        listed = sum(1 for r in rows if r.status == "listed")
        log.info("blocklists_checked", checked=len(rows), listed=listed)
        return rows

    async def _run(self) -> None:
        while True:
            try:
                wait = await self.seconds_until_due()
                if wait <= 0:
                    await self.run_once()
                    wait = self._config.interval
            except Exception:
                log.exception("blocklist_check_failed")
                wait = self._config.interval
            await asyncio.sleep(wait)
