"""Which counters an event row increments, and the stats entry built from counters."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from mailwright.events import EventType, MessageFacts, event_row
from mailwright.events.counters import (
    EVENT_STATS,
    counter_rows,
    hour_of,
    stats_entry,
    stats_of_payload,
    tag_keys,
)

FACTS = MessageFacts(
    domain="example.com",
    message_id="m@example.com",
    storage_key="k",
    storage_url="http://x/k",
    sender="s@example.com",
    from_header="s@example.com",
    to_header="r@example.org",
    subject="Hi",
    size=10,
    tags=["News", "news", "Promo"],
)


def payload(event: EventType, **extra: Any) -> dict[str, Any]:
    row = event_row(FACTS, event, "r@example.org", 1_700_000_000.5, **extra)
    decoded: dict[str, Any] = orjson.loads(row["payload"])
    return decoded


@pytest.mark.parametrize(
    ("event", "extra", "stats"),
    [
        (EventType.ACCEPTED, {"method": "http"}, ("accepted.outgoing",)),
        (EventType.ACCEPTED, {"method": "smtp"}, ("accepted.outgoing",)),
        (
            EventType.ACCEPTED,
            {"flags": {"is-routed": True, "is-test-mode": False}},
            ("accepted.incoming",),
        ),
        (EventType.DELIVERED, {}, ("delivered.smtp",)),
        (EventType.DELIVERED, {"envelope": {"transport": "http"}}, ("delivered.http",)),
        (
            EventType.FAILED,
            {"severity": "permanent", "reason": "suppress-bounce"},
            ("failed.permanent.suppress-bounce", "failed.permanent.total"),
        ),
        (
            EventType.FAILED,
            {"severity": "permanent", "reason": "suppress-unsubscribe"},
            ("failed.permanent.suppress-unsubscribe", "failed.permanent.total"),
        ),
        (
            EventType.FAILED,
            {"severity": "permanent", "reason": "suppress-complaint"},
            ("failed.permanent.suppress-complaint", "failed.permanent.total"),
        ),
        (
            EventType.FAILED,
            {"severity": "permanent", "reason": "bounce"},
            ("failed.permanent.bounce", "failed.permanent.total"),
        ),
        (EventType.FAILED, {"severity": "permanent", "reason": "old"}, ("failed.permanent.total",)),
        (
            EventType.FAILED,
            {"severity": "permanent", "reason": "generic"},
            ("failed.permanent.total",),
        ),
        (
            EventType.FAILED,
            {"severity": "temporary", "reason": "espblock"},
            ("failed.temporary.espblock", "failed.temporary.total"),
        ),
        (
            EventType.FAILED,
            {"severity": "temporary", "reason": "generic"},
            ("failed.temporary.total",),
        ),
        # A temporary failure is never counted under a permanent reason.
        (
            EventType.FAILED,
            {"severity": "temporary", "reason": "bounce"},
            ("failed.temporary.total",),
        ),
        (EventType.OPENED, {}, ("opened.total",)),
        (EventType.CLICKED, {"url": "http://x"}, ("clicked.total",)),
        (EventType.UNSUBSCRIBED, {}, ("unsubscribed.total",)),
        (EventType.COMPLAINED, {}, ("complained.total",)),
        (EventType.STORED, {}, ("stored.total",)),
        (EventType.REJECTED, {"reason": "generic"}, ()),
        (EventType.LIST_UPLOADED, {}, ()),
    ],
)
def test_stats_of_event_rows(event: EventType, extra: dict, stats: tuple[str, ...]) -> None:
    assert stats_of_payload(payload(event, **extra)) == stats


def test_every_derived_stat_is_read_back_by_its_event() -> None:
    derived = {
        stat
        for event, extra in [
            (EventType.ACCEPTED, {}),
            (EventType.ACCEPTED, {"flags": {"is-routed": True}}),
            (EventType.DELIVERED, {}),
            (EventType.DELIVERED, {"envelope": {"transport": "http"}}),
            *[
                (EventType.FAILED, {"severity": "permanent", "reason": r})
                for r in ("bounce", "delayed-bounce", "webhook", "optimized")
            ],
            (EventType.FAILED, {"severity": "temporary", "reason": "espblock"}),
        ]
        for stat in stats_of_payload(payload(event, **extra))
    }
    readable = {stat for stats in EVENT_STATS.values() for stat in stats}
    assert derived <= readable


def test_tag_keys_lower_case_each_once() -> None:
    assert tag_keys(payload(EventType.ACCEPTED)["tags"]) == ["news", "promo"]


def test_counter_rows_count_all_and_each_tag_in_the_hour() -> None:
    rows = counter_rows("d", ["a", "b"], ["delivered.smtp"], 7201.9, 3)
    assert rows == [
        {"domain": "d", "tag": tag, "stat": "delivered.smtp", "hour": 7200, "count": 3}
        for tag in ("", "a", "b")
    ]
    assert hour_of(7199.99) == 3600


def test_stats_entry_has_mailguns_shape_with_totals() -> None:
    counts = {
        "accepted.outgoing": 5,
        "accepted.incoming": 1,
        "delivered.smtp": 4,
        "failed.permanent.bounce": 1,
        "failed.permanent.total": 2,
        "failed.temporary.total": 3,
        "opened.total": 9,
    }
    entry = stats_entry("T", ["accepted", "delivered", "failed", "opened", "stored"], counts)
    assert entry == {
        "time": "T",
        "accepted": {"incoming": 1, "outgoing": 5, "total": 6},
        "delivered": {"smtp": 4, "http": 0, "optimized": 0, "total": 4},
        "failed": {
            "temporary": {"espblock": 0, "total": 3},
            "permanent": {
                "suppress-bounce": 0,
                "suppress-unsubscribe": 0,
                "suppress-complaint": 0,
                "bounce": 1,
                "delayed-bounce": 0,
                "webhook": 0,
                "optimized": 0,
                "total": 2,
            },
        },
        "opened": {"total": 9},
        "stored": {"total": 0},
    }
    assert stats_entry("T", ["clicked"], {}) == {"time": "T", "clicked": {"total": 0}}
