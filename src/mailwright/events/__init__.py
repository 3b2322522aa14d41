"""Events: the closed vocabulary, ``record`` in the caller's transaction, and Events API queries."""

from mailwright.events.outbox import (
    FORM_KINDS,
    WebhookCache,
    WebhookKind,
    Webhooks,
    endpoint_of,
    form_payload,
    form_row,
    kind_of,
    outbox_rows,
)
from mailwright.events.period import StatsQuery, parse_stats_query
from mailwright.events.query import (
    EventQuery,
    Page,
    fetch,
    fetch_across,
    is_scanning,
    page_tokens,
    paging,
    parse_query,
)
from mailwright.events.record import (
    MessageFacts,
    accepted_upserts,
    event_row,
    new_event_id,
    record,
)
from mailwright.events.stats import stats_body, totals
from mailwright.events.tags import (
    Tag,
    TagPage,
    delete_tag,
    describe_tag,
    get_tag,
    list_tags,
    tag_json,
)
from mailwright.events.types import EventType, LogLevel, Severity

__all__ = [
    "FORM_KINDS",
    "EventQuery",
    "EventType",
    "LogLevel",
    "MessageFacts",
    "Page",
    "Severity",
    "StatsQuery",
    "Tag",
    "TagPage",
    "WebhookCache",
    "WebhookKind",
    "Webhooks",
    "accepted_upserts",
    "delete_tag",
    "describe_tag",
    "endpoint_of",
    "event_row",
    "fetch",
    "fetch_across",
    "form_payload",
    "form_row",
    "get_tag",
    "is_scanning",
    "kind_of",
    "list_tags",
    "new_event_id",
    "outbox_rows",
    "page_tokens",
    "paging",
    "parse_query",
    "parse_stats_query",
    "record",
    "stats_body",
    "tag_json",
    "totals",
]
