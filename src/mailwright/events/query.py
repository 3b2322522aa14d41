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
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select

from mailwright.errors import InvalidInput
from mailwright.events.clauses import escape_like, to_clause
from mailwright.events.filters import FIELDS, parse
from mailwright.events.timeparse import parse_bool, parse_time
from mailwright.events.to_headers import EMPTY_TO, fill_events
from mailwright.store import Store, queries, schema

MAX_LIMIT = 300
DEFAULT_LIMIT = 300

COLUMNS: dict[str, Any] = {
    "event": schema.events.c.event,
    "severity": schema.events.c.severity,
    "recipient": schema.events.c.recipient,
    # A To header kept apart is matched where it is kept (``events.to_headers``).
    "to": case(
        (
            schema.events.c.to == "",
            func.coalesce(
                select(schema.event_to_headers.c.to)
                .where(schema.event_to_headers.c.message_id == schema.events.c.message_id)
                .scalar_subquery(),
                "",
            ),
        ),
        else_=schema.events.c.to,
    ),
    "from": schema.events.c.sender,
    "subject": schema.events.c.subject,
    "message-id": schema.events.c.message_id,
    "tags": schema.events.c.tags_key,
    "list": schema.events.c.list,
    "attachment": schema.events.c.attachments,
    "size": schema.events.c.size,
}

TEXT_FIELDS = ("recipient", "from", "subject", "message-id")
# Filters an index serves (with the domain and time): the rest are checked row by row.
INDEXED = frozenset({"event", "severity", "recipient"})


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
    # Free text (the dashboard's search box): every word must be in one of TEXT_FIELDS.
    text: str = ""
    # Test-environment credentials see test-mode events only; set per request, not in tokens.
    is_test_only: bool = False

    def token(self) -> str:
        """Compact and opaque: the query (less the domain, which is in the URL) and the cursor."""
        data: list[Any] = [
            int(self.ascending),
            self.limit,
            self.begin,
            self.end,
            [list(f) for f in self.filters],
            self.cursor,
            int(self.flip),
        ]
        if self.text:
            data.append(self.text)
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def from_token(cls, token: str, domain: str) -> EventQuery:
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            ascending, limit, begin, end, filters, cursor, flip, *rest = data
            if len(rest) > 1:
                raise ValueError("too many fields")
            query = cls(
                domain=domain,
                ascending=bool(ascending),
                limit=int(limit),
                begin=None if begin is None else float(begin),
                end=None if end is None else float(end),
                filters=tuple((str(k), str(v)) for k, v in filters),
                cursor=None if cursor is None else (float(cursor[0]), int(cursor[1])),
                flip=bool(flip),
                text=str(rest[0]) if rest else "",
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


def _where(query: EventQuery, *, scanned: bool = True) -> list[ColumnElement[bool]]:
    """The WHERE clauses of ``query``; without the ``scanned`` ones (filters no index serves,
    free text) when ``scanned`` is false."""
    e = schema.events.c
    where: list[ColumnElement[bool]] = [e.domain == query.domain]
    if query.is_test_only:
        where.append(e.is_test_mode.is_(True))
    if query.begin is not None:
        where.append(e.timestamp >= query.begin)
    if query.end is not None:
        where.append(e.timestamp <= query.end)
    for name, value in query.filters:
        if scanned or name in INDEXED:
            where.append(to_clause(parse(value, field=name), COLUMNS[name], FIELDS[name]))
    for word in query.text.split() if scanned else ():
        pattern = f"%{escape_like(word.lower())}%"
        where.append(
            or_(*(func.lower(COLUMNS[name]).like(pattern, escape="\\") for name in TEXT_FIELDS))
        )
    if query.cursor is not None:
        where += _after(query.cursor, forward=query.ascending != query.flip)
    return where


def _after(cursor: tuple[float, int], *, forward: bool) -> list[ColumnElement[bool]]:
    """Strictly after ``cursor`` in reading order. The plain range on ``timestamp`` repeats
    what the OR says, so the ``(domain, timestamp)`` index seeks to the cursor."""
    e = schema.events.c
    ts, seq = cursor
    if forward:
        return [e.timestamp >= ts, or_(e.timestamp > ts, and_(e.timestamp == ts, e.seq > seq))]
    return [e.timestamp <= ts, or_(e.timestamp < ts, and_(e.timestamp == ts, e.seq < seq))]


def _up_to(cursor: tuple[float, int], *, forward: bool) -> list[ColumnElement[bool]]:
    """At or before ``cursor`` in reading order."""
    e = schema.events.c
    ts, seq = cursor
    if forward:
        return [e.timestamp <= ts, or_(e.timestamp < ts, and_(e.timestamp == ts, e.seq <= seq))]
    return [e.timestamp >= ts, or_(e.timestamp > ts, and_(e.timestamp == ts, e.seq >= seq))]


def is_scanning(query: EventQuery) -> bool:
    """Whether ``query`` has a filter no index serves (it reads every event in its range)."""
    return bool(query.text.strip()) or any(name not in INDEXED for name, _ in query.filters)


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    query: EventQuery
    first_cursor: tuple[float, int] | None
    last_cursor: tuple[float, int] | None
    has_more: bool = False  # more events lie beyond this page in the reading direction
    domains: list[str] = field(default_factory=list)  # each item's domain, in item order


async def fetch(store: Store, query: EventQuery) -> Page:
    return await fetch_across(store, query, [query.domain])


async def fetch_across(
    store: Store, query: EventQuery, domains: Sequence[str], *, scan: int | None = None
) -> Page:
    """``fetch`` over several domains (``query.domain`` is ignored): each domain's page is read
    through its own ``(domain, timestamp)`` index, then the pages are merged on the cursor
    order, so the cost is one indexed page per domain whatever the table's size.

    ``scan`` bounds a scanning query (``is_scanning``): it reads at most ``scan`` events in
    all, shared between the domains. The page then stops at the nearest domain's bound (its
    ``has_more`` is set and its far cursor is that bound), so the next page carries on from
    there and no event is skipped.
    """
    forward = query.ascending != query.flip
    rows: list[tuple[int, float, str, str]] = []  # seq, timestamp, payload, domain
    bounds: list[tuple[float, int]] = []
    window = max(1, scan // max(1, len(domains))) if scan and is_scanning(query) else None
    async with store.read() as conn:
        for domain in domains:
            one = replace(query, domain=domain)
            where = _where(one)
            if window is not None:
                bound = await queries.event_cursor_at(
                    conn, _where(one, scanned=False), ascending=forward, offset=window - 1
                )
                if bound is not None:
                    bounds.append(bound)
                    where += _up_to(bound, forward=forward)
            found = await queries.select_events(
                conn,
                where,
                ascending=forward,
                limit=query.limit + 1,  # one more tells whether there is more
            )
            rows += [(seq, ts, payload, domain) for seq, ts, payload in found]
    rows.sort(key=lambda r: (r[1], r[0]), reverse=not forward)
    frontier = None
    if bounds:
        # The bound nearest the start in reading order: past it, some domain was not read.
        frontier = (min if forward else max)(bounds)
        edge = frontier
        rows = [r for r in rows if ((r[1], r[0]) <= edge if forward else (r[1], r[0]) >= edge)]
    has_more = len(rows) > query.limit or frontier is not None
    del rows[query.limit :]
    near = (rows[0][1], rows[0][0]) if rows else None
    far = (rows[-1][1], rows[-1][0]) if rows else None
    if frontier is not None and len(rows) < query.limit:
        far = frontier
    if query.flip:
        rows.reverse()
        near, far = far, near
    items = [json.loads(payload) for _, _, payload, _ in rows]
    if any(EMPTY_TO in payload for _, _, payload, _ in rows):
        async with store.read() as conn:
            await fill_events(conn, items)
    return Page(
        items=items,
        query=query,
        first_cursor=near,
        last_cursor=far,
        has_more=has_more,
        domains=[domain for *_, domain in rows],
    )


async def count_across(store: Store, query: EventQuery, domains: Sequence[str]) -> dict[str, int]:
    """How many events match ``query`` (its cursor aside) over ``domains``, per event type."""
    whole = replace(query, cursor=None, flip=False)
    counts: dict[str, int] = {}
    async with store.read() as conn:
        for domain in domains:
            where = _where(replace(whole, domain=domain))
            for event, n in (await queries.count_events_by_type(conn, where)).items():
                counts[event] = counts.get(event, 0) + n
    return counts


def page_queries(page: Page) -> dict[str, EventQuery]:
    """The queries of the ``first``, ``last``, ``next`` and ``previous`` pages."""
    q = replace(page.query, cursor=None, flip=False)
    return {
        "first": q,
        "last": replace(q, flip=True),
        "next": replace(q, cursor=page.last_cursor or page.query.cursor, flip=False),
        "previous": replace(q, cursor=page.first_cursor or page.query.cursor, flip=True),
    }


def page_tokens(page: Page) -> dict[str, str]:
    """The tokens of the ``first``, ``last``, ``next`` and ``previous`` pages."""
    return {name: q.token() for name, q in page_queries(page).items()}


def paging(page: Page, base_url: str) -> dict[str, str]:
    """Mailgun's ``paging`` object: absolute URLs ending in an opaque page token."""
    # The token is in the path, as Mailgun's URLs have it, and repeated as ``page`` so that
    # clients that copy the next URL's query onto the base URL (mailgun-python's stream())
    # page correctly too.
    return {name: f"{base_url}/{t}?page={t}" for name, t in page_tokens(page).items()}
