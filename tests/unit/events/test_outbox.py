"""Which webhook an event triggers, and the outbox rows written with it."""

from __future__ import annotations

import pytest

from mailwright.events import WebhookKind, endpoint_of, kind_of, outbox_rows


@pytest.mark.parametrize(
    ("event", "severity", "kind"),
    [
        ("accepted", None, WebhookKind.ACCEPTED),
        ("delivered", None, WebhookKind.DELIVERED),
        ("opened", None, WebhookKind.OPENED),
        ("clicked", None, WebhookKind.CLICKED),
        ("unsubscribed", None, WebhookKind.UNSUBSCRIBED),
        ("complained", None, WebhookKind.COMPLAINED),
        ("failed", "permanent", WebhookKind.PERMANENT_FAIL),
        ("failed", "temporary", WebhookKind.TEMPORARY_FAIL),
        ("failed", None, None),
        ("stored", None, None),
        ("rejected", None, None),
        ("permanent_fail", None, None),  # a webhook name is not an event
    ],
)
def test_kind_of(event: str, severity: str | None, kind: WebhookKind | None) -> None:
    assert kind_of(event, severity) == kind


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("https://Hooks.Example.com/a/b?c", "https://hooks.example.com:443"),
        ("http://example.com/x", "http://example.com:80"),
        ("http://u:p@127.0.0.1:8000/x", "http://127.0.0.1:8000"),
    ],
)
def test_endpoint_of(url: str, endpoint: str) -> None:
    assert endpoint_of(url) == endpoint


def _event(id_: str, domain: str, event: str, severity: str | None = None) -> dict:
    return {"id": id_, "domain": domain, "event": event, "severity": severity, "payload": "{}"}


def test_one_row_per_url_of_the_triggered_webhook() -> None:
    hooks = {
        "a.test": {"delivered": ["http://h1/x", "http://h2/y"], "permanent_fail": ["http://h3/"]},
        "b.test": {},
    }
    events = [
        _event("e1", "a.test", "delivered"),
        _event("e2", "a.test", "failed", "temporary"),
        _event("e3", "a.test", "failed", "permanent"),
        _event("e4", "b.test", "delivered"),
        _event("e5", "c.test", "delivered"),
    ]
    rows = outbox_rows(events, hooks, 10.0)
    assert [(r["event_id"], r["kind"], r["url"]) for r in rows] == [
        ("e1", "delivered", "http://h1/x"),
        ("e1", "delivered", "http://h2/y"),
        ("e3", "permanent_fail", "http://h3/"),
    ]
    assert all(r["status"] == "queued" and r["due_at"] == 10.0 for r in rows)
    assert rows[0]["endpoint"] == "http://h1:80"
