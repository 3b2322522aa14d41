"""The message log (events of every domain, or one, with the Events API's filters) and one
stored message: its content, each recipient's delivery, every attempt and its events."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import services
from mailwright.delivery import attempts_of, deliveries_of
from mailwright.errors import InvalidInput, NotFound
from mailwright.events import (
    EventQuery,
    EventType,
    fetch,
    fetch_across,
    is_scanning,
    page_tokens,
    parse_query,
)
from mailwright.messages import StoredMessage, attachment, describe, load
from mailwright.web.forms import domain_names, error_page, link, param
from mailwright.web.preview import download, html_preview
from mailwright.web.session import page
from mailwright.web.templating import render

PAGE_SIZE = 50
# A search no index serves (free text, subject, from, ...) reads at most this many events per
# page, so a rare term costs a bounded read; "Older" carries on where it stopped.
SCAN = 50_000
TIMELINE_SIZE = 300
TIMELINE_RECIPIENTS = 50
# Query parameter -> label, as the Events API names its filters.
FILTERS = {
    "recipient": "Recipient",
    "from": "From",
    "subject": "Subject",
    "message-id": "Message-Id",
    "tags": "Tag",
}
SEVERITIES = ("temporary", "permanent")
FIELDS = ("domain", "event", "severity", *FILTERS, "q", "begin", "end")
BAD_EVENTS = {"failed", "rejected", "complained", "unsubscribed"}


def _day(value: str, field: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
    except ValueError:
        raise InvalidInput(f"'{field}' must be a date (YYYY-MM-DD)", field=field) from None


def _query(form: dict[str, str]) -> EventQuery:
    """The first page for the search form: newest first, ``PAGE_SIZE`` rows."""
    params = {k: form[k] for k in ("event", "severity", *FILTERS) if form[k]}
    query = parse_query({**params, "limit": str(PAGE_SIZE), "ascending": "no"}, form["domain"])
    begin = _day(form["begin"], "begin").timestamp() if form["begin"] else None
    # The end date is inclusive: up to the last moment of that day.
    end = (_day(form["end"], "end") + timedelta(days=1)).timestamp() - 1e-6 if form["end"] else None
    if begin is not None and end is not None and begin > end:
        raise InvalidInput("'begin' must not be after 'end'", field="begin")
    return replace(query, begin=begin, end=end, text=form["q"])


def _row(item: dict[str, Any]) -> dict[str, Any]:
    headers = item.get("message", {}).get("headers", {})
    status = item.get("delivery-status") or {}
    return {
        "timestamp": item.get("timestamp"),
        "event": item.get("event", ""),
        "is_bad": item.get("event") in BAD_EVENTS,
        "severity": item.get("severity", ""),
        "recipient": item.get("recipient", ""),
        "from": headers.get("from", ""),
        "subject": headers.get("subject", ""),
        "message_id": headers.get("message-id", ""),
        "key": (item.get("storage") or {}).get("key", ""),
        "reason": status.get("message") or status.get("description") or item.get("reason", ""),
        "code": status.get("code", ""),
    }


@page
async def message_log(request: Request) -> Response:
    svc = services(request)
    form = {name: param(request.query_params, name) for name in FIELDS}
    domains = await domain_names(request)
    context: dict[str, Any] = {
        "title": "Message log",
        "form": form,
        "domains": domains,
        "event_types": [str(e) for e in EventType],
        "severities": SEVERITIES,
        "filters": FILTERS,
        "rows": [],
        "next": "",
        "previous": "",
        "error": "",
        "scanned_to": None,
        "scan": SCAN,
    }
    try:
        if form["domain"] and form["domain"].lower() not in domains:
            raise InvalidInput(f"No domain named {form['domain']}", field="domain")
        token = param(request.query_params, "page")
        query = EventQuery.from_token(token, form["domain"]) if token else _query(form)
        result = await fetch_across(
            svc.store, query, [form["domain"].lower()] if form["domain"] else domains, scan=SCAN
        )
    except InvalidInput as exc:
        context["error"] = exc.message
        return render(request, "messages.html", context, status=400)
    tokens = page_tokens(result)
    context["rows"] = [_row(item) for item in result.items]
    if is_scanning(query) and result.has_more and len(result.items) < query.limit:
        stop = result.last_cursor if not query.flip else result.first_cursor
        context["scanned_to"] = stop[0] if stop else None
    # Reading forward (older), a cursor means we came from a newer page; reading backwards
    # (previous), we came from an older one.
    has_older = result.has_more if not query.flip else True
    has_newer = result.has_more if query.flip else query.cursor is not None
    if result.items and has_older:
        context["next"] = link("/messages", {**form, "page": tokens["next"]})
    if result.items and has_newer:
        context["previous"] = link("/messages", {**form, "page": tokens["previous"]})
    return render(request, "messages.html", context)


async def _stored(request: Request) -> StoredMessage:
    return await load(services(request).store, str(request.path_params["key"]))


def _raw(stored: StoredMessage) -> bytes:
    """The message as its first recipient got it (what the API's storage URL shows)."""
    recipients = stored.recipients
    return stored.render_for(recipients[0] if recipients else stored.facts.sender)


def _among(recipients: list[str]) -> tuple[tuple[str, str], ...]:
    """A ``recipient`` filter for a few plain addresses: the recipient index then finds the
    message's events, where the message-id alone would read the domain's events since it."""
    if not 0 < len(recipients) <= TIMELINE_RECIPIENTS or any(
        not r or set(r) & set('"() \t') for r in recipients
    ):
        return ()
    return (("recipient", " OR ".join(f'"{r}"' for r in recipients)),)


async def _timeline(
    request: Request, stored: StoredMessage, recipients: list[str]
) -> list[dict[str, Any]]:
    """The message's events, oldest first. Nothing happens to a message before it is stored,
    so the read starts at its creation; every event of a sent message is about one of its
    deliveries' ``recipients``."""
    query = EventQuery(
        domain=stored.row.domain,
        ascending=True,
        limit=TIMELINE_SIZE,
        begin=stored.row.created_at - 1,
        filters=(("message-id", stored.row.message_id), *_among(recipients)),
    )
    result = await fetch(services(request).store, query)
    return [_row(item) for item in result.items]


@page
async def message_detail(request: Request) -> Response:
    try:
        stored = await _stored(request)
    except NotFound:
        return error_page(request, NotFound("No stored message has that key; it may have expired."))
    key = stored.row.id
    described = describe(
        _raw(stored),
        recipients=stored.recipients,
        sender=stored.facts.sender,
        attachment_url=lambda i: f"/messages/{key}/attachments/{i}",
    )
    svc = services(request)
    attempts = await attempts_of(svc.store, key)
    deliveries = await deliveries_of(svc.store, key)
    context = {
        "title": described.get("subject") or "(no subject)",
        "row": stored.row,
        "base": f"/messages/{key}",
        "message": described,
        "deliveries": deliveries,
        "attempts": attempts,
        "events": await _timeline(request, stored, [d["recipient"] for d in deliveries]),
    }
    return render(request, "message.html", context)


@page
async def message_preview(request: Request) -> Response:
    try:
        stored = await _stored(request)
    except NotFound as exc:
        return error_page(request, exc)
    described = describe(_raw(stored), recipients=stored.recipients, sender="", attachment_url=str)
    return html_preview(described["body-html"])


@page
async def message_attachment(request: Request) -> Response:
    try:
        stored = await _stored(request)
    except NotFound as exc:
        return error_page(request, exc)
    index = str(request.path_params["index"])
    raw = _raw(stored)
    found = attachment(raw, int(index)) if index.isdigit() else None
    if found is None:
        return error_page(request, NotFound("The message has no such attachment."))
    files = describe(raw, recipients=[], sender="", attachment_url=str)["attachments"]
    return download(found[1], found[0], files[int(index)]["name"])


ROUTES = [
    Route("/messages", message_log, methods=["GET"]),
    Route("/messages/{key}", message_detail, methods=["GET"]),
    Route("/messages/{key}/preview", message_preview, methods=["GET"]),
    Route("/messages/{key}/attachments/{index}", message_attachment, methods=["GET"]),
]
