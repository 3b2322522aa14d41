"""Mailgun's Metrics API (``POST /v1/analytics/metrics``) over the hourly stat counters the
Stats API reads: the JSON query parsed into a ``MetricsQuery``, and the answer computed.

Counts are sums of counters (``counters.py``); Mailgun's ``bounced_count`` is its documented
``permanent_failed_count - (suppressed_bounces_count + suppressed_complaints_count +
suppressed_unsubscribed_count)``. Rates are percentages as strings with two decimals
(``"66.67"``), ``"0.00"`` when the base is zero:

=============================================================  ===========================
``delivered_rate``                                             ``delivered_count`` over
``fail_rate``, ``permanent_fail_rate``, ``temporary_fail_rate``  ``accepted_outgoing_count``
``bounce_rate``
``opened_rate``, ``clicked_rate``, ``unsubscribed_rate``,      over ``delivered_count``
``complained_rate``
=============================================================  ===========================

Mailgun divides the first group by its ``sent_count``/``processed_count``, which mailwright
has no counter for; every outgoing message it accepts is sent, so accepted outgoing stands in.
Metrics the counters cannot back (unique opens and clicks, first-attempt deliveries, ...) and
dimensions other than ``time``, ``domain`` and ``tag`` are refused by name. The period is the
Stats API's: whole buckets, from the one holding ``start`` to the one holding ``end``.

The query and the answer are an engine other endpoints of the same shape reuse with a
``Catalog`` of their own (the usage metrics, ``validation/usage.py``): what they count, their
dimensions and filters, and the Mailgun names they refuse with the reason. ``SENDING`` is this
API's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mailwright.errors import InvalidInput
from mailwright.events.period import StatsQuery, floor, next_bucket, parse_period
from mailwright.events.timeparse import parse_bool
from mailwright.store import Store, queries

Counts = Mapping[str, int]
Value = int | str

DELIVERED = ("delivered.smtp", "delivered.http", "delivered.optimized")
SUPPRESSED = (
    "failed.permanent.suppress-bounce",
    "failed.permanent.suppress-complaint",
    "failed.permanent.suppress-unsubscribe",
)
FAILED = ("failed.temporary.total", "failed.permanent.total")


def _sum(*stats: str) -> Callable[[Counts], int]:
    return lambda counts: sum(counts.get(stat, 0) for stat in stats)


def _bounced(counts: Counts) -> int:
    return _sum("failed.permanent.total")(counts) - _sum(*SUPPRESSED)(counts)


COUNTS: dict[str, Callable[[Counts], int]] = {
    "accepted_incoming_count": _sum("accepted.incoming"),
    "accepted_outgoing_count": _sum("accepted.outgoing"),
    "accepted_count": _sum("accepted.incoming", "accepted.outgoing"),
    "delivered_smtp_count": _sum("delivered.smtp"),
    "delivered_http_count": _sum("delivered.http"),
    "delivered_optimized_count": _sum("delivered.optimized"),
    "delivered_count": _sum(*DELIVERED),
    "stored_count": _sum("stored.total"),
    "opened_count": _sum("opened.total"),
    "clicked_count": _sum("clicked.total"),
    "unsubscribed_count": _sum("unsubscribed.total"),
    "complained_count": _sum("complained.total"),
    "failed_count": _sum(*FAILED),
    "temporary_failed_count": _sum("failed.temporary.total"),
    "permanent_failed_count": _sum("failed.permanent.total"),
    "esp_block_count": _sum("failed.temporary.espblock"),
    "temporary_failed_esp_block_count": _sum("failed.temporary.espblock"),
    "webhook_count": _sum("failed.permanent.webhook"),
    "delayed_bounce_count": _sum("failed.permanent.delayed-bounce"),
    "permanent_failed_optimized_count": _sum("failed.permanent.optimized"),
    "suppressed_bounces_count": _sum("failed.permanent.suppress-bounce"),
    "suppressed_unsubscribed_count": _sum("failed.permanent.suppress-unsubscribe"),
    "suppressed_complaints_count": _sum("failed.permanent.suppress-complaint"),
    "bounced_count": _bounced,
}
# rate -> (count, base count)
RATES: dict[str, tuple[str, str]] = {
    "delivered_rate": ("delivered_count", "accepted_outgoing_count"),
    "fail_rate": ("failed_count", "accepted_outgoing_count"),
    "permanent_fail_rate": ("permanent_failed_count", "accepted_outgoing_count"),
    "temporary_fail_rate": ("temporary_failed_count", "accepted_outgoing_count"),
    "bounce_rate": ("bounced_count", "accepted_outgoing_count"),
    "opened_rate": ("opened_count", "delivered_count"),
    "clicked_rate": ("clicked_count", "delivered_count"),
    "unsubscribed_rate": ("unsubscribed_count", "delivered_count"),
    "complained_rate": ("complained_count", "delivered_count"),
}
METRICS = (*COUNTS, *RATES)
# Mailgun metrics the counters cannot back: refused as unsupported rather than unknown.
UNSUPPORTED_METRICS = frozenset(
    {
        "processed_count",
        "sent_count",
        "unique_opened_count",
        "unique_clicked_count",
        "rate_limit_count",
        "soft_bounces_count",
        "hard_bounces_count",
        "permanent_failed_old_count",
        "permanent_failed_esp_block_count",
        "delivered_subsequent_count",
        "delivered_first_attempt_count",
        "delivered_two_plus_attempts_count",
        "delayed_first_attempt_count",
        "unique_opened_rate",
        "unique_clicked_rate",
        "delayed_rate",
        "hard_bounce_rate",
        "soft_bounce_rate",
    }
)
DIMENSIONS = ("time", "domain", "tag")
UNSUPPORTED_DIMENSIONS = frozenset(
    {"bot", "country", "device", "ip", "ip_pool", "recipient_domain", "recipient_provider"}
    | {"subaccount"}
)
COMPARATORS = ("=", "!=")
DEFAULT_LIMIT = 1500
MAX_LIMIT = 1500
MAX_SKIP = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Catalog:
    """What one endpoint of the Metrics API's shape offers: count metrics (each summed from a
    bucket's counters), rates (count over base count), dimensions and ``filter`` attributes
    (``domain`` and ``tag`` are the ones the engine knows), and the Mailgun metrics and
    dimensions it refuses, each with the reason its 400 gives ("" for none)."""

    counts: Mapping[str, Callable[[Counts], int]]
    rates: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    refused_metrics: Mapping[str, str] = field(default_factory=dict)
    dimensions: tuple[str, ...]
    refused_dimensions: Mapping[str, str] = field(default_factory=dict)
    filters: tuple[str, ...] = ()

    @property
    def metrics(self) -> tuple[str, ...]:
        return (*self.counts, *self.rates)


SENDING = Catalog(
    counts=COUNTS,
    rates=RATES,
    refused_metrics=dict.fromkeys(sorted(UNSUPPORTED_METRICS), "no counter backs it"),
    dimensions=DIMENSIONS,
    refused_dimensions=dict.fromkeys(sorted(UNSUPPORTED_DIMENSIONS), ""),
    filters=("domain", "tag"),
)


def rate(count: int, base: int) -> str:
    return f"{100 * count / base:.2f}" if base else "0.00"


def metric_values(
    names: Iterable[str], counts: Counts, catalog: Catalog = SENDING
) -> dict[str, Value]:
    """The named metrics (each of ``catalog.metrics``) from a bucket's counters."""
    found: dict[str, Value] = {}
    for name in names:
        if name in catalog.counts:
            found[name] = catalog.counts[name](counts)
        else:
            count, base = catalog.rates[name]
            found[name] = rate(catalog.counts[count](counts), catalog.counts[base](counts))
    return found


def rfc2822(moment: datetime) -> str:
    """The Metrics API's time format: ``Mon, 24 Feb 2025 00:00:00 +0000``."""
    return moment.strftime("%a, %d %b %Y %H:%M:%S +0000")


@dataclass(frozen=True, slots=True)
class Scope:
    """Which domains and tags a query covers: ``only`` None means every one."""

    only: tuple[str, ...] | None = None
    excluded: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsQuery:
    period: StatsQuery
    duration: str | None
    dimensions: tuple[str, ...]
    metrics: tuple[str, ...]
    domains: Scope
    tags: Scope
    sort: str  # as sent, echoed back
    sort_key: str | None  # a dimension or metric; None: dimension order
    descending: bool
    skip: int
    limit: int
    include_aggregates: bool
    catalog: Catalog = SENDING

    def span(self) -> tuple[int, int]:
        """The period in Unix seconds: from the first bucket's start to the last one's end."""
        resolution = self.period.resolution
        end = next_bucket(self.period.end, resolution)
        return int(self.period.start.timestamp()), int(end.timestamp())

    def counter_slice(self, *, test: bool) -> queries.CounterSlice:
        start, end = self.span()
        is_tagged = "tag" in self.dimensions or self.tags != Scope()
        return queries.CounterSlice(
            start=start,
            end=end,
            step=3600 if self.period.resolution == "hour" else 86400,
            test=test,
            tagged=is_tagged,
            domains=self.domains.only,
            not_domains=self.domains.excluded,
            tags=self.tags.only,
            not_tags=self.tags.excluded,
            by_domain="domain" in self.dimensions,
            by_tag="tag" in self.dimensions,
        )


# -- parsing ---------------------------------------------------------------------------------


def text_field(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise InvalidInput(f"'{name}' must be a string", field=name)


def name_list(body: Mapping[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"'{name}' must be a list of strings", field=name)
    return list(dict.fromkeys(v.strip().lower() for v in value))


def flag(body: Mapping[str, Any], name: str, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return parse_bool(value, field=name)
    raise InvalidInput(f"'{name}' must be true or false", field=name)


def parse_dimensions(body: Mapping[str, Any], catalog: Catalog = SENDING) -> tuple[str, ...]:
    names = name_list(body, "dimensions")
    supported = ", ".join(catalog.dimensions)
    for name in names:
        if name in catalog.refused_dimensions:
            reason = catalog.refused_dimensions[name]
            because = f" ({reason})" if reason else ""
            raise InvalidInput(
                f"'dimensions': '{name}' is not supported by mailwright{because}; "
                f"supported: {supported}",
                field="dimensions",
            )
        if name not in catalog.dimensions:
            raise InvalidInput(
                f"'dimensions': unknown dimension '{name}'; supported: {supported}",
                field="dimensions",
            )
    return tuple(names)


def parse_metrics(body: Mapping[str, Any], catalog: Catalog = SENDING) -> tuple[str, ...]:
    names = name_list(body, "metrics")
    if not names:
        raise InvalidInput("'metrics' must name at least one metric", field="metrics")
    for name in names:
        if name in catalog.refused_metrics:
            raise InvalidInput(
                f"'metrics': '{name}' is not supported by mailwright "
                f"({catalog.refused_metrics[name]})",
                field="metrics",
            )
        if name not in catalog.metrics:
            raise InvalidInput(f"'metrics': unknown metric '{name}'", field="metrics")
    return tuple(names)


def _condition(item: Any, attributes: Sequence[str]) -> tuple[str, bool, tuple[str, ...]]:
    """(attribute, is_equal, values) of one ``filter.AND`` condition."""
    if not isinstance(item, dict):
        raise InvalidInput("'filter.AND' must be a list of conditions", field="filter")
    attribute, comparator = item.get("attribute"), item.get("comparator")
    if not isinstance(attribute, str) or attribute not in attributes:
        raise InvalidInput(
            f"'filter': attribute {attribute!r} is not supported; "
            f"supported: {', '.join(attributes) or 'none'}",
            field="filter",
        )
    if comparator not in COMPARATORS:
        raise InvalidInput(
            f"'filter': comparator {comparator!r} is not supported; supported: =, !=",
            field="filter",
        )
    values = item.get("values")
    if not isinstance(values, list) or not values:
        raise InvalidInput("'filter': 'values' must be a non-empty list", field="filter")
    found: list[str] = []
    for value in values:
        text = value.get("value") if isinstance(value, dict) else value
        if not isinstance(text, str):
            raise InvalidInput(
                '\'filter\': each value must be {"label": ..., "value": "..."}',
                field="filter",
            )
        found.append(text.strip().lower())
    return attribute, comparator == "=", tuple(dict.fromkeys(found))


def parse_filter(body: Mapping[str, Any], catalog: Catalog = SENDING) -> dict[str, Scope]:
    """Per attribute: the values every ``=`` condition allows, less every ``!=`` one."""
    raw = body.get("filter")
    if raw is None:
        return dict.fromkeys(catalog.filters, Scope())
    conditions = raw.get("AND") if isinstance(raw, dict) else None
    if not isinstance(conditions, list):
        raise InvalidInput("'filter' must be {\"AND\": [conditions]}", field="filter")
    parsed = [_condition(item, catalog.filters) for item in conditions]
    scopes: dict[str, Scope] = {}
    for attribute in catalog.filters:
        only: set[str] | None = None
        excluded: set[str] = set()
        for name, is_equal, values in parsed:
            if name != attribute:
                continue
            if is_equal:
                only = set(values) if only is None else only & set(values)
            else:
                excluded |= set(values)
        scopes[attribute] = Scope(
            None if only is None else tuple(sorted(only)), tuple(sorted(excluded))
        )
    return scopes


@dataclass(frozen=True, slots=True)
class Pagination:
    """A query body's ``pagination``: the sort (``"key:dir"`` as given, its key and direction),
    ``skip`` and ``limit``."""

    sort: str
    sort_key: str | None
    descending: bool
    skip: int
    limit: int


def parse_pagination(
    body: Mapping[str, Any],
    allowed: Sequence[str],
    *,
    default_limit: int,
    max_limit: int,
    max_skip: int = MAX_SKIP,
) -> Pagination:
    """``pagination`` (an object, or absent): ``sort`` by one of ``allowed``, ``skip``,
    ``limit``; every mistake is a 400 naming it."""
    raw = body.get("pagination")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidInput("'pagination' must be an object", field="pagination")
    sort, key, descending = pagination_sort(raw.get("sort"), allowed)
    return Pagination(
        sort=sort,
        sort_key=key,
        descending=descending,
        skip=pagination_integer(raw.get("skip"), "skip", 0, 0, max_skip),
        limit=pagination_integer(raw.get("limit"), "limit", default_limit, 1, max_limit),
    )


def pagination_integer(raw: Any, name: str, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise InvalidInput(
            f"'pagination.{name}' must be an integer between {low} and {high}", field=name
        )
    return raw


def pagination_sort(raw: Any, allowed: Sequence[str]) -> tuple[str, str | None, bool]:
    if raw is None or raw == "":
        return "", None, False
    if not isinstance(raw, str):
        raise InvalidInput("'pagination.sort' must be a string", field="sort")
    key, _, direction = raw.strip().lower().partition(":")
    if key not in allowed or direction not in ("", "asc", "desc"):
        raise InvalidInput(
            "'pagination.sort' must be one of the query's dimensions or metrics, "
            "optionally followed by :asc or :desc",
            field="sort",
        )
    return raw, key, direction == "desc"


def parse_metrics_query(
    body: Mapping[str, Any], now: float, catalog: Catalog = SENDING
) -> MetricsQuery:
    """The JSON body of ``POST /v1/analytics/metrics`` (or of an endpoint of its shape, with
    its ``catalog``); every mistake is a 400 naming it."""
    params = {
        name: text
        for name in ("start", "end", "resolution", "duration")
        if (text := text_field(body, name)) is not None
    }
    period = parse_period(params, now)
    dimensions, metrics = parse_dimensions(body, catalog), parse_metrics(body, catalog)
    scopes = parse_filter(body, catalog)
    tags = scopes.get("tag", Scope())
    if "tag" not in dimensions and tags != Scope() and (tags.excluded or len(tags.only or ()) != 1):
        # Without the tag dimension each message must count once: a message carrying two
        # of the tags would be counted twice, so only one tag can be asked for.
        raise InvalidInput(
            "'filter' on 'tag' needs the 'tag' dimension unless it is one '=' with one value",
            field="filter",
        )
    flag(body, "include_subaccounts", False)  # there are no subaccounts
    page = parse_pagination(
        body, (*dimensions, *metrics), default_limit=DEFAULT_LIMIT, max_limit=MAX_LIMIT
    )
    return MetricsQuery(
        period=period,
        duration=params.get("duration") or None,
        dimensions=dimensions,
        metrics=metrics,
        domains=scopes.get("domain", Scope()),
        tags=tags,
        sort=page.sort,
        sort_key=page.sort_key,
        descending=page.descending,
        skip=page.skip,
        limit=page.limit,
        include_aggregates=flag(body, "include_aggregates", True),
        catalog=catalog,
    )


# -- answering -------------------------------------------------------------------------------


def _dimension(name: str, value: Any) -> dict[str, str]:
    text = rfc2822(value) if name == "time" else str(value)
    return {"dimension": name, "value": text, "display_value": text}


def _add(into: dict[str, int], stat: str, count: int) -> None:
    into[stat] = into.get(stat, 0) + count


def _groups(
    query: MetricsQuery, rows: Iterable[tuple[int, str, str, str, int]]
) -> tuple[dict[tuple[Any, ...], dict[str, int]], dict[str, int]]:
    """Counters per combination of the query's dimension values, and over everything."""
    groups: dict[tuple[Any, ...], dict[str, int]] = {}
    total: dict[str, int] = {}
    resolution = query.period.resolution
    for bucket, domain, tag, stat, count in rows:
        facts = {
            "time": floor(datetime.fromtimestamp(bucket, UTC), resolution),
            "domain": domain,
            "tag": tag,
        }
        key = tuple(facts[name] for name in query.dimensions)
        _add(groups.setdefault(key, {}), stat, count)
        _add(total, stat, count)
    if query.dimensions == ("time",):  # a time series has every bucket, zeros included
        for moment in query.period.buckets():
            groups.setdefault((moment,), {})
    if not query.dimensions:
        groups.setdefault((), {})
    return groups, total


def _order(query: MetricsQuery, items: list[tuple[tuple[Any, ...], dict[str, Value]]]) -> None:
    key = query.sort_key
    if key is None:
        items.sort(key=lambda item: item[0])
    elif key in query.dimensions:
        index = query.dimensions.index(key)
        items.sort(key=lambda item: item[0][index], reverse=query.descending)
    else:
        items.sort(key=lambda item: float(item[1][key]), reverse=query.descending)


async def account_metrics(store: Store, query: MetricsQuery, *, test: bool) -> dict[str, Any]:
    """Mailgun's metrics answer over the stat counters."""
    async with store.read() as conn:
        rows = await queries.group_counters(conn, query.counter_slice(test=test))
    return metrics_body(query, rows)


def metrics_body(
    query: MetricsQuery, rows: Iterable[tuple[int, str, str, str, int]]
) -> dict[str, Any]:
    """Mailgun's metrics answer from (bucket start, domain, tag, counter, count) rows: one item
    per combination of dimension values that has any count (every bucket for a plain time
    series), ``pagination`` applied after sorting."""
    catalog = query.catalog
    groups, total = _groups(query, rows)
    items = [(key, metric_values(query.metrics, counts, catalog)) for key, counts in groups.items()]
    _order(query, items)
    page = items[query.skip : query.skip + query.limit]
    aggregates = metric_values(query.metrics, total, catalog) if query.include_aggregates else {}
    body: dict[str, Any] = {
        "start": rfc2822(query.period.start),
        "end": rfc2822(query.period.end),
        "resolution": query.period.resolution,
        "dimensions": list(query.dimensions),
        "pagination": {
            "sort": query.sort,
            "skip": query.skip,
            "limit": query.limit,
            "total": len(items),
        },
        "items": [
            {
                "dimensions": [
                    _dimension(n, v) for n, v in zip(query.dimensions, key, strict=True)
                ],
                "metrics": metrics,
            }
            for key, metrics in page
        ],
        "aggregates": {"metrics": aggregates},
    }
    if query.duration:
        body["duration"] = query.duration
    return body


async def tag_metrics(store: Store, tags: Sequence[str], *, test: bool) -> dict[str, Counts]:
    """Every counter of each tag, all domains and all time together."""
    if not tags:
        return {}
    part = queries.CounterSlice(
        start=0, end=2**62, step=86400, test=test, tagged=True, tags=tuple(tags), by_tag=True
    )
    async with store.read() as conn:
        rows = await queries.group_counters(conn, part)
    found: dict[str, dict[str, int]] = {}
    for _bucket, _domain, tag, stat, count in rows:
        _add(found.setdefault(tag, {}), stat, count)
    return dict(found)
