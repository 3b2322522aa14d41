"""Webhook outbox rows: which webhook kind an event triggers, and one outbox row per URL.

Rows are written in the event's own transaction (``record`` and the accept path), so an event
that was committed always has its webhook deliveries queued; the webhook worker sends them.
An event triggers its domain's webhooks and the account webhooks (``with_account``); as
Mailgun does, a URL on both levels for one event type is POSTed once. ``WebhookCache`` keeps
each domain's webhooks (the account's included) a few seconds so accepting a message costs no
query; the API forgets a domain when its webhooks change, and every domain when the account's
do.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any, TypeAlias
from urllib.parse import urlsplit

from mailwright import jsontext
from mailwright.store import Store, queries


class WebhookKind(StrEnum):
    """Mailgun's webhook names (the ``id`` of ``/v3/domains/{domain}/webhooks/{id}``)."""

    ACCEPTED = "accepted"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    UNSUBSCRIBED = "unsubscribed"
    COMPLAINED = "complained"
    PERMANENT_FAIL = "permanent_fail"  # a failed event with severity permanent
    TEMPORARY_FAIL = "temporary_fail"  # a failed event with severity temporary


# kind -> its URLs in order; an absent kind has no webhook.
Webhooks: TypeAlias = Mapping[str, Sequence[str]]

_BY_EVENT = {k.value: k for k in WebhookKind if not k.value.endswith("_fail")}


def kind_of(event: str, severity: str | None) -> WebhookKind | None:
    """The webhook an event triggers: failed + permanent -> permanent_fail, failed + temporary
    -> temporary_fail, the others by name; None for events without a webhook (stored, ...)."""
    if event == "failed":
        if severity == "permanent":
            return WebhookKind.PERMANENT_FAIL
        if severity == "temporary":
            return WebhookKind.TEMPORARY_FAIL
        return None
    return _BY_EVENT.get(event)


def endpoint_of(url: str) -> str:
    """``scheme://host:port``: deliveries to one endpoint share its concurrency limit."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def with_account(
    domains: Sequence[str], found: queries.EventWebhooks
) -> dict[str, dict[str, list[str]]]:
    """Each of ``domains``' webhooks with the account webhooks added: per kind, the domain's
    URLs, then the account's that are not among them (Mailgun: "webhook URLs are deduplicated
    by event type, across account and domain levels"). A domain with none is left out."""
    merged: dict[str, dict[str, list[str]]] = {}
    for domain in dict.fromkeys(domains):
        hooks = {kind: list(urls) for kind, urls in found.domains.get(domain, {}).items()}
        for kind, urls in found.account.items():
            have = hooks.setdefault(kind, [])
            have.extend(url for url in urls if url not in have)
        if hooks:
            merged[domain] = hooks
    return merged


def outbox_rows(
    events: Sequence[Mapping[str, Any]], webhooks: Mapping[str, Webhooks], now: float
) -> list[dict[str, Any]]:
    """One queued outbox row per (event row, URL of the webhook it triggers)."""
    rows: list[dict[str, Any]] = []
    for event in events:
        hooks = webhooks.get(event["domain"])
        if not hooks:
            continue
        kind = kind_of(event["event"], event["severity"])
        for url in hooks.get(kind, ()) if kind is not None else ():
            rows.append(
                {
                    "event_id": event["id"],
                    "domain": event["domain"],
                    "kind": str(kind),
                    "url": url,
                    "endpoint": endpoint_of(url),
                    "payload": event["payload"],
                    "status": "queued",
                    "due_at": now,
                    "attempts": 0,
                    "claimed_by": None,
                    "claimed_until": None,
                    "created_at": now,
                    "updated_at": now,
                    "last_status": None,
                    "last_error": None,
                }
            )
    return rows


class WebhookCache:
    """Each domain's webhooks (the account webhooks included), remembered ``seconds`` so the
    accept path runs no query. ``forget()`` with no domain forgets every domain: call it when
    the account webhooks change."""

    def __init__(self, store: Store, clock: Callable[[], float], *, seconds: float = 5.0) -> None:
        self._store = store
        self._clock = clock
        self._seconds = seconds
        self._known: dict[str, tuple[float, Webhooks]] = {}
        self._loading: dict[str, asyncio.Future[Webhooks]] = {}

    async def get(self, domain: str) -> Webhooks:
        key = domain.lower()
        hit = self._known.get(key)
        now = self._clock()
        if hit is not None and hit[0] > now:
            return hit[1]
        loading = self._loading.get(key)
        if loading is not None:  # one query per domain however many callers miss at once
            return await asyncio.shield(loading)
        loading = asyncio.get_running_loop().create_future()
        self._loading[key] = loading
        try:
            async with self._store.read() as conn:
                every = await queries.event_webhooks(conn, [key])
            found: Webhooks = with_account([key], every).get(key, {})
        except BaseException as exc:
            loading.set_exception(exc)
            loading.exception()  # retrieved: callers that were not waiting don't warn
            raise
        else:
            loading.set_result(found)
        finally:
            del self._loading[key]
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[key] = (now + self._seconds, found)
        return found

    def forget(self, domain: str | None = None) -> None:
        if domain is None:
            self._known.clear()
        else:
            self._known.pop(domain.lower(), None)


# Outbox kinds that POST a multipart form (a route's forward or store notification) instead
# of a signed JSON event; the payload is ``form_payload``'s JSON and the worker adds the
# ``timestamp``/``token``/``signature`` fields when it sends.
FORM_KINDS = frozenset({"route-forward", "route-notify"})


def form_payload(
    fields: Sequence[tuple[str, str]], files: Sequence[tuple[str, str, str, bytes]]
) -> str:
    """``{"fields": [[name, value]...], "files": [[name, filename, content_type, base64]...]}``."""
    return jsontext.dumps(
        {
            "fields": [[k, v] for k, v in fields],
            "files": [
                [name, filename, ctype, base64.b64encode(data).decode("ascii")]
                for name, filename, ctype, data in files
            ],
        }
    )


def form_row(
    *, domain: str, kind: str, url: str, event_id: str, payload: str, now: float
) -> dict[str, Any]:
    """One queued outbox row that POSTs a form (``FORM_KINDS``) to ``url``."""
    assert kind in FORM_KINDS
    return {
        "event_id": event_id,
        "domain": domain,
        "kind": kind,
        "url": url,
        "endpoint": endpoint_of(url),
        "payload": payload,
        "status": "queued",
        "due_at": now,
        "attempts": 0,
        "claimed_by": None,
        "claimed_until": None,
        "created_at": now,
        "updated_at": now,
        "last_status": None,
        "last_error": None,
    }
