"""Events: the closed vocabulary, ``record`` in the caller's transaction, and Events API queries."""

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
    "event_row",
    "fetch",
    "new_event_id",
    "paging",
    "parse_query",
    "record",
]
