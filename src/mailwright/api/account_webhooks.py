"""Mailgun's account webhooks (``/v1/webhooks``): a URL POSTed the events of every domain for
the event types it names. Changes reach the accept path at once in this process (its webhook
cache is forgotten) and within the cache's few seconds in others."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import json_response, path_param, principal, read_form
from mailwright.api.context import services as services_of
from mailwright.errors import InvalidInput
from mailwright.events import WebhookKind
from mailwright.webhooks import (
    create_account_webhook,
    delete_account_webhooks,
    get_account_webhook,
    list_account_webhooks,
    parse_description,
    parse_ids,
    parse_kinds,
    parse_urls,
    update_account_webhook,
)


async def _fields(request: Request) -> tuple[str, list[WebhookKind], str]:
    """The form's `url` (one), `event_types` (repeatable) and `description`."""
    svc = services_of(request)
    form = await read_form(request)
    urls = await parse_urls(form.get_all("url"), svc.resolver, allow_private=svc.allow_private_urls)
    if len(urls) > 1:
        raise InvalidInput("one 'url' per webhook", field="url")
    kinds = parse_kinds(form.get_all("event_types"))
    return urls[0], kinds, parse_description(form.get("description"))


async def list_all(request: Request) -> Response:
    """List the account webhooks (`webhook_ids`: only these, comma-separated):
    `{"webhooks": [{webhook_id, description, url, event_types, created_at}]}`."""
    (await principal(request)).require_account()
    ids = parse_ids(request.query_params.get("webhook_ids"))
    hooks = await list_account_webhooks(services_of(request).store, ids)
    return json_response({"webhooks": hooks})


async def get_one(request: Request) -> Response:
    """One account webhook: `{webhook_id, description, url, event_types, created_at}`."""
    (await principal(request)).require_account()
    hook = await get_account_webhook(services_of(request).store, path_param(request, "webhook_id"))
    return json_response(hook)


async def create(request: Request) -> Response:
    """Create an account webhook: form `url`, `event_types` (repeatable) and `description`;
    it is POSTed those events of every domain. Answers `{"webhook_id": ...}`."""
    (await principal(request)).require_account(write=True)
    svc = services_of(request)
    url, kinds, description = await _fields(request)
    webhook_id = await create_account_webhook(svc.store, url, kinds, description, now=svc.clock())
    svc.webhooks.forget()  # every domain's cached webhooks include the account's
    return json_response({"webhook_id": webhook_id})


async def update(request: Request) -> Response:
    """Replace an account webhook's `url`, `event_types` and `description`; answers 204."""
    (await principal(request)).require_account(write=True)
    svc = services_of(request)
    webhook_id = path_param(request, "webhook_id")
    url, kinds, description = await _fields(request)
    await update_account_webhook(svc.store, webhook_id, url, kinds, description)
    svc.webhooks.forget()
    return Response(status_code=204)


async def delete_one(request: Request) -> Response:
    """Delete an account webhook; answers 204."""
    (await principal(request)).require_account(write=True)
    svc = services_of(request)
    await delete_account_webhooks(svc.store, [path_param(request, "webhook_id")])
    svc.webhooks.forget()
    return Response(status_code=204)


async def delete_many(request: Request) -> Response:
    """Delete the account webhooks of `webhook_ids` (comma-separated), or every one with
    `all=true`; answers 204."""
    (await principal(request)).require_account(write=True)
    svc = services_of(request)
    ids = parse_ids(request.query_params.get("webhook_ids"))
    every = request.query_params.get("all", "").lower()
    if every not in ("", "true", "false"):
        raise InvalidInput("'all' must be true or false", field="all")
    if ids is None and every != "true":
        raise InvalidInput("'webhook_ids' or 'all=true' is required", field="webhook_ids")
    await delete_account_webhooks(svc.store, ids)
    svc.webhooks.forget()
    return Response(status_code=204)


HOOKS = "/v1/webhooks"

ROUTES = [
    Route(HOOKS, list_all, methods=["GET"]),
    Route(HOOKS, create, methods=["POST"]),
    Route(HOOKS, delete_many, methods=["DELETE"]),
    Route(HOOKS + "/{webhook_id}", get_one, methods=["GET"]),
    Route(HOOKS + "/{webhook_id}", update, methods=["PUT"]),
    Route(HOOKS + "/{webhook_id}", delete_one, methods=["DELETE"]),
]
