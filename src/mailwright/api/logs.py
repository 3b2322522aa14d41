"""``POST /v1/analytics/logs``: Mailgun's Logs API, the account-wide successor of the Events API,
read from the same events (``events.logs``)."""

from __future__ import annotations

from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response

from mailwright.api.context import json_object, json_response, principal, services
from mailwright.domains import list_domains
from mailwright.events import parse_logs_query, read_logs
from mailwright.store import Store

DOMAINS_PAGE = 1000


async def _domain_names(store: Store) -> list[str]:
    total, rows = await list_domains(store, limit=DOMAINS_PAGE)
    if total > len(rows):
        _, rows = await list_domains(store, limit=total)
    return [row.name for row in rows]


async def search(request: Request) -> Response:
    """Event logs of every domain (Mailgun's Logs API), newest first.

    JSON body: `start`, `end` (RFC 2822; a day back from now by default) or `duration` (`2h`,
    `7d`), `events`, `metric_events`, `filter.AND` conditions on `domain`, `event`,
    `recipient`, `message-id`, `tag`, `severity`, `subject`, `from`, `to` (comparators `=`,
    `!=`, `contains`, `not contains`), `include_totals`, and `pagination` (`sort`
    `timestamp:desc` or `timestamp:asc`, `limit` up to 100, `token` from a previous answer,
    sent with the same query). Keys bound to one domain are refused, as for events.
    """
    who = await principal(request)
    who.require_account()
    svc = services(request)
    query = parse_logs_query(await json_object(request), now=svc.clock())
    query = replace(query, events=replace(query.events, is_test_only=who.is_test))
    domains = query.pick(await _domain_names(svc.store))
    return json_response(await read_logs(svc.store, query, domains))
