"""What happens to one webhook delivery after a POST (pure).

``decide(status, attempts, first_try, now, schedule)``:

* a 2xx answer: ``delivered``;
* 406 Not Acceptable: ``dropped`` -- Mailgun's "do not retry" answer, recorded, not retried;
* anything else (another status, a timeout, a refused or failed connection, status None):
  ``retry`` at ``schedule.next_attempt_at(attempts, first_try, now)``, or ``failed`` (given up)
  once the schedule has none.

The default schedule (``MAILWRIGHT_WEBHOOK_RETRY_SCHEDULE``, in ``config.py``) is Mailgun's:
retries 5 min, 10 min, 15 min, 1 h, 2 h and 4 h after the failures, giving up 8 hours
after the first try (a last attempt is made at the 8-hour mark).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol


class Schedule(Protocol):
    def next_attempt_at(
        self, attempts: int, first_try: datetime, now: datetime, rand: float = 0.5
    ) -> datetime | None: ...


class Verdict(StrEnum):
    DELIVERED = "delivered"  # the receiver answered 2xx
    DROPPED = "dropped"  # the receiver answered 406: do not retry
    RETRY = "retry"  # failed; try again at ``due_at``
    FAILED = "failed"  # failed and the retry schedule is over: given up


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    due_at: float | None = None  # Unix seconds of the next attempt, for RETRY

    @property
    def status(self) -> str:
        """The outbox row's new status."""
        return "queued" if self.verdict is Verdict.RETRY else str(self.verdict)


def decide(
    status: int | None, attempts: int, first_try: float, now: float, schedule: Schedule
) -> Decision:
    if status is not None and 200 <= status < 300:
        return Decision(Verdict.DELIVERED)
    if status == 406:
        return Decision(Verdict.DROPPED)
    due = schedule.next_attempt_at(
        attempts, datetime.fromtimestamp(first_try, UTC), datetime.fromtimestamp(now, UTC)
    )
    if due is None:
        return Decision(Verdict.FAILED)
    return Decision(Verdict.RETRY, due.timestamp())
