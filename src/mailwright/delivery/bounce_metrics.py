"""Mailgun's bounce classification metrics (``POST /v2/bounce-classification/metrics``, the Node
SDK's ``mg.bounceClassification.list``) over the delivery outcome events.

Every SMTP attempt leaves one event: ``delivered``, or ``failed`` with the reply in
``delivery-status`` and severity ``temporary`` (a *delay*: the delivery is tried again) or
``permanent`` (a *bounce*). ``classify_reply`` classifies the reply again; its bounce class is the
``group-id``, and ``CATEGORIES`` gives Mailgun's ``category``, ``criticality`` and an
``explanation``. *Critical* failures are the ones Mailgun's bounce classification exists for:
the receiver refused us or our message (a blocklisting or poor reputation, spam or malware
content, authentication, policy, a refused sender, or rate limiting of our mail), which the
sender must act on. The others are about the recipient, the message size or the way there.

Failures that were never attempted (suppressed addresses, deliveries cancelled with their
domain) have no reply and are left out; an asynchronous bounce (a DSN received later) is a
bounce with the DSN's status; a delivery that expired after its retries (reason ``old``) is a
bounce classified by its last reply.

Dimensions: ``timestamp`` (the hour or day), ``domain.name``, ``entity-name`` (the mailbox
provider of the MX host that answered, as adaptive throttling names it: ``google``,
``microsoft``, ...; else the host's registrable domain), ``envelope.sending-ip``, ``tags`` (an
event's tags together) and ``tag`` (one item per tag: an event with two tags counts under each),
``recipient-domain``, and the classification's ``group-id``, ``criticality``, ``severity``,
``category`` and ``explanation``. Each is also a ``filter`` attribute (``=``, ``!=``, ``contains``,
``not contains``; values compared case-insensitively).

As Mailgun documents, only items with a classified failure are returned.
``delivered_smtp_count`` counts the delivered events of the item's dimension values; an item
grouped by a classification dimension has none (null). A rate is a fraction (4 decimals) of the
*attempts* (delivered and failed events) with the item's values of the other dimensions, before
any classification filter: ``critical_bounce_rate`` 0.05 is one attempt in twenty bouncing
critically. Events are kept ``MAILWRIGHT_RETENTION_HOURS``, so the report reaches back that far.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from publicsuffixlist import PublicSuffixList

from mailwright import jsontext
from mailwright.delivery.adaptive import provider_of
from mailwright.delivery.classify import BounceClass, Classification, Reason, classify_reply
from mailwright.errors import InvalidInput
from mailwright.events.analytics import (
    flag,
    name_list,
    parse_pagination,
    rfc2822,
    text_field,
)
from mailwright.events.period import (
    StatsQuery,
    floor,
    next_bucket,
    parse_period,
    subtract_clock_duration,
)
from mailwright.store import Store
from mailwright.store import analytics as sql

RESOLUTIONS = ("hour", "day")
OUTCOME_DIMENSIONS = (
    "timestamp",
    "domain.name",
    "entity-name",
    "envelope.sending-ip",
    "tags",
    "tag",
    "recipient-domain",
)
CLASSIFICATION_DIMENSIONS = ("group-id", "criticality", "severity", "category", "explanation")
DIMENSIONS = (*OUTCOME_DIMENSIONS, *CLASSIFICATION_DIMENSIONS)
REFUSED_DIMENSIONS = {
    "account.name": "there is one account and no subaccounts",
    "envelope.i-ip-pool-name": "events record the sending IP, not its pool",
}
FILTERS = DIMENSIONS[1:]  # every dimension but the time
COMPARATORS = ("=", "!=", "contains", "not contains")
FAILURES = (
    "critical_bounce_count",
    "non_critical_bounce_count",
    "critical_delay_count",
    "non_critical_delay_count",
)
COUNTS = (*FAILURES, "classified_failures_count", "delivered_smtp_count")
RATES = {count.replace("_count", "_rate"): count for count in FAILURES}
METRICS = (*COUNTS, *RATES)
# An item's keys, as mailgun.js types them: the dimensions not grouped by are null.
ITEM_KEYS = (
    "account.id",
    "account.name",
    "entity-name",
    "recipient-provider",
    "recipient-domain",
    "domain.name",
    "envelope.i-ip-pool-id",
    "envelope.i-ip-pool-name",
    "envelope.sending-ip",
    "timestamp",
    "tags",
    "tag",
    "criticality",
    "severity",
    "category",
    "group-id",
    "sample-text",
    "explanation",
)
DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
MAX_SKIP = 1_000_000
MAX_VALUES = 100
PAGE = 5000  # events read per query
SAMPLE = 500  # characters of a reply kept as an item's sample-text
NEVER_ATTEMPTED = frozenset({"suppress-bounce", "suppress-unsubscribe", "suppress-complaint"})


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    is_critical: bool
    explanation: str


_C = BounceClass
CATEGORIES: dict[BounceClass, Category] = {
    _C.INVALID_RECIPIENT: Category("recipient", False, "the mailbox does not exist"),
    _C.INACTIVE_MAILBOX: Category("recipient", False, "the mailbox is disabled or expired"),
    _C.BAD_DOMAIN: Category("recipient", False, "the recipient's domain takes no mail"),
    _C.QUOTA_ISSUES: Category("mailbox", False, "the mailbox is full or receiving too fast"),
    _C.TOO_LARGE: Category("message", False, "the message is over the receiver's size limit"),
    _C.CONTENT_RELATED: Category("message", False, "the content was malformed or refused"),
    _C.SPAM_BLOCK: Category(
        "blocklist", True, "our IP or domain is on a blocklist or has a poor reputation"
    ),
    _C.SPAM_CONTENT: Category("content", True, "the receiver took the message for spam"),
    _C.VIRUS_RELATED: Category("content", True, "the receiver found malware in the message"),
    _C.AUTHENTICATION_FAILED: Category(
        "authentication", True, "SPF, DKIM, DMARC or reverse DNS requirements were not met"
    ),
    _C.POLICY_RELATED: Category("policy", True, "the receiver's policy refused us or the message"),
    _C.INVALID_SENDER: Category("sender", True, "the envelope sender was refused"),
    _C.RELAY_DENIED: Category("routing", False, "the server is not the recipient's MX"),
    _C.ROUTING_ERRORS: Category("routing", False, "no route to the destination"),
    _C.DNS_FAILURE: Category("dns", False, "the DNS lookup failed"),
    _C.NO_ANSWER_FROM_HOST: Category(
        "connection", False, "the connection was refused or timed out"
    ),
    _C.BAD_CONNECTION: Category("connection", False, "the connection broke"),
    _C.BAD_CONFIGURATION: Category("configuration", False, "TLS or AUTH could not be agreed"),
    _C.PROTOCOL_ERRORS: Category("protocol", False, "SMTP syntax or sequence errors"),
    _C.MESSAGE_EXPIRED: Category("expired", False, "the delivery time expired"),
    _C.TRANSIENT_FAILURE: Category("transient", False, "greylisting or a busy server"),
    _C.UNCATEGORIZED: Category("uncategorized", False, "no rule matched the reply"),
}
# A transient failure that is the receiver slowing our mail down (reason espblock).
THROTTLED = Category("throttling", True, "the receiving provider is rate-limiting our mail")


def categorize(verdict: Classification) -> Category:
    if verdict.bounce_class is _C.TRANSIENT_FAILURE and verdict.reason == Reason.ESPBLOCK:
        return THROTTLED
    return CATEGORIES[verdict.bounce_class or _C.UNCATEGORIZED]


# -- the query -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    """One ``filter.AND`` condition; its values are alternatives, ``!=`` and ``not contains``
    negate them."""

    attribute: str
    comparator: str
    values: tuple[str, ...]  # case-folded

    def matches(self, found: Sequence[str | None]) -> bool:
        """``found``: the event's values of the attribute (several for ``tag``)."""
        texts = [value.casefold() for value in found if value is not None]
        if self.comparator in ("=", "!="):
            hit = any(text in self.values for text in texts)
        else:
            hit = any(value in text for text in texts for value in self.values)
        return hit if self.comparator in ("=", "contains") else not hit


@dataclass(frozen=True, slots=True, kw_only=True)
class BounceQuery:
    period: StatsQuery
    duration: str | None
    dimensions: tuple[str, ...]
    metrics: tuple[str, ...]
    conditions: tuple[Condition, ...] = ()
    sort: str = ""  # as sent, echoed back
    sort_key: str | None = None  # a dimension or metric; None: dimension order
    descending: bool = False
    skip: int = 0
    limit: int = DEFAULT_LIMIT

    @property
    def is_classified(self) -> bool:
        """Grouped by a classification dimension: delivered events have no item."""
        return any(d in CLASSIFICATION_DIMENSIONS for d in self.dimensions)

    @property
    def needs_delivered(self) -> bool:
        return any(m in RATES or m == "delivered_smtp_count" for m in self.metrics)

    @property
    def needs_payload(self) -> bool:
        """Whether a delivered event's JSON is needed (for facts its columns lack)."""
        wanted = {*self.dimensions, *(c.attribute for c in self.conditions)}
        return bool(wanted & {"entity-name", "envelope.sending-ip"})

    def domain_scope(self) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
        """The domains to read (None: all) and those to leave out, from the domain filters."""
        only: set[str] | None = None
        excluded: set[str] = set()
        for c in self.conditions:
            if c.attribute == "domain.name" and c.comparator == "=":
                only = set(c.values) if only is None else only & set(c.values)
            elif c.attribute == "domain.name" and c.comparator == "!=":
                excluded |= set(c.values)
        return (None if only is None else tuple(sorted(only))), tuple(sorted(excluded))


def _refuse_dimension(name: str, where: str) -> InvalidInput:
    supported = ", ".join(DIMENSIONS if where == "dimensions" else FILTERS)
    if name in REFUSED_DIMENSIONS:
        return InvalidInput(
            f"'{where}': '{name}' is not supported by mailwright ({REFUSED_DIMENSIONS[name]}); "
            f"supported: {supported}",
            field=where,
        )
    return InvalidInput(
        f"'{where}': unknown attribute '{name}'; supported: {supported}", field=where
    )


def _dimensions(body: Mapping[str, Any]) -> tuple[str, ...]:
    names = name_list(body, "dimensions")
    for name in names:
        if name not in DIMENSIONS:
            raise _refuse_dimension(name, "dimensions")
    return tuple(names)


def _metrics(body: Mapping[str, Any]) -> tuple[str, ...]:
    names = name_list(body, "metrics")
    for name in names:
        if name not in METRICS:
            raise InvalidInput(
                f"'metrics': unknown metric '{name}'; supported: {', '.join(METRICS)}",
                field="metrics",
            )
    return tuple(names) or METRICS


def _condition(raw: Any) -> Condition:
    if not isinstance(raw, dict):
        raise InvalidInput("'filter.AND' must be a list of conditions", field="filter")
    attribute, comparator = raw.get("attribute"), raw.get("comparator")
    if not isinstance(attribute, str) or attribute.strip().lower() not in FILTERS:
        raise _refuse_dimension(str(attribute), "filter")
    if comparator not in COMPARATORS:
        raise InvalidInput(
            f"'filter': comparator {comparator!r} is not supported; "
            f"supported: {', '.join(COMPARATORS)}",
            field="filter",
        )
    values = raw.get("values")
    if not isinstance(values, list) or not 1 <= len(values) <= MAX_VALUES:
        raise InvalidInput(
            f"'filter': 'values' must be a list of 1 to {MAX_VALUES} values", field="filter"
        )
    found: list[str] = []
    for value in values:
        text = value.get("value") if isinstance(value, dict) else value
        if not isinstance(text, str):
            raise InvalidInput(
                '\'filter\': each value must be {"label": ..., "value": "..."}', field="filter"
            )
        found.append(text.strip().casefold())
    return Condition(attribute.strip().lower(), comparator, tuple(dict.fromkeys(found)))


def _conditions(body: Mapping[str, Any]) -> tuple[Condition, ...]:
    raw = body.get("filter")
    if raw is None:
        return ()
    conditions = raw.get("AND") if isinstance(raw, dict) else None
    if not isinstance(conditions, list):
        raise InvalidInput("'filter' must be {\"AND\": [conditions]}", field="filter")
    return tuple(_condition(c) for c in conditions)


def parse_bounce_query(body: Mapping[str, Any], now: float) -> BounceQuery:
    """The JSON body: ``start``, ``end`` (RFC 2822), ``resolution`` (hour, day),
    ``duration`` (``24h0m0s``, ``90m``, ``7d``: back from ``end``, overriding ``start``),
    ``dimensions``, ``metrics`` (all when absent), ``filter``, ``include_subaccounts``,
    ``pagination``; every mistake is a 400 naming it."""
    params = {
        name: text
        for name in ("start", "end", "resolution", "duration")
        if (text := text_field(body, name)) is not None
    }
    period = parse_period(params, now, resolutions=RESOLUTIONS, back=subtract_clock_duration)
    dimensions, metrics = _dimensions(body), _metrics(body)
    conditions = _conditions(body)
    flag(body, "include_subaccounts", False)  # there are no subaccounts
    page = parse_pagination(
        body,
        (*dimensions, *metrics),
        default_limit=DEFAULT_LIMIT,
        max_limit=MAX_LIMIT,
        max_skip=MAX_SKIP,
    )
    return BounceQuery(
        period=period,
        duration=params.get("duration") or None,
        dimensions=dimensions,
        metrics=metrics,
        conditions=conditions,
        sort=page.sort,
        sort_key=page.sort_key,
        descending=page.descending,
        skip=page.skip,
        limit=page.limit,
    )


# -- one event's facts -----------------------------------------------------------------------


@functools.cache
def _suffix_list() -> PublicSuffixList:
    return PublicSuffixList()


@functools.lru_cache(maxsize=4096)
def entity_of(mx_host: str) -> str | None:
    """The mailbox provider of an MX host (``google``), else its registrable domain (an IP
    literal is its own); None when no host answered."""
    host = mx_host.strip().rstrip(".").lower()
    if not host:
        return None
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        site = _suffix_list().privatesuffix(host) or host
        return provider_of([host], site)
    return host.strip("[]")


@functools.lru_cache(maxsize=4096)
def _classify(code: int | None, enhanced: str | None, text: str) -> Classification:
    return classify_reply(code, enhanced, text)


@dataclass(slots=True)
class Facts:
    """An event's value of each dimension (``tag`` holds all its tags)."""

    values: dict[str, Any]
    tags: tuple[str, ...]
    failure: str | None = None  # which of ``FAILURES`` it is; None when delivered
    sample: str = ""

    def rows(self, expand_tags: bool) -> Iterable[dict[str, Any]]:
        """One row per tag when grouped by tag (a row with tag None when untagged)."""
        if not expand_tags:
            yield self.values | {"tag": self.tags}
            return
        for tag in self.tags or (None,):
            yield self.values | {"tag": (tag,) if tag else ()} | {"tag-value": tag}


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _facts(row: sql.OutcomeRow, resolution: str, *, is_failure: bool) -> Facts | None:
    """The facts of one delivered or failed event; None for a failure never attempted."""
    payload = _object(jsontext.loads(row.payload)) if row.payload is not None else {}
    status = _object(payload.get("delivery-status"))
    tags = tuple(t for t in row.tags_key.split("|") if t)
    moment = floor(datetime.fromtimestamp(row.timestamp, UTC), resolution)
    sending_ip = _object(payload.get("envelope")).get("sending-ip")
    values: dict[str, Any] = {
        "timestamp": moment,
        "domain.name": row.domain,
        "entity-name": entity_of(str(status.get("mx-host") or "")),
        "envelope.sending-ip": str(sending_ip) if sending_ip else None,
        "tags": ",".join(tags) or None,
        "recipient-domain": row.recipient.rpartition("@")[2].lower() or None,
        **dict.fromkeys(CLASSIFICATION_DIMENSIONS),
    }
    if not is_failure:
        return Facts(values, tags)
    if payload.get("reason") in NEVER_ATTEMPTED or status.get("attempt-no") == 0:
        return None
    code = status.get("code")
    enhanced = status.get("enhanced-code")
    text = str(status.get("message") or "")
    verdict = _classify(
        code if isinstance(code, int) and not isinstance(code, bool) and code > 0 else None,
        enhanced if isinstance(enhanced, str) and enhanced else None,
        text,
    )
    category = categorize(verdict)
    severity = "permanent" if row.severity == "permanent" else "temporary"
    values |= {
        "group-id": str(verdict.bounce_class or _C.UNCATEGORIZED),
        "criticality": "critical" if category.is_critical else "non-critical",
        "severity": severity,
        "category": category.name,
        "explanation": category.explanation,
    }
    critical = "critical" if category.is_critical else "non_critical"
    failure = f"{critical}_{'bounce' if severity == 'permanent' else 'delay'}_count"
    return Facts(values, tags, failure, text[:SAMPLE])


# -- the answer ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Group:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAILURES, 0))
    sample: tuple[float, str] = (float("-inf"), "")


@dataclass(slots=True)
class _Tally:
    """What the events add up to: failures per item, attempts and deliveries per outcome key
    (the item's values of the outcome dimensions). A failure counts in its item when every
    condition matches, in the attempts when the conditions on outcome dimensions do."""

    query: BounceQuery
    groups: dict[tuple[Any, ...], _Group] = field(default_factory=dict)
    attempts: dict[tuple[Any, ...], int] = field(default_factory=dict)
    delivered: dict[tuple[Any, ...], int] = field(default_factory=dict)
    _on_outcome: tuple[Condition, ...] = field(init=False)
    _on_class: tuple[Condition, ...] = field(init=False)

    def __post_init__(self) -> None:
        conditions = self.query.conditions
        self._on_class = tuple(c for c in conditions if c.attribute in CLASSIFICATION_DIMENSIONS)
        self._on_outcome = tuple(c for c in conditions if c not in self._on_class)

    def add(self, facts: Facts, timestamp: float) -> None:
        dimensions = self.query.dimensions
        for values in facts.rows("tag" in dimensions):
            if not all(c.matches(_found(values, c.attribute)) for c in self._on_outcome):
                continue
            key = tuple(_value(values, d) for d in dimensions)
            outcome = outcome_key(self.query, key)
            self.attempts[outcome] = self.attempts.get(outcome, 0) + 1
            if facts.failure is None:
                self.delivered[outcome] = self.delivered.get(outcome, 0) + 1
                continue
            if not all(c.matches(_found(values, c.attribute)) for c in self._on_class):
                continue
            group = self.groups.setdefault(key, _Group())
            group.counts[facts.failure] += 1
            if timestamp >= group.sample[0]:
                group.sample = (timestamp, facts.sample)


def outcome_key(query: BounceQuery, key: tuple[Any, ...]) -> tuple[Any, ...]:
    """An item's values of the outcome dimensions (the ones delivered events have too)."""
    return tuple(v for d, v in zip(query.dimensions, key, strict=True) if d in OUTCOME_DIMENSIONS)


def _found(values: Mapping[str, Any], attribute: str) -> Sequence[str | None]:
    value = values.get(attribute)
    return value if isinstance(value, tuple) else (value,)


def _value(values: Mapping[str, Any], dimension: str) -> Any:
    return values.get("tag-value") if dimension == "tag" else values.get(dimension)


def _metrics_of(query: BounceQuery, tally: _Tally, key: tuple[Any, ...]) -> dict[str, Any]:
    counts = tally.groups[key].counts
    outcome = outcome_key(query, key)
    attempts = tally.attempts.get(outcome, 0)
    found: dict[str, Any] = {}
    for name in query.metrics:
        if name in counts:
            found[name] = counts[name]
        elif name == "classified_failures_count":
            found[name] = sum(counts.values())
        elif name == "delivered_smtp_count":
            found[name] = None if query.is_classified else tally.delivered.get(outcome, 0)
        else:
            found[name] = round(counts[RATES[name]] / attempts, 4) if attempts else None
    return found


def _sort_value(value: Any) -> tuple[bool, Any]:
    return (value is not None, value)


def _item(
    query: BounceQuery, key: tuple[Any, ...], group: _Group, metrics: dict[str, Any]
) -> dict[str, Any]:
    item: dict[str, Any] = dict.fromkeys(ITEM_KEYS)
    for name, value in zip(query.dimensions, key, strict=True):
        item[name] = rfc2822(value) if name == "timestamp" else value
    item["sample-text"] = group.sample[1] or None
    item["metrics"] = metrics
    return item


def bounce_body(query: BounceQuery, tally: _Tally) -> dict[str, Any]:
    """Mailgun's answer: the items with a classified failure, sorted, one page of them."""
    rows = [(key, _metrics_of(query, tally, key)) for key in tally.groups]
    # In dimension order first: the order of equal sort keys (sorting is stable).
    rows.sort(key=lambda row: tuple(map(_sort_value, row[0])))
    name = query.sort_key
    if name in query.dimensions:
        index = query.dimensions.index(name)
        rows.sort(key=lambda row: _sort_value(row[0][index]), reverse=query.descending)
    elif name is not None:
        rows.sort(key=lambda row: _sort_value(row[1][name]), reverse=query.descending)
    page = rows[query.skip : query.skip + query.limit]
    body: dict[str, Any] = {
        "start": rfc2822(query.period.start),
        "end": rfc2822(query.period.end),
        "resolution": query.period.resolution,
        "dimensions": list(query.dimensions),
        "pagination": {
            "sort": query.sort,
            "skip": query.skip,
            "limit": query.limit,
            "total": len(rows),
        },
        "items": [_item(query, key, tally.groups[key], metrics) for key, metrics in page],
    }
    if query.duration:
        body["duration"] = query.duration
    return body


async def bounce_metrics(store: Store, query: BounceQuery, *, test: bool) -> dict[str, Any]:
    """Read the window's failed events (and delivered ones when a metric needs them) page by
    page, classify and count them; ``test`` reads the test-mode events only."""
    period = query.period
    start = period.start.timestamp()
    end = next_bucket(period.end, period.resolution).timestamp()
    domains, not_domains = query.domain_scope()
    tally = _Tally(query)
    kinds = [("failed", True)]
    if query.needs_delivered:
        kinds.append(("delivered", query.needs_payload))
    for event, with_payload in kinds:
        part = sql.OutcomeSlice(
            event=event,
            start=start,
            end=end,
            test=test,
            domains=domains,
            not_domains=not_domains,
            with_payload=with_payload,
        )
        after = 0
        while True:
            async with store.read() as conn:
                rows = await sql.outcome_events(conn, part, after=after, limit=PAGE)
            for row in rows:
                facts = _facts(row, period.resolution, is_failure=event == "failed")
                if facts is not None:
                    tally.add(facts, row.timestamp)
            if len(rows) < PAGE:
                break
            after = rows[-1].seq
    return bounce_body(query, tally)
