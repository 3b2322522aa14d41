"""What happens after a webhook POST, and Mailgun's retry schedule (about 8 hours)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mailwright.config import WEBHOOK_RETRY_DEFAULT, Settings
from mailwright.delivery.retry import RetrySchedule
from mailwright.webhooks.policy import Decision, Verdict, decide

SCHEDULE = RetrySchedule.parse(WEBHOOK_RETRY_DEFAULT)
T0 = 1_700_000_000.0


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (299, Verdict.DELIVERED),
        (406, Verdict.DROPPED),
        (500, Verdict.RETRY),
        (404, Verdict.RETRY),
        (301, Verdict.RETRY),
        (None, Verdict.RETRY),
        (410, Verdict.RETRY),
    ],
)
def test_status_decides(status: int | None, verdict: Verdict) -> None:
    assert decide(status, 1, T0, T0, SCHEDULE).verdict is verdict


def test_default_schedule_is_mailguns() -> None:
    assert Settings().webhook_retry_schedule == SCHEDULE
    assert SCHEDULE.give_up_after == timedelta(hours=8)


def test_attempt_times_follow_mailguns_table_and_end_after_8_hours() -> None:
    """A receiver that is down: attempts at 0, 5m, 15m, 30m, 1h30, 3h30, 7h30 and a last one
    at the 8-hour deadline, then the delivery is given up."""
    now, attempts, times = T0, 1, [0.0]
    while True:
        decision = decide(500, attempts, T0, now, SCHEDULE)
        if decision.verdict is Verdict.FAILED:
            break
        assert decision.verdict is Verdict.RETRY
        assert decision.due_at is not None
        now = decision.due_at
        times.append((now - T0) / 60)
        attempts += 1
    assert times == [0, 5, 15, 30, 90, 210, 450, 480]
    assert decision == Decision(Verdict.FAILED)


def test_queued_status_for_retry() -> None:
    assert decide(503, 1, T0, T0, SCHEDULE).status == "queued"
    assert decide(200, 1, T0, T0, SCHEDULE).status == "delivered"
    assert decide(406, 1, T0, T0, SCHEDULE).status == "dropped"
    assert decide(503, 9, T0, T0 + 8 * 3600, SCHEDULE).status == "failed"
