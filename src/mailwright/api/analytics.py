"""Mailgun's account analytics with JSON bodies: ``POST /v1/analytics/metrics``, the usage
metrics of ``POST /v1/analytics/usage/metrics`` and the account-wide tags of
``/v1/analytics/tags`` (the Node SDK's ``mg.metrics`` and ``mg.tags``).

Both read what the v3 stats and tags endpoints read, with their authorization: an account
key (domain keys and domain-scoped OAuth clients are refused), changes need write access, and
a test-environment credential sees the test-mode counters only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import json_object, json_response, principal, services
from mailwright.errors import InvalidInput
from mailwright.events import (
    Tag,
    account_metrics,
    count_account_tags,
    delete_account_tag,
    describe_account_tag,
    list_account_tags,
    metric_values,
    parse_metrics_query,
    tag_metrics,
)
from mailwright.events.analytics import METRICS
from mailwright.events.tags import ACCOUNT_SORTS
from mailwright.validation.usage import parse_usage_query, usage_metrics

TAGS = "/v1/analytics/tags"
DEFAULT_TAG_LIMIT = 10
MAX_TAG_LIMIT = 1000
MAX_TAG_LIMIT_WITH_METRICS = 20  # Mailgun's cap when include_metrics is true
MAX_SKIP = 1_000_000


async def metrics(request: Request) -> Response:
    """Account metrics (JSON body): `start`, `end` (RFC 2822), `resolution` (hour, day,
    month), `duration` (e.g. 7d; overrides start), `dimensions` (time, domain, tag; ip, ip_pool,
    recipient_domain, recipient_provider, country, device, bot and subaccount answer 400),
    `metrics` (counts such as accepted_count, delivered_count, failed_count, opened_count and
    the rates delivered_rate, opened_rate, clicked_rate, fail_rate, bounce_rate, ...), `filter`
    (`{"AND": [{"attribute": "domain"|"tag", "comparator": "="|"!=", "values": [{"value"}]}]}`),
    `include_aggregates`, `pagination` (`sort` by a dimension or metric with :asc/:desc, `skip`,
    `limit` 1-1500). Figures come from the counters the v3 stats read."""
    who = await principal(request)
    who.require_account()
    body = await json_object(request)
    svc = services(request)
    query = parse_metrics_query(body, svc.clock())
    return json_response(await account_metrics(svc.store, query, test=who.is_test))


async def usage(request: Request) -> Response:
    """Account usage metrics (JSON body), as for the metrics: `start`, `end`, `resolution`,
    `duration`, `dimensions` (time; subaccount answers 400), `metrics`
    (email_validation_bulk_count and email_validation_list_count: addresses validated by bulk
    jobs and mailing-list validations, counted when the job ends;
    email_validation_single_count and email_validation_public_count: single validations, and
    those made with the public key; email_validation_count: all of them; previews, seed tests,
    link checks and the other metrics mailwright has no record of answer 400),
    `include_aggregates`, `pagination`."""
    who = await principal(request)
    who.require_account()
    body = await json_object(request)
    svc = services(request)
    return json_response(await usage_metrics(svc.store, parse_usage_query(body, svc.clock())))


def _seen(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _tag_item(tag: Tag, counts: dict[str, int] | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "account_id": "",
        "parent_account_id": "",
        "tag": tag.tag,
        "description": tag.description,
        "first_seen": _seen(tag.first_seen),
        "last_seen": _seen(tag.last_seen),
        "account_name": "",
    }
    if counts is not None:
        item["metrics"] = metric_values(METRICS, counts)
    return item


def _integer(pagination: dict[str, Any], name: str, default: int, high: int) -> int:
    raw = pagination.get(name)
    if raw is None:
        return default
    low = 1 if name == "limit" else 0
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise InvalidInput(
            f"'pagination.{name}' must be an integer between {low} and {high}", field=name
        )
    return raw


def _tag_sort(raw: Any) -> tuple[str, str, bool]:
    """``lastseen:desc`` (the default), ``tag``, ``firstseen:asc``, ..."""
    if raw is None or raw == "":
        return "lastseen:desc", "lastseen", True
    if not isinstance(raw, str):
        raise InvalidInput("'pagination.sort' must be a string", field="sort")
    key, _, direction = raw.strip().lower().replace("_", "").partition(":")
    if key not in ACCOUNT_SORTS or direction not in ("", "asc", "desc"):
        raise InvalidInput(
            f"'pagination.sort' must be one of {', '.join(ACCOUNT_SORTS)}, "
            "optionally followed by :asc or :desc",
            field="sort",
        )
    return raw, key, direction == "desc"


def _bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return str(value) == "true"
    raise InvalidInput(f"'{name}' must be true or false", field=name)


def _tag(body: dict[str, Any], *, required: bool) -> str | None:
    tag = body.get("tag")
    if tag is None or tag == "":
        if required:
            raise InvalidInput("'tag' parameter is missing", field="tag")
        return None
    if not isinstance(tag, str):
        raise InvalidInput("'tag' must be a string", field="tag")
    return tag


async def list_tags(request: Request) -> Response:
    """The account's tags, every domain's together (JSON body): `tag` (a tag or tag prefix),
    `include_metrics` (every count and rate of each tag over all time; limit at most 20),
    `include_subaccounts` (no effect), `pagination` (`sort` tag, firstseen or lastseen with
    :asc/:desc, default lastseen:desc; `skip`; `limit` 1-1000, default 10)."""
    who = await principal(request)
    who.require_account()
    body = await json_object(request)
    pagination = body.get("pagination") or {}
    if not isinstance(pagination, dict):
        raise InvalidInput("'pagination' must be an object", field="pagination")
    with_metrics = _bool(body, "include_metrics")
    _bool(body, "include_subaccounts")
    sort, key, descending = _tag_sort(pagination.get("sort"))
    high = MAX_TAG_LIMIT_WITH_METRICS if with_metrics else MAX_TAG_LIMIT
    limit = _integer(pagination, "limit", DEFAULT_TAG_LIMIT, high)
    skip = _integer(pagination, "skip", 0, MAX_SKIP)
    store = services(request).store
    page = await list_account_tags(
        store,
        prefix=_tag(body, required=False),
        sort=key,
        descending=descending,
        skip=skip,
        limit=limit,
    )
    counts: dict[str, Any] = {}
    if with_metrics:
        counts = await tag_metrics(store, [t.tag for t in page.tags], test=who.is_test)
    items = [_tag_item(t, dict(counts.get(t.tag, {})) if with_metrics else None) for t in page.tags]
    return json_response(
        {
            "items": items,
            "pagination": {"sort": sort, "skip": skip, "limit": limit, "total": page.total},
        }
    )


async def update_tag(request: Request) -> Response:
    """Set a tag's `description` on every domain that has it (JSON body `tag`,
    `description`)."""
    (await principal(request)).require_account(write=True)
    body = await json_object(request)
    tag = _tag(body, required=True)
    assert tag is not None
    description = body.get("description")
    if not isinstance(description, str):
        raise InvalidInput("'description' parameter is missing", field="description")
    await describe_account_tag(services(request).store, tag, description)
    return json_response({"message": "Tag updated"})


async def delete_tag(request: Request) -> Response:
    """Delete a tag and its stats on every domain: JSON body `{"tag": ...}` (or `?tag=`)."""
    (await principal(request)).require_account(write=True)
    body = await json_object(request)
    if body.get("tag") is None and request.query_params.get("tag"):
        body = {"tag": request.query_params["tag"]}
    tag = _tag(body, required=True)
    assert tag is not None
    await delete_account_tag(services(request).store, tag)
    return json_response({"message": "Tag deleted"})


async def tag_limits(request: Request) -> Response:
    """How many distinct tags the account has; mailwright sets no tag limit, so `limit` is
    null and `limit_reached` false."""
    (await principal(request)).require_account()
    count = await count_account_tags(services(request).store)
    return json_response({"limit": None, "count": count, "limit_reached": False})


ROUTES = [
    Route("/v1/analytics/metrics", metrics, methods=["POST"]),
    Route("/v1/analytics/usage/metrics", usage, methods=["POST"]),
    Route(TAGS, list_tags, methods=["POST"]),
    Route(TAGS, update_tag, methods=["PUT"]),
    Route(TAGS, delete_tag, methods=["DELETE"]),
    Route(TAGS + "/limits", tag_limits, methods=["GET"]),
]
