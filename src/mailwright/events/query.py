"""The Events API query: parameters, filters, time order and opaque page tokens.

A page token is the whole query plus a cursor ``(timestamp, seq)``: ``next`` continues after the
last item shown; ``previous`` and ``last`` read backwards (``flip``) and show the result in the
query's own order. Tokens keep working as new events arrive, so ``next`` can be polled.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from mailwright.errors import InvalidInput
from mailwright.events.clauses import to_clause
from mailwright.events.filters import FIELDS, parse
from mailwright.events.timeparse import parse_bool, parse_time
from mailwright.store import Store, queries, schema

MAX_LIMIT = 300
DEFAULT_LIMIT = 300

COLUMNS: dict[str, Any] = {
    "event": schema.events.c.event,
    "severity": schema.events.c.severity,
    "recipient": schema.events.c.recipient,
    "to": schema.events.c.to,
    "from": schema.events.c.sender,
    "subject": schema.events.c.subject,
    "message-id": schema.events.c.message_id,
    "tags": schema.events.c.tags_key,
    "list": schema.events.c.list,
    "attachment": schema.events.c.attachments,
    "size": schema.events.c.size,
}


@dataclass(frozen=True, slots=True)
class EventQuery:
    domain: str
    ascending: bool
    limit: int
    begin: float | None = None
    end: float | None = None
    filters: tuple[tuple[str, str], ...] = ()
    cursor: tuple[float, int] | None = None
    flip: bool = False  # read backwards from the cursor (previous/last pages)
    # Test-environment credentials see test-mode events only; set per request, not in tokens.
    is_test_only: bool = False

    def token(self) -> str:
        """Compact and opaque: the query (less the domain, which is in the URL) and the cursor."""
        data = [
            int(self.ascending),
            self.limit,
            self.begin,
            self.end,
            [list(f) for f in self.filters],
            self.cursor,
            int(self.flip),
        ]
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def from_token(cls, token: str, domain: str) -> EventQuery:
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            ascending, limit, begin, end, filters, cursor, flip = data
            query = cls(
                domain=domain,
                ascending=bool(ascending),
                limit=int(limit),
                begin=None if begin is None else float(begin),
                end=None if end is None else float(end),
                filters=tuple((str(k), str(v)) for k, v in filters),
                cursor=None if cursor is None else (float(cursor[0]), int(cursor[1])),
                flip=bool(flip),
            )
        except (ValueError, TypeError, binascii.Error):
            raise InvalidInput("Invalid page token", field="page") from None
        if not 0 < query.limit <= MAX_LIMIT or any(k not in COLUMNS for k, _ in query.filters):
            raise InvalidInput("Invalid page token", field="page")
        for name, value in query.filters:
            parse(value, field=name)
        return query


def parse_query(
    params: Mapping[str, str], domain: str, items: Sequence[tuple[str, str]] = ()
) -> EventQuery:
    """``items`` are all query parameters in order: a repeated filter is an AND of its values."""
    begin = parse_time(params["begin"], field="begin") if params.get("begin") else None
    end = parse_time(params["end"], field="end") if params.get("end") else None
    if "ascending" in params:
        ascending = parse_bool(params["ascending"], field="ascending")
    else:
        # Mailgun: with both bounds the order follows them; otherwise newest first.
        ascending = begin is not None and end is not None and begin < end
    if begin is not None and end is not None and begin > end:
        begin, end = end, begin
    raw_limit = params.get("limit", str(DEFAULT_LIMIT))
    if not raw_limit.isdigit() or not 0 < int(raw_limit) <= MAX_LIMIT:
        raise InvalidInput(f"'limit' must be an integer between 1 and {MAX_LIMIT}", field="limit")
    filters = tuple((k, v) for k, v in (items or tuple(params.items())) if k in COLUMNS)
    for name, value in filters:
        parse(value, field=name)
    return EventQuery(
        domain=domain,
        ascending=ascending,
        limit=int(raw_limit),
        begin=begin,
        end=end,
        filters=filters,
    )


def _where(query: EventQuery) -> list[ColumnElement[bool]]:
    e = schema.events.c
    where: list[ColumnElement[bool]] = [e.domain == query.domain]
    if query.is_test_only:
        where.append(e.is_test_mode.is_(True))
    if query.begin is not None:
        where.append(e.timestamp >= query.begin)
    if query.end is not None:
        where.append(e.timestamp <= query.end)
    for name, value in query.filters:
        where.append(to_clause(parse(value, field=name), COLUMNS[name], FIELDS[name]))
    if query.cursor is not None:
        ts, seq = query.cursor
        forward = query.ascending != query.flip
        if forward:
            where.append(or_(e.timestamp > ts, and_(e.timestamp == ts, e.seq > seq)))
        else:
            where.append(or_(e.timestamp < ts, and_(e.timestamp == ts, e.seq < seq)))
    return where


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    query: EventQuery
    first_cursor: tuple[float, int] | None
    last_cursor: tuple[float, int] | None


async def fetch(store: Store, query: EventQuery) -> Page:
    async with store.read() as conn:
        rows = await queries.select_events(
            conn, _where(query), ascending=query.ascending != query.flip, limit=query.limit
        )
    if query.flip:
        rows.reverse()
    items = [json.loads(payload) for _, _, payload in rows]
    first = (rows[0][1], rows[0][0]) if rows else None
    last = (rows[-1][1], rows[-1][0]) if rows else None
    return Page(items=items, query=query, first_cursor=first, last_cursor=last)


def paging(page: Page, base_url: str) -> dict[str, str]:
    """Mailgun's ``paging`` object: absolute URLs ending in an opaque page token."""
    q = replace(page.query, cursor=None, flip=False)
    nxt = replace(q, cursor=page.last_cursor or page.query.cursor, flip=False)
    prev = replace(q, cursor=page.first_cursor or page.query.cursor, flip=True)
    last = replace(q, flip=True)
    # The token is in the path, as Mailgun's URLs have it, and repeated as ``page`` so that
    # clients that copy the next URL's query onto the base URL (mailgun-python's stream())
    # page correctly too.
    return {
        name: f"{base_url}/{t}?page={t}"
        for name, t in (
            ("first", q.token()),
            ("last", last.token()),
            ("next", nxt.token()),
            ("previous", prev.token()),
        )
    }
