"""The source chooser: each job's egress source, from the cached egress directory and the
pure policies (``sources.eligible`` and ``pick``, ``warmup.allowance``); it counts the sessions
each source has in progress and each warming source's sends."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from mailwright.delivery.jobs import Job
from mailwright.delivery.sources import eligible, pick
from mailwright.delivery.warmup import (
    DAY,
    DEFAULT_SCHEDULE,
    HOUR,
    WarmupSchedule,
    allowance,
    daily_limit,
    warmup_day,
    warmup_hour,
)
from mailwright.egress import Assignments, EgressDirectory, Source


class SourceChooser:
    def __init__(
        self,
        directory: EgressDirectory,
        schedule: WarmupSchedule = DEFAULT_SCHEDULE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._directory = directory
        self._schedule = schedule
        self._clock = clock
        self._by_ip = {s.ip: s for s in directory.sources}
        self._names = list(self._by_ip)
        self._load: Counter[str] = Counter()
        self._turn = 0

    async def choose(self, job: Job) -> Source | None:
        """The source for ``job``, its messages counted against its warm-up; None when every
        source has used today's warm-up allowance."""
        snapshot = await self._directory.assignments()
        options = job.message.spec.get("options") or {}
        candidates = eligible(
            self._names,
            snapshot,
            domain=job.message.facts.domain,
            sending_ip=_text(options.get("sending-ip")),
            sending_pool=_text(options.get("sending-ip-pool")),
        )
        ip = pick(
            candidates,
            self._names,
            load=self._load,
            allowance=self.allowances(snapshot),
            turn=self._turn,
        )
        self._turn += 1
        if ip is None:
            return None
        self._directory.count_send(ip, len(job.deliveries))
        return self._by_ip[ip]

    def allowances(self, snapshot: Assignments) -> dict[str, int]:
        """Today's remaining warm-up allowance of each warming source."""
        now = self._clock()
        found = {}
        for ip, warm in snapshot.warmups.items():
            if ip in self._by_ip:
                today, hour = warmup_day(warm.started_at, now), warmup_hour(warm.started_at, now)
                sent, hour_sent = warm.sent_on(today, hour)
                found[ip] = allowance(self._schedule, warm.started_at, now, sent, hour_sent)
        return found

    async def next_room_at(self) -> float:
        """The soonest a warming source has room again: the start of its next warm-up hour
        when only its hourly limit is used up, else of its next warm-up day."""
        snapshot = await self._directory.assignments()
        now = self._clock()
        starts = []
        for ip, warm in snapshot.warmups.items():
            if ip not in self._by_ip:
                continue
            day, hour = warmup_day(warm.started_at, now), warmup_hour(warm.started_at, now)
            sent, _ = warm.sent_on(day, hour)
            if sent < daily_limit(self._schedule, warm.started_at, now):
                starts.append(warm.started_at + (hour + 1) * HOUR)
            else:
                starts.append(warm.started_at + (day + 1) * DAY)
        return min(starts, default=now + HOUR)

    def begin(self, source: Source) -> None:
        self._load[source.ip] += 1

    def end(self, source: Source) -> None:
        self._load[source.ip] -= 1


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
