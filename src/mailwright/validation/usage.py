"""Mailgun's usage metrics (``POST /v1/analytics/usage/metrics``, the Node SDK's
``mg.metrics.getAccountUsage``): the Metrics API's query and answer (``events.analytics``) over
the address validations mailwright keeps a record of.

A bulk job's ``records_processed`` counts, in the hour it completed (or failed), as
``email_validation_bulk_count``, and a mailing-list validation's (jobs of kind ``list``) as
``email_validation_list_count``. A deleted job takes its count with it; previews validate a
sample for free and are not counted.

Each answered single validation (a 200 from ``/v4/address/validate``; a 400 is not counted)
adds one to the hourly account-wide stat counter ``validation.single``, and one made with the
public key to ``validation.public`` as well (``stat_counters`` rows of domain "" and tag "",
which the sending metrics leave out): ``email_validation_single_count`` and
``email_validation_public_count``. ``email_validation_count`` is every address validated:
single, bulk and list together. The count is written before the answer is sent, as an
``InsertRows`` upsert through the store's group-commit writer: it merges with its neighbours'
counters (a burst of validations is one row update, locked in key order like every counter),
costs little next to the DNS work a validation does, and is never lost to a crash, as counts
batched in memory (the way ``last_used_at`` is) could be. Rows, not this process's memory,
hold the count, so several API processes add to the same counters.

The usage of services mailwright does not have (email previews, link, image and
accessibility checks, seed tests, archiving, ...) is a 400 naming the metric and why, as is
whether a validation was valid or which product made it (not recorded). Blocklist checks do
run, but only each target's latest answer is kept, so they cannot be counted over time either.

Validations are not kept per environment: test credentials see the same figures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mailwright.events.analytics import Catalog, MetricsQuery, metrics_body, parse_metrics_query
from mailwright.events.counters import counter_rows
from mailwright.store import InsertRows, Store, queries
from mailwright.store import analytics as sql
from mailwright.store.upsert import COUNTERS

# The job kinds counted, and the counter each one's validations add to.
KINDS = {"bulk": "validation.bulk", "list": "validation.list"}
# The counters of single validations: every one, and those made with the public key.
SINGLE = "validation.single"
PUBLIC = "validation.public"


def _counter(stat: str) -> Callable[[Mapping[str, int]], int]:
    return lambda counts: counts.get(stat, 0)


def _every_validation(counts: Mapping[str, int]) -> int:
    return sum(counts.get(stat, 0) for stat in (SINGLE, *KINDS.values()))


_NO_SERVICE = "mailwright has no {} service"
USAGE = Catalog(
    counts={
        "email_validation_bulk_count": _counter(KINDS["bulk"]),
        "email_validation_list_count": _counter(KINDS["list"]),
        "email_validation_single_count": _counter(SINGLE),
        "email_validation_public_count": _counter(PUBLIC),
        "email_validation_count": _every_validation,
    },
    refused_metrics={
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


async def count_single(store: Store, now: float, *, public: bool) -> None:
    """Count one answered single validation in the hour of ``now`` (once committed)."""
    stats = (SINGLE, PUBLIC) if public else (SINGLE,)
    await store.write(InsertRows([], [(COUNTERS, counter_rows("", (), stats, now))]))


async def usage_metrics(store: Store, query: MetricsQuery) -> dict[str, Any]:
    """Mailgun's metrics answer (items, aggregates, pagination) over the finished jobs and
    the single validation counters."""
    start, end = query.span()
    step = 3600 if query.period.resolution == "hour" else 86400
    async with store.read() as conn:
        jobs = await sql.finished_validation_jobs(conn, kinds=tuple(KINDS), start=start, end=end)
        singles = await queries.sum_counters(
            conn, domain=None, tag="", stats=(SINGLE, PUBLIC), start=start, end=end, step=step
        )
    rows = [(int(at), "", "", KINDS[kind], count) for at, kind, count in jobs]
    rows += [(bucket, "", "", stat, count) for bucket, stat, count in singles]
    return metrics_body(query, rows)
