"""The Prometheus metrics of one app: HTTP requests as they happen, and the queues, attempts
and connection pool read at scrape time.

Each app has a registry of its own (never prometheus_client's global one), so several apps in
one process (tests) count apart. Counts are per process, as Prometheus counters are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from mailwright.delivery import DestinationHealth
from mailwright.store import Backlog
from mailwright.uptime import EndpointRate, RoleUptime

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds; the accept path answers in milliseconds, a large batch or a slow query in seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LABELS = ("method", "route", "status")
EMPTY = Backlog(queued=0, deferred=0, oldest_at=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scrape:
    """What the database and the workers said at scrape time."""

    now: float
    is_database_up: bool
    pool_size: int
    pool_checked_out: int
    attempts: Mapping[tuple[str, str], int]  # (outcome, reply class) -> attempts
    destinations: Sequence[DestinationHealth] = ()
    deliveries: Backlog = EMPTY
    webhooks: Backlog = EMPTY
    inbound: Backlog = EMPTY
    listings: Sequence[tuple[str, str, str]] = ()  # (kind, target, zone) listed by a DNSBL
    uptime: Sequence[RoleUptime] = ()  # the last 24 h per node and role
    endpoints: Sequence[EndpointRate] = ()  # the last 24 h per endpoint


class Metrics:
    def __init__(self) -> None:
        # No ``*_created`` series beside each counter and histogram: they double the series
        # and say only when this process started (a library-wide switch).
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "mailwright_http_requests",
            "HTTP requests answered, by method, route template and status",
            LABELS,
            registry=self.registry,
        )
        self._latency = Histogram(
            "mailwright_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status",
            LABELS,
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            labels = (method, route, str(status))
            children = (self._requests.labels(*labels), self._latency.labels(*labels))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self, scrape: Scrape) -> bytes:
        return generate_latest(self.registry) + generate_latest(_Families(families(scrape)))


@dataclass(frozen=True, slots=True)
class _Families:
    found: list[Metric] = field(default_factory=list)

    def collect(self) -> Iterable[Metric]:
        return self.found


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _age(now: float, since: float | None) -> float:
    return 0.0 if since is None else max(0.0, now - since)


def families(scrape: Scrape) -> list[Metric]:
    now = scrape.now
    found: list[Metric] = [
        _gauge("mailwright_database_up", "1 when the database answered", scrape.is_database_up),
        _gauge("mailwright_db_pool_size", "Connections the pool keeps", scrape.pool_size),
        _gauge("mailwright_db_pool_checked_out", "Connections in use now", scrape.pool_checked_out),
        *_backlog("deliveries", "deliveries", scrape.deliveries, now, "created"),
        *_backlog("webhooks", "webhook posts", scrape.webhooks, now, "due"),
        *_backlog("inbound", "received messages", scrape.inbound, now, "received"),
        *_destinations(scrape.destinations),
        _listings(scrape.listings),
        *_uptime(scrape.uptime),
        *_endpoints(scrape.endpoints),
    ]
    attempts = CounterMetricFamily(
        "mailwright_delivery_attempts",
        "Delivery attempts settled by this process, by outcome and SMTP reply class",
        labels=("outcome", "reply_class"),
    )
    for (outcome, reply), count in sorted(scrape.attempts.items()):
        attempts.add_metric((outcome, reply), count)
    found.append(attempts)
    return found


def _backlog(name: str, what: str, backlog: Backlog, now: float, since: str) -> list[Metric]:
    return [
        _gauge(f"mailwright_{name}_queued", f"Queued {what}", backlog.queued),
        _gauge(
            f"mailwright_{name}_deferred", f"Queued {what} tried at least once", backlog.deferred
        ),
        _gauge(
            f"mailwright_{name}_oldest_age_seconds",
            f"Seconds since the oldest queued one of the {what} was {since} (0 when none)",
            _age(now, backlog.oldest_at),
        ),
    ]


def _destinations(rows: Sequence[DestinationHealth]) -> list[Metric]:
    """Per recipient domain, for the destinations with the most queued deliveries."""
    labels = ("destination",)
    queued = GaugeMetricFamily(
        "mailwright_destination_queued", "Queued deliveries per destination", labels=labels
    )
    due = GaugeMetricFamily(
        "mailwright_destination_due", "Deliveries due now per destination", labels=labels
    )
    deferred = GaugeMetricFamily(
        "mailwright_destination_deferred",
        "Queued deliveries tried at least once per destination",
        labels=labels,
    )
    oldest = GaugeMetricFamily(
        "mailwright_destination_oldest_age_seconds",
        "Age of the oldest queued delivery per destination",
        labels=labels,
    )
    for row in rows:
        queued.add_metric((row.destination,), row.queued)
        due.add_metric((row.destination,), row.due)
        deferred.add_metric((row.destination,), row.deferred)
        oldest.add_metric((row.destination,), row.oldest_age)
    return [queued, due, deferred, oldest]


def _listings(listings: Sequence[tuple[str, str, str]]) -> Metric:
    """One series per (target, zone) the last blocklist check found listed; none when clean."""
    listed = GaugeMetricFamily(
        "mailwright_blocklist_listed",
        "1 for each egress address or sending domain a DNS blocklist lists (latest check)",
        labels=("kind", "target", "zone"),
    )
    for kind, target, zone in listings:
        listed.add_metric((kind, target, zone), 1)
    return listed


def _uptime(rows: Sequence[RoleUptime]) -> list[Metric]:
    """Per node and role: availability over the last day, and the newest check's result."""
    ratio = GaugeMetricFamily(
        "mailwright_uptime_ratio",
        "Share of the window the role's own health checks vouch for on the node (gaps and "
        "failed checks count as down)",
        labels=("node", "role", "window"),
    )
    last = GaugeMetricFamily(
        "mailwright_uptime_last_check_ok",
        "1 when the role's newest health check on the node passed",
        labels=("node", "role"),
    )
    for row in rows:
        for window, share in row.availability.items():
            if share is not None:
                ratio.add_metric((row.node, row.role, window), share)
        if row.last is not None:
            last.add_metric((row.node, row.role), row.last.is_ok)
    return [ratio, last]


def _endpoints(rows: Sequence[EndpointRate]) -> list[Metric]:
    """Per endpoint, every node together, over the last day (whole hours)."""
    labels = ("method", "route", "window")
    success = GaugeMetricFamily(
        "mailwright_endpoint_success_ratio",
        "Share of the endpoint's answers below 500 (4xx are the client's and count as success)",
        labels=labels,
    )
    requests = GaugeMetricFamily(
        "mailwright_endpoint_requests", "Requests the endpoint answered", labels=labels
    )
    errors = GaugeMetricFamily(
        "mailwright_endpoint_errors", "Answers of the endpoint with a 5xx status", labels=labels
    )
    for row in rows:
        key = (row.method, row.route, "24h")
        success.add_metric(key, row.success)
        requests.add_metric(key, row.requests)
        errors.add_metric(key, row.errors)
    return [success, requests, errors]
