"""Domain webhooks as Mailgun's API has them: list, get, create, update, delete; the test event;
and the outbox as our extension shows it (``/mailwright/v1/webhooks/deliveries``)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright import jsontext
from mailwright.errors import Conflict, InvalidInput, NotFound
from mailwright.events import WebhookKind, endpoint_of, new_event_id
from mailwright.resolver import Resolver
from mailwright.store import Store, health, queries
from mailwright.webhooks.keys import current_key
from mailwright.webhooks.policy import decide
from mailwright.webhooks.sender import Poster, PostResult, vet
from mailwright.webhooks.signing import TOKEN_LENGTH, body, sign
from mailwright.webhooks.urls import MAX_URLS, parse_url

KINDS = tuple(k.value for k in WebhookKind)
STATUSES = ("queued", "retrying", "delivered", "dropped", "failed")


def parse_kind(value: str | None, *, field: str = "id") -> WebhookKind:
    if not value:
        raise InvalidInput(f"'{field}' parameter is missing", field=field)
    try:
        return WebhookKind(value)
    except ValueError:
        raise InvalidInput(
            f"'{field}' must be one of {', '.join(KINDS)}, not {value[:50]!r}", field=field
        ) from None


async def parse_urls(
    values: Sequence[str], resolver: Resolver, *, allow_private: bool
) -> list[str]:
    """Validated URLs, duplicates dropped, in the order given: 1 to 3 http(s) URLs whose hosts
    resolve to public addresses (unless ``allow_private``)."""
    urls = list(dict.fromkeys(parse_url(v) for v in values if v.strip()))
    if not urls:
        raise InvalidInput("'url' parameter is missing", field="url")
    if len(urls) > MAX_URLS:
        raise InvalidInput(f"at most {MAX_URLS} 'url' values per webhook", field="url")
    for url in urls:
        destination = await vet(url, resolver, allow_private=allow_private)
        if destination.refused is not None:
            raise InvalidInput(f"'url' is not allowed: {destination.refused}", field="url")
    return urls


async def list_webhooks(store: Store, domain: str) -> dict[str, list[str]]:
    async with store.read() as conn:
        found = (await queries.webhooks_of(conn, [domain])).get(domain, {})
    return {kind: found[kind] for kind in KINDS if kind in found}


async def get_webhook(store: Store, domain: str, kind: WebhookKind) -> list[str]:
    urls = (await list_webhooks(store, domain)).get(kind)
    if not urls:
        raise NotFound("Webhook not found")
    return urls


async def put_webhook(
    store: Store, domain: str, kind: WebhookKind, urls: Sequence[str], *, create: bool, now: float
) -> list[str]:
    """Create (``create``: it must not exist yet) or replace (it must exist) a webhook."""

    async def write(conn: AsyncConnection) -> None:
        exists = bool((await queries.webhooks_of(conn, [domain])).get(domain, {}).get(kind))
        if create and exists:
            raise Conflict("Webhook already exists")
        if not create and not exists:
            raise NotFound("Webhook not found")
        await queries.replace_webhook(conn, domain=domain, kind=kind, urls=urls, now=now)

    await store.write(write)
    return list(urls)


def parse_kinds(values: Sequence[str]) -> list[WebhookKind]:
    """The v4 endpoints' ``event_types`` (repeatable), at least one."""
    kinds = list(dict.fromkeys(parse_kind(v, field="event_types") for v in values if v.strip()))
    if not kinds:
        raise InvalidInput("'event_types' parameter is missing", field="event_types")
    return kinds


async def assign_url(
    store: Store, domain: str, url: str, kinds: Sequence[WebhookKind], *, only: bool, now: float
) -> dict[str, list[str]]:
    """Mailgun's v4 webhooks, one URL for many event types: add ``url`` to each of ``kinds``
    (``POST``); with ``only`` (``PUT``) also take it off every other kind. A kind already
    holding 3 other URLs is a 400. Answers every webhook of the domain."""

    async def write(conn: AsyncConnection) -> None:
        current = (await queries.webhooks_of(conn, [domain])).get(domain, {})
        for kind in KINDS:
            urls = list(current.get(kind, []))
            wanted = [u for u in urls if u != url]
            if kind in kinds:
                if len(wanted) >= MAX_URLS:
                    raise InvalidInput(
                        f"the {kind} webhook has {MAX_URLS} URLs already", field="event_types"
                    )
                wanted.append(url)
            elif not only:
                wanted = urls
            if wanted != urls:
                await queries.replace_webhook(conn, domain=domain, kind=kind, urls=wanted, now=now)

    await store.write(write)
    return await list_webhooks(store, domain)


async def remove_urls(
    store: Store, domain: str, urls: Sequence[str], *, now: float
) -> dict[str, list[str]]:
    """Mailgun's v4 ``DELETE``: take each of ``urls`` off every event type; answers what is
    left. None of them in use is a 404."""

    async def write(conn: AsyncConnection) -> None:
        current = (await queries.webhooks_of(conn, [domain])).get(domain, {})
        if not any(u in current.get(kind, []) for kind in KINDS for u in urls):
            raise NotFound("Webhook not found")
        for kind in KINDS:
            have = current.get(kind, [])
            kept = [u for u in have if u not in urls]
            if kept != have:
                await queries.replace_webhook(conn, domain=domain, kind=kind, urls=kept, now=now)

    await store.write(write)
    return await list_webhooks(store, domain)


async def delete_webhook(store: Store, domain: str, kind: WebhookKind) -> list[str]:
    async def write(conn: AsyncConnection) -> list[str]:
        urls = (await queries.webhooks_of(conn, [domain])).get(domain, {}).get(kind, [])
        if not urls:
            raise NotFound("Webhook not found")
        await queries.replace_webhook(conn, domain=domain, kind=kind, urls=[], now=0.0)
        return urls

    return await store.write(write)


def test_event(domain: str, kind: WebhookKind, now: float) -> dict[str, Any]:
    """A made-up event of the kind's type, flagged ``is-system-test``."""
    rcpt = "alice@example.com"
    event: dict[str, Any] = {
        "id": new_event_id(),
        "event": "failed" if kind.endswith("_fail") else str(kind),
        "timestamp": now,
        "log-level": "info",
        "recipient": rcpt,
        "recipient-domain": "example.com",
        "envelope": {"sender": f"postmaster@{domain}", "targets": rcpt, "transport": "smtp"},
        "message": {
            "headers": {
                "message-id": f"test.{secrets.token_hex(8)}@{domain}",
                "from": f"Test <postmaster@{domain}>",
                "to": rcpt,
                "subject": "Test webhook",
            },
            "attachments": [],
            "size": 0,
        },
        "flags": {
            "is-routed": False,
            "is-authenticated": True,
            "is-system-test": True,
            "is-test-mode": False,
        },
        "tags": [],
        "user-variables": {},
        "campaigns": [],
    }
    return event | _test_extra(kind)


def _test_extra(kind: WebhookKind) -> dict[str, Any]:
    if kind in (WebhookKind.PERMANENT_FAIL, WebhookKind.TEMPORARY_FAIL):
        permanent = kind is WebhookKind.PERMANENT_FAIL
        code, text = (550, "5.1.1 No such user") if permanent else (451, "4.3.0 Try later")
        return {
            "severity": "permanent" if permanent else "temporary",
            "log-level": "error" if permanent else "warn",
            "reason": "bounce" if permanent else "generic",
            "delivery-status": {"code": code, "message": text, "description": text},
        }
    if kind is WebhookKind.DELIVERED:
        return {"delivery-status": {"code": 250, "message": "OK", "description": ""}}
    if kind in (WebhookKind.OPENED, WebhookKind.CLICKED):
        extra: dict[str, Any] = {
            "ip": "192.0.2.1",
            "geolocation": {"country": "US", "region": "Unknown", "city": "Unknown"},
            "client-info": {
                "client-type": "browser",
                "client-os": "Linux",
                "device-type": "desktop",
                "client-name": "Firefox",
                "user-agent": "Mozilla/5.0",
            },
        }
        if kind is WebhookKind.CLICKED:
            extra["url"] = "https://example.com/"
        return extra
    return {}


async def send_test(
    store: Store,
    poster: Poster,
    resolver: Resolver,
    domain: str,
    kind: WebhookKind,
    *,
    allow_private: bool,
    now: float,
    urls: list[str] | None = None,
) -> list[dict[str, Any]]:
    """POST a test event to each URL of the webhook now (or to ``urls``, already parsed); what
    each receiver answered: ``status`` (None without an HTTP answer), ``error`` and the start of
    its reply (``answer``). Each POST is also kept as a finished outbox row, so the deliveries
    list shows it."""
    if urls is None:
        urls = await get_webhook(store, domain, kind)

    async def key_of(conn: AsyncConnection) -> str:
        return await current_key(conn, store.keyring, now=now)

    key = await store.write(key_of)
    event = test_event(domain, kind, now)
    payload = jsontext.dumps(event)
    results, rows = [], []
    for url in urls:
        signature = sign(key, int(now), secrets.token_hex(TOKEN_LENGTH // 2))
        destination = await vet(url, resolver, allow_private=allow_private)
        result = await poster.post(url, body(signature, payload), destination)
        results.append(
            {"url": url, "status": result.status, "error": result.error, "answer": result.answer}
        )
        rows.append(_test_row(event["id"], domain, kind, url, payload, result, now))

    async def write(conn: AsyncConnection) -> None:
        await queries.insert_outbox(conn, rows)

    await store.write(write)
    return results


def _test_row(
    event_id: str,
    domain: str,
    kind: WebhookKind,
    url: str,
    payload: str,
    result: PostResult,
    now: float,
) -> dict[str, Any]:
    """A test POST as a finished outbox row, so the deliveries list shows what the receiver
    answered; a test is never retried, so anything but 2xx or 406 is ``failed``."""
    verdict = decide(result.status, 1, now, now, _NO_RETRY)
    return {
        "event_id": event_id,
        "domain": domain,
        "kind": str(kind),
        "url": url,
        "endpoint": endpoint_of(url),
        "payload": payload,
        "status": verdict.status,
        "due_at": now,
        "attempts": 1,
        "claimed_by": None,
        "claimed_until": None,
        "created_at": now,
        "updated_at": now,
        "last_status": result.status,
        "last_error": result.error,
        "last_answer": result.answer or None,
    }


class _NoRetry:
    def next_attempt_at(
        self, attempts: int, first_try: datetime, now: datetime, rand: float = 0.5
    ) -> datetime | None:
        return None


_NO_RETRY = _NoRetry()


async def list_deliveries(
    store: Store, *, status: str | None, domain: str | None, limit: int
) -> list[dict[str, Any]]:
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"'status' must be one of {', '.join(STATUSES)}", field="status")
    async with store.read() as conn:
        rows = await queries.list_outbox(
            conn,
            status=status,
            domain=domain,
            retrying=status == "retrying",
            limit=limit,
        )
    return [_delivery_json(r) for r in rows]


def _delivery_json(row: dict[str, Any]) -> dict[str, Any]:
    queued = row["status"] == "queued"
    return {
        "id": row["id"],
        "event_id": row["event_id"],
        "domain": row["domain"],
        "webhook": row["kind"],
        "url": row["url"],
        "status": "retrying" if queued and row["last_error"] else row["status"],
        "attempts": row["attempts"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "next_attempt_at": row["due_at"] if queued else None,
        "last_status": row["last_status"],
        "last_error": row["last_error"],
        "last_answer": row["last_answer"],
    }


async def outbox_backlog(store: Store) -> health.Backlog:
    """Webhook posts waiting in the outbox; ``oldest_at`` is the earliest due time."""
    async with store.read() as conn:
        return await health.webhook_backlog(conn)
