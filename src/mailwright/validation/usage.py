"""Mailgun's usage metrics (``POST /v1/analytics/usage/metrics``, the Node SDK's
``mg.metrics.getAccountUsage``): the Metrics API's query and answer (``events.analytics``) over
the address validations mailwright keeps a record of.

Only bulk jobs leave one: a job's ``records_processed`` counts, in the hour it completed (or
failed), as ``email_validation_bulk_count``, and a mailing-list validation's (jobs of kind
``list``) as ``email_validation_list_count``. A deleted job takes its count with it; previews
validate a sample for free and are not counted. Single validations (``/v4/address/validate``)
are answered and forgotten, so ``email_validation_single_count`` and the total
``email_validation_count`` have nothing to count from; they, and the usage of services
mailwright does not have (email previews, link, image and accessibility checks, seed tests,
archiving, ...), are a 400 naming the metric and why. Blocklist checks do run, but only each
target's latest answer is kept, so they cannot be counted over time either.

Validation jobs are not kept per environment: test credentials see the same figures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mailwright.events.analytics import Catalog, MetricsQuery, metrics_body, parse_metrics_query
from mailwright.store import Store
from mailwright.store import analytics as sql

# The job kinds counted, and the counter each one's validations add to.
KINDS = {"bulk": "validation.bulk", "list": "validation.list"}


def _counter(stat: str) -> Callable[[Mapping[str, int]], int]:
    return lambda counts: counts.get(stat, 0)


_SINGLE = "single validations are not recorded, so there is no total either"
_NO_SERVICE = "mailwright has no {} service"
USAGE = Catalog(
    counts={
        "email_validation_bulk_count": _counter(KINDS["bulk"]),
        "email_validation_list_count": _counter(KINDS["list"]),
    },
    refused_metrics={
        "email_validation_count": _SINGLE,
        "email_validation_single_count": _SINGLE,
        "email_validation_public_count": "single validations, public key ones among them, "
        "are not recorded",
        "email_validation_valid_count": "validations are not recorded one by one",
        "email_validation_mailgun_count": "validations are not recorded by product",
        "email_validation_mailjet_count": "validations are not recorded by product",
        "email_preview_count": _NO_SERVICE.format("email preview"),
        "email_preview_failed_count": _NO_SERVICE.format("email preview"),
        "link_validation_count": _NO_SERVICE.format("link validation"),
        "link_validation_failed_count": _NO_SERVICE.format("link validation"),
        "image_validation_count": _NO_SERVICE.format("image validation"),
        "image_validation_failed_count": _NO_SERVICE.format("image validation"),
        "accessibility_count": _NO_SERVICE.format("accessibility check"),
        "accessibility_failed_count": _NO_SERVICE.format("accessibility check"),
        "spam_content_check_count": _NO_SERVICE.format("spam content check"),
        "spam_content_check_failed_count": _NO_SERVICE.format("spam content check"),
        "seed_test_count": _NO_SERVICE.format("seed test"),
        "archived_count": _NO_SERVICE.format("message archiving"),
        "ip_blocklist_monitoring_count": "only each blocklist check's latest answer is kept",
        "domain_blocklist_monitoring_count": "only each blocklist check's latest answer is kept",
        "processed_count": "no counter backs it",
    },
    dimensions=("time",),
    refused_dimensions={"subaccount": "there are no subaccounts"},
)


def parse_usage_query(body: Mapping[str, Any], now: float) -> MetricsQuery:
    """The JSON body, as the Metrics API reads its own; every mistake is a 400 naming it."""
    return parse_metrics_query(body, now, USAGE)


async def usage_metrics(store: Store, query: MetricsQuery) -> dict[str, Any]:
    """Mailgun's metrics answer (items, aggregates, pagination) over the finished jobs."""
    start, end = query.span()
    async with store.read() as conn:
        jobs = await sql.finished_validation_jobs(conn, kinds=tuple(KINDS), start=start, end=end)
    rows = [(int(at), "", "", KINDS[kind], count) for at, kind, count in jobs]
    return metrics_body(query, rows)
