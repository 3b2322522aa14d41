"""The account's custom monthly message limit (Mailgun's ``/v5/accounts/limit/custom``): a
hard cap on the messages every domain together may send in a calendar month (UTC).

Mailgun disables the account when the count reaches the limit; sending stays halted until
``enable`` or the next calendar month. Here a send that does not fit is refused before
anything is stored (``SendingLimitReached``, 403); ``enable`` lets sending go on for the rest
of the month, and a new ``PUT`` of a limit applies it afresh.

The count is a message per recipient accepted (``accepted.outgoing``, as the Stats API
counts, test mode included: Mailgun charges for it too), read from the stat counters every
accept already keeps. Nothing extra is written per send, and the count is right whatever each
process knew of the limit. When a limit is set, each accept's transaction first locks the
limit (``FOR UPDATE`` on PostgreSQL; SQLite serialises writers anyway), inserts, and reads the
month's count back: every process's limited accepts take turns, each seeing what the one
before committed, so the limit holds exactly. Without a limit the accept path runs no query:
whether one is set is remembered ``CACHE_SECONDS`` per process.

Formula: with ``used`` recipients accepted this month before a send of ``n`` recipients, the
send is refused when ``used + n > limit``, unless the account was re-enabled this month.
"""

from __future__ import annotations

import asyncio
import time
from calendar import monthrange
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright import jsontext
from mailwright.errors import InvalidInput, NotFound, SendingLimitReached
from mailwright.store import Store, limits

PERIOD = "1m"  # Mailgun's period notation: one month
ACCEPTED = "accepted.outgoing"
CACHE_SECONDS = 5.0
MAX_LIMIT = 10**12
HOUR = 3600
ENABLE_PATH = "PUT /v5/accounts/limit/custom/enable"

WriteOp = Callable[[AsyncConnection], Awaitable[Any]]


def month_start(now: float) -> int:
    day = datetime.fromtimestamp(now, UTC)
    return int(datetime(day.year, day.month, 1, tzinfo=UTC).timestamp())


def next_month(now: float) -> int:
    day = datetime.fromtimestamp(now, UTC)
    return month_start(now) + monthrange(day.year, day.month)[1] * 86400


@dataclass(frozen=True, slots=True)
class LimitSetting:
    limit: int
    enabled_month: int | None = None  # re-enabled for the month that starts then

    def to_text(self) -> str:
        return jsontext.dumps({"limit": self.limit, "enabled_month": self.enabled_month})

    @classmethod
    def from_text(cls, text: str) -> LimitSetting:
        data = jsontext.loads(text)
        enabled = data.get("enabled_month")
        return cls(
            limit=int(data["limit"]), enabled_month=None if enabled is None else int(enabled)
        )

    def is_enabled_in(self, month: int) -> bool:
        return self.enabled_month == month


@dataclass(frozen=True, slots=True)
class MonthlyUsage:
    limit: int
    current: int  # recipients accepted this month
    is_disabled: bool  # sends are refused until enable or the next month

    def to_json(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "current": self.current,
            "period": PERIOD,
            "is_disabled": self.is_disabled,
        }


def is_disabled(setting: LimitSetting, used: int, month: int) -> bool:
    return used >= setting.limit and not setting.is_enabled_in(month)


def refusal(setting: LimitSetting, *, used: int, count: int, now: float) -> str | None:
    """Why a send of ``count`` recipients may not go, with ``used`` accepted this month before
    it; None when it may."""
    if setting.is_enabled_in(month_start(now)) or used + count <= setting.limit:
        return None
    if used >= setting.limit:
        reopens = formatdate(next_month(now), usegmt=True)
        return (
            f"the account's custom monthly message limit of {setting.limit} is reached "
            f"({used} sent this month); sending is disabled until {ENABLE_PATH} or {reopens}"
        )
    return (
        f"{count} recipients would exceed the account's custom monthly message limit of "
        f"{setting.limit} ({used} sent this month, {setting.limit - used} left)"
    )


def refused(domain: str, why: str) -> SendingLimitReached:
    return SendingLimitReached(f"Domain {domain} is not allowed to send: {why}")


def parse_limit(raw: str | None) -> int:
    """``limit``: a whole number from 1 to ``MAX_LIMIT`` (DELETE removes a limit)."""
    if raw is None or not raw.strip():
        raise InvalidInput("'limit' parameter is missing", field="limit")
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidInput(
            f"'limit' must be a whole number from 1 to {MAX_LIMIT} "
            "(DELETE /v5/accounts/limit/custom/monthly removes the limit)",
            field="limit",
        )
    return int(text)


async def _setting(
    conn: AsyncConnection, store: Store, *, lock: bool = False
) -> LimitSetting | None:
    text = await limits.get_monthly_limit(conn, store.keyring, lock=lock)
    return None if text is None else LimitSetting.from_text(text)


async def _used(conn: AsyncConnection, now: float) -> int:
    return await limits.counted_between(conn, ACCEPTED, month_start(now), next_month(now))


async def get_monthly_usage(store: Store, *, now: float) -> MonthlyUsage:
    async with store.read() as conn:
        setting = await _setting(conn, store)
        if setting is None:
            raise NotFound("No custom monthly message limit is set")
        used = await _used(conn, now)
    return MonthlyUsage(setting.limit, used, is_disabled(setting, used, month_start(now)))


async def set_monthly_limit(store: Store, raw: str | None, *, now: float) -> None:
    """A new limit; it applies afresh, so a re-enabled account is checked against it again."""
    setting = LimitSetting(parse_limit(raw))

    async def write(conn: AsyncConnection) -> None:
        await limits.put_monthly_limit(conn, setting.to_text(), store.keyring, now=now)

    await store.write(write)


async def delete_monthly_limit(store: Store) -> None:
    """No limit (already none: nothing to do)."""
    await store.write(limits.delete_monthly_limit)


async def enable_sending(store: Store, *, now: float) -> None:
    """Re-enable sending for the rest of the month when the limit disabled it; otherwise (no
    limit, or room left) nothing changes."""

    async def write(conn: AsyncConnection) -> None:
        setting = await _setting(conn, store, lock=True)
        month = month_start(now)
        if setting is None or not is_disabled(setting, await _used(conn, now), month):
            return
        enabled = LimitSetting(setting.limit, enabled_month=month)
        await limits.put_monthly_limit(conn, enabled.to_text(), store.keyring, now=now)

    await store.write(write)


class MonthlyLimit:
    """One process's view of the limit for the accept path: whether one is set (remembered
    ``seconds``), the month's count from hours that are over (kept, so a limited accept sums
    the last two hours only), and a refusal found a moment ago (so a sender looping against a
    reached limit costs no query). ``forget()`` after this process changes the limit."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float] = time.monotonic,
        *,
        seconds: float = CACHE_SECONDS,
    ) -> None:
        self._store = store
        self._clock = clock
        self._seconds = seconds
        self._known: tuple[float, bool] | None = None  # (until, is set)
        self._generation = 0  # forget() counts up: a read begun before it is not kept
        self._loading: asyncio.Future[bool] | None = None
        self._closed: tuple[int, int, int] | None = None  # (month, up to hour, count)
        self._refused: tuple[float, int, str] | None = None  # (until, month, reason)

    def forget(self) -> None:
        self._known = None
        self._refused = None
        self._generation += 1

    async def is_set(self) -> bool:
        now = self._clock()
        if self._known is not None and self._known[0] > now:
            return self._known[1]
        if self._loading is not None:  # one query however many callers miss at once
            return await asyncio.shield(self._loading)
        loading = self._loading = asyncio.get_running_loop().create_future()
        generation = self._generation
        try:
            async with self._store.read() as conn:
                found = await limits.get_monthly_limit(conn, self._store.keyring) is not None
        except BaseException as exc:
            loading.set_exception(exc)
            loading.exception()  # retrieved: callers that were not waiting don't warn
            raise
        else:
            loading.set_result(found)
        finally:
            self._loading = None
        if generation == self._generation:
            self._known = (now + self._seconds, found)
        return found

    async def guard(
        self, op: WriteOp, *, domain: str, count: Callable[[], int], now: float
    ) -> WriteOp:
        """``op`` (an accept's transaction, which adds ``count()`` accepted recipients to the
        counters) checked against the limit: raises ``SendingLimitReached`` instead of
        committing a send that does not fit. Unchanged when no limit is set."""
        if not await self.is_set():
            return op
        month = month_start(now)
        known = self._refused
        if known is not None and known[0] > self._clock() and known[1] == month:
            raise refused(domain, known[2])
        # Hours that ended over an hour ago are complete: summed once, then kept.
        live_from = max(month, int(now // HOUR) * HOUR - HOUR)
        closed = await self._closed_count(month, live_from)

        async def run(conn: AsyncConnection) -> Any:
            setting = await _setting(conn, self._store, lock=True)
            result = await op(conn)
            if setting is None:  # removed since this process looked
                return result
            end = next_month(now)
            after = closed + await limits.counted_between(conn, ACCEPTED, live_from, end)
            added = count()
            why = refusal(setting, used=after - added, count=added, now=now)
            if why is not None:
                if is_disabled(setting, after - added, month):
                    self._refused = (self._clock() + self._seconds, month, why)
                raise refused(domain, why)  # the transaction rolls back: nothing stored
            return result

        return run

    async def _closed_count(self, month: int, upto: int) -> int:
        kept = self._closed
        if kept is not None and kept[0] == month and kept[1] == upto:
            return kept[2]
        start, base = month, 0
        if kept is not None and kept[0] == month and kept[1] < upto:
            start, base = kept[1], kept[2]  # only the hours that ended since
        async with self._store.read() as conn:
            found = base + await limits.counted_between(conn, ACCEPTED, start, upto)
        self._closed = (month, upto, found)
        return found
