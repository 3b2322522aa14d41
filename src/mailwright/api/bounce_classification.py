"""Mailgun's bounce classification metrics, ``POST /v2/bounce-classification/metrics`` (the
Node SDK's ``mg.bounceClassification.list``), with the metrics API's authorization: an account
key (domain keys and domain-scoped OAuth clients are refused), and a test-environment credential
sees the test-mode events only."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import json_object, json_response, principal, services
from mailwright.delivery.bounce_metrics import bounce_metrics, parse_bounce_query


async def metrics(request: Request) -> Response:
    """Delivery failures by bounce class (JSON body): `start`, `end` (RFC 2822), `resolution`
    (hour, day), `duration` (24h0m0s, 90m, 7d; overrides start), `dimensions` (timestamp,
    domain.name, entity-name, envelope.sending-ip, tags, tag, recipient-domain, group-id,
    criticality, severity, category, explanation), `metrics` (critical_bounce_count,
    non_critical_bounce_count, critical_delay_count, non_critical_delay_count,
    classified_failures_count, delivered_smtp_count and the four rates; all when absent),
    `filter` (`{"AND": [{"attribute", "comparator": "="|"!="|"contains"|"not contains",
    "values": [{"value"}]}]}` on any dimension but timestamp), `include_subaccounts` (no effect),
    `pagination` (`sort` by a dimension or metric with :asc/:desc, `skip`, `limit` 1-1000,
    default 10). Only items with a classified failure are listed; the events read are the ones
    still kept."""
    who = await principal(request)
    who.require_account()
    body = await json_object(request)
    svc = services(request)
    query = parse_bounce_query(body, svc.clock())
    return json_response(await bounce_metrics(svc.store, query, test=who.is_test))


ROUTES = [Route("/v2/bounce-classification/metrics", metrics, methods=["POST"])]
