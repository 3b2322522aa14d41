"""Mailgun's Logs API (``POST /v1/analytics/logs``) over the events store: the JSON query read
into an ``EventQuery`` and a set of domains, page tokens, and the log item shape.

A log item is the event's JSON as the Events API shows it, plus ``@timestamp`` (ISO 8601 in
milliseconds), ``domain: {"name"}`` and ``account: {"id"}``, with ``user-variables`` as a JSON
string and ``storage.url`` as a list, as the SDKs type them (mailgun.js ``LogsEvent``,
mailgun-java ``LogItem``).

``filter.AND`` conditions are all required; a condition's values are alternatives, and ``!=`` or
``not contains`` negate them. Each attribute matches as the Events API filter of the same name
(``filters.FIELDS``), and the comparator must say the same: ``=``/``!=`` where a value matches
whole (domain, event, recipient, message-id, severity), ``contains``/``not contains`` where it
matches a substring (subject, from, to), either for tags (membership).

A page token names a position (cursor and direction) in the result; as with Mailgun, the client
sends it with the same query, which is read from the body every time.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

from mailwright.errors import InvalidInput
from mailwright.events.filters import FIELDS, Match
from mailwright.events.query import EventQuery, Page, count_across, fetch_across, page_queries
from mailwright.events.timeparse import parse_time
from mailwright.events.types import EventType
from mailwright.store import Store

MAX_LIMIT = 100  # Mailgun: "The maximum number of items returned (100 max)"
DAY = 86400.0  # ``start`` defaults to a day before ``end``
LATEST = 253402300799.0  # 9999-12-31T23:59:59Z: later times cannot be written back as dates
MAX_CONDITIONS = 20
MAX_VALUES = 100
ACCOUNT_ID = "mailwright"  # one account per server
SORTS = {"timestamp:desc": False, "timestamp:asc": True}  # -> ascending
DURATION = re.compile(r"(\d{1,6})([mhd])")
UNITS = {"m": 60, "h": 3600, "d": 86400}

# Mailgun's ``events`` values -> the event type recorded; ones we never record match nothing.
EVENTS: dict[str, str] = {str(e): str(e) for e in EventType} | {
    "unique_opened": "opened",
    "unique_clicked": "clicked",
    "email_validation": "email_validation",
    "trapped": "trapped",
}
# Mailgun converts ``metric_events`` into the events they count; the ones whose event is
# unclear (processed, sent, webhook_failure, ...) are refused rather than guessed.
METRIC_EVENTS: dict[str, str] = {
    **dict.fromkeys(("accepted", "accepted_incoming", "accepted_outgoing"), "accepted"),
    **dict.fromkeys(
        ("delivered", "delivered_smtp", "delivered_http", "delivered_optimized"), "delivered"
    ),
    **dict.fromkeys(
        (
            "failed",
            "temporary_failed",
            "permanent_failed",
            "esp_block",
            "temporary_failed_esp_block",
            "permanent_failed_esp_block",
        ),
        "failed",
    ),
    **dict.fromkeys(("opened", "unique_opened"), "opened"),
    **dict.fromkeys(("clicked", "unique_clicked"), "clicked"),
    **{name: name for name in ("stored", "complained", "unsubscribed", "rejected")},
}
# ``filter.AND`` attribute -> Events API filter; ``domain`` picks the domains read instead.
ATTRIBUTES: dict[str, str] = {
    "event": "event",
    "recipient": "recipient",
    "message-id": "message-id",
    "message_id": "message-id",
    "tag": "tags",
    "tags": "tags",
    "severity": "severity",
    "subject": "subject",
    "from": "from",
    "to": "to",
}
# comparator -> (negated, kind)
COMPARATORS: dict[str, tuple[bool, str]] = {
    "=": (False, "="),
    "!=": (True, "="),
    "contains": (False, "contains"),
    "not contains": (True, "contains"),
}
KINDS: dict[str, frozenset[Match]] = {
    "=": frozenset({Match.EXACT, Match.FOLDED, Match.TAG}),
    "contains": frozenset({Match.CONTAINS, Match.TAG}),
}


@dataclass(frozen=True, slots=True)
class LogsQuery:
    events: EventQuery  # its domain is unused: the query is read over ``pick(...)``
    start: float
    end: float
    only: frozenset[str] | None = None  # domain = ...: these domains (None: every domain)
    excluded: frozenset[str] = frozenset()  # domain != ...
    include_totals: bool = False

    def pick(self, known: Sequence[str]) -> list[str]:
        """The domains to read, out of the account's ``known`` domains."""
        chosen = known if self.only is None else sorted(self.only)
        return [name for name in chosen if name not in self.excluded]


def _error(field: str, problem: str) -> InvalidInput:
    return InvalidInput(f"Invalid value for '{field}': {problem}", field=field)


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _error(field, "expected an object")
    return value


def _strings(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _error(field, "expected a list of strings")
    return value


def _time(body: Mapping[str, Any], field: str) -> float | None:
    value = body.get(field)
    if value is None or value == "":  # mailgun.js sends "" for an end it was not given
        return None
    if not isinstance(value, str):
        raise _error(field, "expected an RFC 2822 date")
    moment = parse_time(value, field=field)
    if not 0 <= moment <= LATEST:
        raise _error(field, "the date is out of range")
    return moment


def _span(body: Mapping[str, Any], now: float) -> tuple[float, float]:
    """``start`` and ``end``; a ``duration`` ("2h", "7d") counts back from ``end`` instead."""
    end = _time(body, "end")
    end = min(now, LATEST) if end is None else end
    duration = body.get("duration")
    if duration is not None and duration != "":
        m = DURATION.fullmatch(duration) if isinstance(duration, str) else None
        if m is None:
            raise _error("duration", 'expected a number and a unit, m, h or d ("2h")')
        start: float | None = max(0.0, end - int(m[1]) * UNITS[m[2]])
    else:
        start = _time(body, "start")
    start = max(0.0, end - DAY) if start is None else start
    if start > end:
        raise InvalidInput("'start' must not be after 'end'", field="start")
    return start, end


def _event_names(body: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for field, table in (("events", EVENTS), ("metric_events", METRIC_EVENTS)):
        for name in _strings(body.get(field), field):
            if name not in table:
                raise _error(field, f"unknown event '{name}'")
            names.append(table[name])
    return sorted(set(names))


def _phrase(values: Sequence[str], *, negated: bool) -> str:
    """Values as an Events API filter expression: quoted phrases joined by OR."""
    either = " OR ".join(f'"{value}"' for value in values)
    return f"NOT ({either})" if negated else either


def _values(condition: Mapping[str, Any], field: str) -> list[str]:
    values = condition.get("values")
    if not isinstance(values, list) or not 0 < len(values) <= MAX_VALUES:
        raise _error(field, f"expected a list of 1 to {MAX_VALUES} values")
    found: list[str] = []
    for item in values:
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(value, str) or not value.strip() or '"' in value:
            raise _error(field, 'each value needs a "value" string, without double quotes')
        found.append(value.strip())
    return found


@dataclass(frozen=True, slots=True)
class _Condition:
    attribute: str
    negated: bool
    kind: str
    values: list[str]


def _condition(raw: Any, field: str) -> _Condition:
    condition = _object(raw, field)
    attribute, comparator = condition.get("attribute"), condition.get("comparator")
    if not isinstance(attribute, str) or attribute not in {"domain", *ATTRIBUTES}:
        known = ", ".join(["domain", *ATTRIBUTES])
        raise _error(f"{field}.attribute", f"unknown attribute; expected one of {known}")
    if not isinstance(comparator, str) or comparator not in COMPARATORS:
        raise _error(f"{field}.comparator", "expected =, !=, contains or not contains")
    negated, kind = COMPARATORS[comparator]
    match = Match.FOLDED if attribute == "domain" else FIELDS[ATTRIBUTES[attribute]]
    if match not in KINDS[kind]:
        raise _error(f"{field}.comparator", f"'{comparator}' does not apply to '{attribute}'")
    return _Condition(attribute, negated, kind, _values(condition, f"{field}.values"))


def _conditions(body: Mapping[str, Any]) -> list[_Condition]:
    clauses = _object(body.get("filter"), "filter").get("AND", [])
    if not isinstance(clauses, list) or len(clauses) > MAX_CONDITIONS:
        raise _error("filter.AND", f"expected a list of up to {MAX_CONDITIONS} conditions")
    return [_condition(raw, f"filter.AND[{i}]") for i, raw in enumerate(clauses)]


def _pagination(body: Mapping[str, Any]) -> tuple[bool, int, str]:
    """(ascending, limit, token) from ``pagination``."""
    pagination = _object(body.get("pagination"), "pagination")
    sort = pagination.get("sort") or "timestamp:desc"
    if not isinstance(sort, str) or sort not in SORTS:
        raise _error("pagination.sort", "expected timestamp:desc or timestamp:asc")
    limit = pagination.get("limit", MAX_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_LIMIT:
        raise _error("pagination.limit", f"expected an integer between 1 and {MAX_LIMIT}")
    token = pagination.get("token") or ""
    if not isinstance(token, str):
        raise _error("pagination.token", "expected a string")
    return SORTS[sort], limit, token


def _flag(body: Mapping[str, Any], field: str) -> bool:
    value = body.get(field, False)
    if not isinstance(value, bool):
        raise _error(field, "expected true or false")
    return value


def parse_logs_query(body: Any, *, now: float) -> LogsQuery:
    """The query of a Logs API request body (parsed JSON)."""
    body = _object(body, "body")
    start, end = _span(body, now)
    ascending, limit, token = _pagination(body)
    _flag(body, "include_subaccounts")  # no subaccounts here: checked, then nothing to include
    query = EventQuery(domain="", ascending=ascending, limit=limit, begin=start, end=end)
    filters: list[tuple[str, str]] = []
    if names := _event_names(body):
        filters.append(("event", _phrase(names, negated=False)))
    logs = LogsQuery(query, start, end, include_totals=_flag(body, "include_totals"))
    for c in _conditions(body):
        if c.attribute != "domain":
            filters.append((ATTRIBUTES[c.attribute], _phrase(c.values, negated=c.negated)))
        elif c.negated:
            logs = replace(logs, excluded=logs.excluded | {v.lower() for v in c.values})
        else:
            wanted = frozenset(v.lower() for v in c.values)
            logs = replace(logs, only=wanted if logs.only is None else logs.only & wanted)
    cursor, flip = _position(token) if token else (None, False)
    query = replace(query, filters=tuple(filters), cursor=cursor, flip=flip)
    return replace(logs, events=query)


def position_token(query: EventQuery) -> str:
    """The position of a page: its cursor and whether it reads backwards."""
    raw = json.dumps([query.cursor, int(query.flip)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _position(token: str) -> tuple[tuple[float, int] | None, bool]:
    try:
        cursor, flip = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if cursor is not None:
            ts, seq = cursor
            cursor = (float(ts), int(seq))
            # The cursor goes into SQL: a finite time and a seq that fits a BIGINT.
            if not math.isfinite(cursor[0]) or not 0 <= cursor[1] < 2**63:
                raise ValueError("cursor")
        if flip not in (0, 1):
            raise ValueError("flip")
    except (ValueError, TypeError, RecursionError, binascii.Error):
        raise _error("pagination.token", "not a token this server gave") from None
    return cursor, bool(flip)


def log_item(event: Mapping[str, Any], domain: str) -> dict[str, Any]:
    """One event as a Logs API item."""
    item = dict(event)
    moment = datetime.fromtimestamp(float(event["timestamp"]), UTC)
    item["@timestamp"] = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    item["account"] = {"id": ACCOUNT_ID}
    item["domain"] = {"name": domain}
    if isinstance(item.get("user-variables"), dict):
        item["user-variables"] = json.dumps(item["user-variables"], separators=(",", ":"))
    storage = item.get("storage")
    if isinstance(storage, dict) and isinstance(storage.get("url"), str):
        item["storage"] = storage | {"url": [storage["url"]]}
    return item


def _pagination_body(page: Page) -> dict[str, Any]:
    """Tokens of the first and last pages always; of the next and previous pages when there
    are events that way, so a client looping while there is a ``next`` stops at the end."""
    query = page.query
    tokens = {name: position_token(q) for name, q in page_queries(page).items()}
    further = page.has_more if not query.flip else query.cursor is not None
    back = page.has_more if query.flip else query.cursor is not None
    shown = {"first", "last"} | ({"next"} if page.items and further else set())
    shown |= {"previous"} if page.items and back else set()
    return {name: token for name, token in tokens.items() if name in shown}


def _rfc2822(moment: float) -> str:
    return formatdate(moment)  # "Thu, 26 Nov 2026 23:14:08 -0000", as Mailgun writes them


async def read_logs(store: Store, query: LogsQuery, domains: Sequence[str]) -> dict[str, Any]:
    """The Logs API answer for ``query`` over ``domains``: ``start``, ``end``, ``items``,
    ``pagination`` and, with ``include_totals``, ``pagination.total`` and ``aggregates``
    (``all``, and ``metrics`` as ``{event}_count``)."""
    page = await fetch_across(store, query.events, domains)
    body: dict[str, Any] = {
        "start": _rfc2822(query.start),
        "end": _rfc2822(query.end),
        "items": [log_item(item, d) for item, d in zip(page.items, page.domains, strict=True)],
        "pagination": _pagination_body(page),
        "aggregates": {},
    }
    if query.include_totals:
        counts = await count_across(store, query.events, domains)
        total = sum(counts.values())
        body["pagination"]["total"] = total
        metrics = {f"{event}_count": n for event, n in sorted(counts.items())}
        body["aggregates"] = {"all": total, "metrics": metrics}
    return body
