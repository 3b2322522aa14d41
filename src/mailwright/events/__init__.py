"""Events: the closed vocabulary, ``record`` in the caller's transaction, and Events API queries."""

from mailwright.events.outbox import (
    WebhookCache,
    WebhookKind,
    Webhooks,
    endpoint_of,
    kind_of,
    outbox_rows,
)
from mailwright.events.query import EventQuery, Page, fetch, paging, parse_query
from mailwright.events.record import MessageFacts, event_row, new_event_id, record
from mailwright.events.types import EventType, LogLevel, Severity

__all__ = [
    "EventQuery",
    "EventType",
    "LogLevel",
    "MessageFacts",
    "Page",
    "Severity",
    "WebhookCache",
    "WebhookKind",
    "Webhooks",
    "endpoint_of",
    "event_row",
    "fetch",
    "kind_of",
    "new_event_id",
    "outbox_rows",
    "paging",
    "parse_query",
    "record",
]
