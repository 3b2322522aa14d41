"""Accept a send: store the message once, one delivery per recipient and the accepted events,
all in one transaction, then answer ``Queued. Thank you.``.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formataddr
from typing import Any

from sqlalchemy import Table

from mailwright import jsontext
from mailwright.errors import InvalidInput
from mailwright.events import (
    EventType,
    MessageFacts,
    WebhookCache,
    accepted_upserts,
    event_row,
    outbox_rows,
    to_is_apart,
)
from mailwright.messages.expand import Expansion, delivery_row, open_hours
from mailwright.messages.form import SendRequest, message_id_at
from mailwright.messages.handlebars import TemplateError, render
from mailwright.messages.monthly_limit import MonthlyLimit, WriteOp
from mailwright.messages.render import substitute, template_variables
from mailwright.messages.schedule import due_at, is_scheduled_per_recipient
from mailwright.messages.templates import pin_version
from mailwright.store import InsertRows, MessageKey, Store, schema

QUEUED = "Queued. Thank you."


@dataclass(frozen=True, slots=True)
class Accepted:
    id: str  # "<message-id>", as Mailgun answers
    message: str
    key: MessageKey


def storage_url(public_url: str, domain: str, key: str) -> str:
    return f"{public_url}/v3/domains/{domain}/messages/{key}"


def _facts(
    req: SendRequest, *, domain: str, key: str, message_id: str, url: str, method: str
) -> MessageFacts:
    to_header = _to_header(req)
    return MessageFacts(
        domain=domain,
        message_id=message_id,
        storage_key=key,
        storage_url=url,
        sender=req.sender,
        from_header=req.from_header,
        to_header=to_header,
        subject=req.subject,
        size=req.size,
        method=method,
        is_test_mode=req.is_test_mode,
        is_batch=req.is_batch,
        tags=list(req.tags),
        user_variables=dict(req.user_variables),
        attachments=list(req.attachments),
        recipient_user_variables=_personal_variables(req),
        to_apart=to_is_apart(to_header, is_batch=req.is_batch),
    )


def _personal_variables(req: SendRequest) -> dict[str, dict[str, Any]]:
    """Each batch recipient's own values of the ``v:`` variables that hold placeholders."""
    batch = req.spec.get("recipient-variables")
    templated = {
        key: value
        for key, value in req.user_variables.items()
        if isinstance(value, str) and "%recipient" in value
    }
    if batch is None or not templated:
        return {}
    return {
        rcpt.lower(): {
            key: substitute(value, batch.get(rcpt.lower()) or {}, rcpt)
            for key, value in templated.items()
        }
        for rcpt in req.recipients
    }


def _to_header(req: SendRequest) -> str:
    pairs = req.spec.get("to")
    if isinstance(pairs, list) and pairs:
        return ", ".join(formataddr((str(name), str(addr))) for name, addr in pairs)
    return ", ".join(req.recipients)


async def accept(
    store: Store,
    req: SendRequest,
    *,
    domain: str,
    public_url: str,
    retention: float,
    now: float,
    method: str = "http",
    webhooks: WebhookCache | None = None,
    lists: Mapping[str, str] | None = None,
    environment: str = "live",
    monthly_limit: MonthlyLimit | None = None,
) -> Accepted:
    """Store ``req`` durably; returns once the transaction is committed.

    A ``test`` environment (the sender's key or OAuth client) forces test mode: the message
    is stored and logged with ``is-test-mode``, captured into the inbox and never delivered.

    With ``webhooks``, the ``accepted`` events of a domain that has an accepted webhook get
    their outbox rows in the same transaction (the cache keeps this path free of queries).
    Recipients named in ``lists`` (address -> reply preference) are mailing lists, expanded
    to their subscribed members (``expand.py``). With ``monthly_limit`` a send over the
    account's custom monthly limit raises ``SendingLimitReached`` and stores nothing."""
    if req.template is not None:
        req = await _with_template(store, req, domain)
    if environment == "test":
        req = in_test_environment(req)
    key = MessageKey(secrets.token_urlsafe(18))
    message_id = message_id_at(domain, now, secrets.token_hex(8))
    url = storage_url(public_url, domain, key)
    facts = _facts(req, domain=domain, key=key, message_id=message_id, url=url, method=method)
    base = req.deliver_at.timestamp() if req.deliver_at is not None else now
    lists = {a.lower(): pref for a, pref in (lists or {}).items()}
    listed = set(lists)
    spec = _list_spec(req.spec, lists) if lists else req.spec
    direct = [rcpt for rcpt in req.recipients if rcpt.lower() not in listed]
    options = req.spec.get("options") or {}
    hours = await open_hours(store, domain, direct, options, now)
    message = {
        "id": key,
        "domain": domain,
        "message_id": message_id,
        "sender": req.sender,
        "subject": req.subject,
        "spec": jsontext.dumps({"spec": spec, "facts": facts.to_json()}),
        "recipients": jsontext.dumps(req.recipients),
        "size": req.size,
        "method": method,
        "is_test_mode": req.is_test_mode,
        "created_at": now,
        # Per-recipient scheduling may add up to 72 hours to ``base``.
        "expires_at": max(now, base) + retention + (3 * 86400 if _scheduled(options) else 0),
    }
    deliveries = [
        _delivery(key, domain, rcpt, i, due_at(rcpt, base, options, hours.get(rcpt.lower())), now)
        for i, rcpt in enumerate(direct)
    ]
    events = [event_row(facts, EventType.ACCEPTED, rcpt, now, method=method) for rcpt in direct]

    blobs = [{"message_key": key, "idx": i, "data": b} for i, b in enumerate(req.blobs)]
    rows: list[tuple[Table, list[dict[str, Any]]]] = [
        (schema.messages, [message]),
        (schema.message_blobs, blobs),
        (schema.deliveries, deliveries),
        (schema.events, events),
    ]
    if facts.to_apart:
        to_row = {"message_id": message_id, "to": facts.to_header, "created_at": now}
        rows.append((schema.event_to_headers, [to_row]))
    hooks = await webhooks.get(domain) if webhooks is not None else {}
    if hooks.get("accepted"):
        rows.append((schema.webhook_outbox, outbox_rows(events, {domain: hooks}, now)))
    write: WriteOp
    expansion: Expansion | None = None
    if not listed:
        counts = accepted_upserts(
            domain, req.tags, now, len(req.recipients), is_test=req.is_test_mode
        )
        write = InsertRows(rows, counts)
    else:
        expansion = Expansion(
            facts=facts, key=key, base=base, options=options, now=now, method=method, hooks=hooks
        )
        write = expansion.write(InsertRows(rows), sorted(listed), req.tags)

    def counted() -> int:  # a list's members are known once expanded, in the transaction
        return len(req.recipients) if expansion is None else expansion.count

    if monthly_limit is not None:
        write = await monthly_limit.guard(write, domain=domain, count=counted, now=now)
    await store.write(write)
    return Accepted(id=f"<{message_id}>", message=QUEUED, key=key)


async def _with_template(store: Store, req: SendRequest, domain: str) -> SendRequest:
    """Pin the template version into the spec (queued mail keeps it whatever happens to the
    template later) and render it once, so a template that cannot render is a 400 now."""
    template = req.spec["template"]
    pinned = await pin_version(store, domain, template["name"], template["version"])
    spec = {**req.spec, "template": {**template, **pinned}}
    try:
        render(pinned["content"], template_variables(spec, None))
    except TemplateError as exc:
        raise InvalidInput(
            f"template '{template['name']}' cannot be rendered: {exc}", field="template"
        ) from None
    subject = req.subject or str(pinned["headers"].get("Subject", ""))
    if subject != req.subject:
        spec["subject"] = subject
    return dataclasses.replace(req, spec=spec, subject=subject)


def in_test_environment(req: SendRequest) -> SendRequest:
    """A test credential's send: test mode, and captured (``environment`` in the spec tells the
    delivery worker to put it into the inbox instead of only logging it)."""
    return dataclasses.replace(req, is_test_mode=True, spec={**req.spec, "environment": "test"})


def _list_spec(spec: dict[str, Any], lists: Mapping[str, str]) -> dict[str, Any]:
    """A list send renders each member's own copy (``lists`` tells render and the worker);
    a list whose reply preference is ``list`` adds ``Reply-To: <list>`` unless the sender
    gave one (``h:Reply-To``)."""
    headers = list(spec["headers"])
    replies = [address for address, pref in sorted(lists.items()) if pref == "list"]
    if replies and not any(name.lower() == "reply-to" for name, _ in headers):
        headers.append(["Reply-To", replies[0]])
    return spec | {"lists": sorted(lists), "headers": headers}


def _scheduled(options: dict[str, Any]) -> bool:
    return is_scheduled_per_recipient(options)


_delivery = delivery_row
