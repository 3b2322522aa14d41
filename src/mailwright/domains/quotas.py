"""A domain's sending quotas (messages per UTC hour and per UTC day) and what they used.

The delivery worker enforces them when it claims (``delivery/quota.py``); this module stores
them and reports usage for ``/mailwright/v1/domains/{name}/limits``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.domains.service import get_domain
from mailwright.errors import InvalidInput
from mailwright.store import Store, limits

HOUR = 3600
DAY = 86400


@dataclass(frozen=True, slots=True)
class SendingQuota:
    domain: str
    hourly: int | None  # None: no limit
    daily: int | None
    used_hour: int  # counted this UTC hour
    used_day: int  # counted this UTC day

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "hourly": self.hourly,
            "daily": self.daily,
            "used": {"hour": self.used_hour, "day": self.used_day},
        }


def parse_quota_fields(
    fields: Mapping[str, str], current: tuple[int | None, int | None]
) -> tuple[int | None, int | None]:
    """``hourly``/``daily`` from a form: a positive integer sets, "" or "0" removes, absent
    keeps the current value."""
    values = list(current)
    for index, name in enumerate(("hourly", "daily")):
        raw = fields.get(name)
        if raw is None:
            continue
        raw = raw.strip()
        if raw not in ("", "0") and not raw.isdigit():
            raise InvalidInput(
                f"'{name}' must be a whole number (0 or empty: no limit)", field=name
            )
        values[index] = int(raw) if raw not in ("", "0") else None
    return values[0], values[1]


async def get_quota(store: Store, name: str, *, now: float) -> SendingQuota:
    row = await get_domain(store, name)
    async with store.read() as conn:
        return await _quota(conn, row.name, now)


async def set_quota(
    store: Store, name: str, fields: Mapping[str, str], *, now: float
) -> SendingQuota:
    row = await get_domain(store, name)

    async def write(conn: AsyncConnection) -> SendingQuota:
        current = await limits.get_quota(conn, row.name)
        await limits.put_quota(conn, row.name, parse_quota_fields(fields, current), now=now)
        return await _quota(conn, row.name, now)

    return await store.write(write)


async def _quota(conn: AsyncConnection, domain: str, now: float) -> SendingQuota:
    hourly, daily = await limits.get_quota(conn, domain)
    # The same UTC windows the delivery worker counts in.
    current = {"hour": int(now // HOUR * HOUR), "day": int(now // DAY * DAY)}
    usage = await limits.usage_of(conn, [domain], current)
    return SendingQuota(
        domain=domain,
        hourly=hourly,
        daily=daily,
        used_hour=usage.get((domain, "hour"), 0),
        used_day=usage.get((domain, "day"), 0),
    )


def queue_status(quota: SendingQuota, now: float) -> dict[str, Any]:
    """Mailgun's ``sending_queues``: a queue is disabled while a quota is used up, until the
    UTC hour (or day) it counts in ends; the regular and the scheduled queue alike, as the
    delivery worker holds both."""
    until, reason = 0, ""
    if quota.hourly is not None and quota.used_hour >= quota.hourly:
        until = int(now // HOUR * HOUR) + HOUR
        reason = f"sending quota reached: {quota.hourly} messages per hour"
    if quota.daily is not None and quota.used_day >= quota.daily:
        until = int(now // DAY * DAY) + DAY
        reason = f"sending quota reached: {quota.daily} messages per day"
    state = {
        "is_disabled": bool(until),
        "disabled": {"until": formatdate(until, usegmt=True) if until else "", "reason": reason},
    }
    return {"regular": state, "scheduled": dict(state)}
