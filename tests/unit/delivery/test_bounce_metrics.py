"""Bounce classification metrics, the pure parts: every bounce class has a Mailgun category,
rate limiting is critical, the entity of an MX host, and the query's 400s."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mailwright.delivery.bounce_metrics import (
    CATEGORIES,
    DEFAULT_LIMIT,
    METRICS,
    categorize,
    entity_of,
    parse_bounce_query,
)
from mailwright.delivery.classify import BounceClass, classify_reply
from mailwright.errors import InvalidInput

NOW = datetime(2025, 12, 15, 10, 30, tzinfo=UTC).timestamp()


def test_every_bounce_class_has_a_category() -> None:
    assert set(CATEGORIES) == set(BounceClass)


@pytest.mark.parametrize(
    ("code", "enhanced", "text", "category", "critical"),
    [
        (550, "5.1.1", "User unknown", "recipient", False),
        (554, "5.7.1", "blocked using zen.spamhaus.org", "blocklist", True),
        (550, "5.7.1", "Message rejected as spam", "content", True),
        (
            550,
            "5.7.26",
            "DMARC policy: unauthenticated email is not accepted",
            "authentication",
            True,
        ),
        (421, "4.7.0", "Try again later, closing connection (rate limited)", "throttling", True),
        (451, "4.7.1", "Greylisted, try again later", "transient", False),
        (452, "4.2.2", "Mailbox full", "mailbox", False),
        (None, "4.4.1", "connection refused", "connection", False),
        (250, "2.0.0", "OK", "uncategorized", False),  # no class: nothing to say about it
    ],
)
def test_categories(
    code: int | None, enhanced: str, text: str, category: str, critical: bool
) -> None:
    found = categorize(classify_reply(code, enhanced, text))
    assert (found.name, found.is_critical) == (category, critical)


@pytest.mark.parametrize(
    ("host", "entity"),
    [
        ("alt1.gmail-smtp-in.l.google.com", "google"),
        ("example-com.mail.protection.outlook.com.", "microsoft"),
        ("mx1.mail.example.co.uk", "example.co.uk"),
        ("192.0.2.7", "192.0.2.7"),
        ("", None),
    ],
)
def test_entity_of(host: str, entity: str | None) -> None:
    assert entity_of(host) == entity


def test_defaults() -> None:
    query = parse_bounce_query({}, NOW)
    assert query.period.resolution == "day"
    assert query.period.start == datetime(2025, 12, 8, tzinfo=UTC)
    assert query.metrics == METRICS
    assert query.dimensions == ()
    assert query.limit == DEFAULT_LIMIT
    assert not query.is_classified


def test_the_sdk_body() -> None:
    """mailgun.js 14: dates as '... -0000', Go durations, labelled filter values."""
    query = parse_bounce_query(
        {
            "start": "Mon, 01 Dec 2025 00:00:00 -0000",
            "end": "Wed, 31 Dec 2025 23:59:59 -0000",
            "resolution": "hour",
            "duration": "24h0m0s",
            "dimensions": ["entity-name", "criticality"],
            "metrics": ["critical_bounce_count"],
            "filter": {
                "AND": [
                    {
                        "attribute": "domain.name",
                        "comparator": "=",
                        "values": [{"label": "Example", "value": "Example.com"}],
                    }
                ]
            },
            "pagination": {"sort": "entity-name:asc", "skip": 0, "limit": 100},
        },
        NOW,
    )
    assert query.period.start == datetime(2025, 12, 30, 23, tzinfo=UTC)
    assert query.period.end == datetime(2025, 12, 31, 23, tzinfo=UTC)
    assert query.is_classified
    assert query.domain_scope() == (("example.com",), ())
    assert (query.sort_key, query.descending, query.limit) == ("entity-name", False, 100)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metrics": ["nope"]}, "metrics"),
        ({"dimensions": ["account.name"]}, "dimensions"),
        ({"resolution": "month"}, "resolution"),
        ({"duration": "2w"}, "duration"),
        (
            {"filter": {"AND": [{"attribute": "tags", "comparator": "like", "values": ["a"]}]}},
            "filter",
        ),
        ({"pagination": {"sort": "critical_bounce_rate:up"}}, "sort"),
    ],
)
def test_bad_bodies(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_bounce_query(body, NOW)
    assert raised.value.field == field
