"""Mailgun's domain webhooks (``/v3/domains/{domain}/webhooks``), the account's HTTP webhook
signing key (``/v5/accounts/http_signing_key``), and our extensions under ``/mailwright/v1``:
send a test event, and the webhook deliveries (what is retrying, what was given up)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import int_param, json_response, path_param, principal, read_form
from mailwright.api.context import services as services_of
from mailwright.domains import get_domain
from mailwright.errors import InvalidInput
from mailwright.events import WebhookKind
from mailwright.webhooks import (
    assign_url,
    delete_webhook,
    get_webhook,
    list_deliveries,
    list_webhooks,
    parse_kind,
    parse_kinds,
    parse_url,
    parse_urls,
    put_webhook,
    regenerate_signing_key,
    remove_urls,
    send_test,
    signing_key,
)


async def _domain(request: Request, *, write: bool = False) -> str:
    (await principal(request)).require_account(write=write)
    return (await get_domain(services_of(request).store, path_param(request, "domain"))).name


def _kind(request: Request) -> WebhookKind:
    return parse_kind(path_param(request, "webhook_id"), field="id")


async def list_all(request: Request) -> Response:
    """List the domain's webhooks: `{"webhooks": {name: {"urls": [...]}}}`."""
    domain = await _domain(request)
    hooks = await list_webhooks(services_of(request).store, domain)
    return json_response({"webhooks": {kind: {"urls": urls} for kind, urls in hooks.items()}})


async def get_one(request: Request) -> Response:
    """One webhook: `{"webhook": {"urls": [...]}}`."""
    domain = await _domain(request)
    urls = await get_webhook(services_of(request).store, domain, _kind(request))
    return json_response({"webhook": {"urls": urls}})


async def create(request: Request) -> Response:
    """Create a webhook: form `id` (the webhook name) and `url` (repeatable, up to 3)."""
    domain = await _domain(request, write=True)
    svc = services_of(request)
    form = await read_form(request)
    kind = parse_kind(form.get("id"))
    urls = await parse_urls(form.get_all("url"), svc.resolver, allow_private=svc.allow_private_urls)
    stored = await put_webhook(svc.store, domain, kind, urls, create=True, now=svc.clock())
    svc.webhooks.forget(domain)
    return json_response({"message": "Webhook has been created", "webhook": {"urls": stored}})


async def update(request: Request) -> Response:
    """Replace a webhook's URLs: form `url` (repeatable, up to 3)."""
    domain = await _domain(request, write=True)
    svc = services_of(request)
    kind = _kind(request)
    form = await read_form(request)
    urls = await parse_urls(form.get_all("url"), svc.resolver, allow_private=svc.allow_private_urls)
    stored = await put_webhook(svc.store, domain, kind, urls, create=False, now=svc.clock())
    svc.webhooks.forget(domain)
    return json_response({"message": "Webhook has been updated", "webhook": {"urls": stored}})


async def delete(request: Request) -> Response:
    """Delete a webhook; answers the URLs it had."""
    domain = await _domain(request, write=True)
    svc = services_of(request)
    urls = await delete_webhook(svc.store, domain, _kind(request))
    svc.webhooks.forget(domain)
    return json_response({"message": "Webhook has been deleted", "webhook": {"urls": urls}})


def _v4(hooks: dict[str, list[str]]) -> Response:
    return json_response({"webhooks": {kind: {"urls": urls} for kind, urls in hooks.items()}})


async def _url_and_kinds(request: Request) -> tuple[str, list[WebhookKind]]:
    svc = services_of(request)
    form = await read_form(request)
    urls = await parse_urls(form.get_all("url"), svc.resolver, allow_private=svc.allow_private_urls)
    if len(urls) > 1:
        raise InvalidInput("one 'url' per request", field="url")
    return urls[0], parse_kinds(form.get_all("event_types"))


async def create_v4(request: Request) -> Response:
    """Mailgun's v4 webhooks: form `url` and `event_types` (repeatable); the URL is added to
    each of those webhooks (up to 3 URLs each). Answers every webhook of the domain."""
    domain = await _domain(request, write=True)
    svc = services_of(request)
    url, kinds = await _url_and_kinds(request)
    hooks = await assign_url(svc.store, domain, url, kinds, only=False, now=svc.clock())
    svc.webhooks.forget(domain)
    return _v4(hooks)


async def update_v4(request: Request) -> Response:
    """Mailgun's v4 webhooks: form `url` and `event_types` (repeatable); the URL is now on
    exactly those webhooks (taken off the others). Answers every webhook of the domain."""
    domain = await _domain(request, write=True)
    svc = services_of(request)
    url, kinds = await _url_and_kinds(request)
    hooks = await assign_url(svc.store, domain, url, kinds, only=True, now=svc.clock())
    svc.webhooks.forget(domain)
    return _v4(hooks)


async def delete_v4(request: Request) -> Response:
    """Mailgun's v4 webhooks: `url` (query; several comma-separated) is taken off every
    webhook. Answers what is left."""
    domain = await _domain(request, write=True)
    svc = services_of(request)
    raw = ",".join(request.query_params.getlist("url"))
    urls = [parse_url(u.strip()) for u in raw.split(",") if u.strip()]
    if not urls:
        raise InvalidInput("'url' parameter is missing", field="url")
    hooks = await remove_urls(svc.store, domain, urls, now=svc.clock())
    svc.webhooks.forget(domain)
    return _v4(hooks)


async def get_signing_key(request: Request) -> Response:
    """The account's HTTP webhook signing key (created on first use)."""
    (await principal(request)).require_account()
    svc = services_of(request)
    return json_response({"http_signing_key": await signing_key(svc.store, now=svc.clock())})


async def regenerate_key(request: Request) -> Response:
    """Regenerate the HTTP webhook signing key; webhooks are signed with the new key at once."""
    (await principal(request)).require_account(write=True)
    svc = services_of(request)
    key = await regenerate_signing_key(svc.store, now=svc.clock())
    return json_response({"message": "success", "http_signing_key": key})


async def send_test_event(request: Request) -> Response:
    """mailwright extension: POST a signed test event (`flags.is-system-test`) to each URL of
    the webhook now, and answer what each receiver replied (`status`, or `error`); each POST is
    also listed in the webhook deliveries."""
    domain = await _domain(request, write=True)
    svc = services_of(request)
    results = await send_test(
        svc.store,
        svc.webhook_poster,
        svc.resolver,
        domain,
        _kind(request),
        allow_private=svc.allow_private_urls,
        now=svc.clock(),
    )
    return json_response({"message": "Test event sent", "results": results})


async def test_url(request: Request) -> Response:
    """Test a URL for this webhook (Mailgun's `PUT .../webhooks/{id}/test`, form `url`): POST a
    signed test event of this kind (`flags.is-system-test`) to it now and answer the receiver's
    HTTP status as `code` (a string, as Mailgun's; null when no HTTP answer came) and the start of
    its reply as `message` (or why there was no answer). The URL need not be one of the
    webhook's; the POST is listed in the webhook deliveries."""
    domain = await _domain(request, write=True)
    svc = services_of(request)
    kind = _kind(request)
    form = await read_form(request)
    urls = await parse_urls(
        [form.get("url") or ""], svc.resolver, allow_private=svc.allow_private_urls
    )
    [result] = await send_test(
        svc.store,
        svc.webhook_poster,
        svc.resolver,
        domain,
        kind,
        allow_private=svc.allow_private_urls,
        now=svc.clock(),
        urls=urls,
    )
    status = result["status"]
    return json_response(
        {
            "code": None if status is None else str(status),
            "message": result["answer"] if status is not None else result["error"],
        }
    )


async def deliveries(request: Request) -> Response:
    """mailwright extension: webhook deliveries, newest first (`status` queued, retrying,
    delivered, dropped or failed; `domain`; `limit` up to 1000) with attempts and last error."""
    (await principal(request)).require_account()
    svc = services_of(request)
    domain = request.query_params.get("domain") or None
    if domain is not None:
        domain = (await get_domain(svc.store, domain)).name
    items = await list_deliveries(
        svc.store,
        status=request.query_params.get("status") or None,
        domain=domain,
        limit=int_param(request, "limit", 100, low=1, high=1000),
    )
    return json_response({"items": items})


HOOKS = "/v3/domains/{domain}/webhooks"
HOOKS_V4 = "/v4/domains/{domain}/webhooks"
SIGNING_KEY = "/v5/accounts/http_signing_key"

ROUTES = [
    Route(HOOKS, list_all, methods=["GET"]),
    Route(HOOKS_V4, create_v4, methods=["POST"]),
    Route(HOOKS_V4, update_v4, methods=["PUT"]),
    Route(HOOKS_V4, delete_v4, methods=["DELETE"]),
    Route(HOOKS, create, methods=["POST"]),
    Route(HOOKS + "/{webhook_id}", get_one, methods=["GET"]),
    Route(HOOKS + "/{webhook_id}", update, methods=["PUT"]),
    Route(HOOKS + "/{webhook_id}", delete, methods=["DELETE"]),
    Route(HOOKS + "/{webhook_id}/test", test_url, methods=["PUT"]),
    Route(SIGNING_KEY, get_signing_key, methods=["GET"]),
    Route(SIGNING_KEY, regenerate_key, methods=["POST"]),
    Route(
        "/mailwright/v1/domains/{domain}/webhooks/{webhook_id}/test",
        send_test_event,
        methods=["POST"],
    ),
    Route("/mailwright/v1/webhooks/deliveries", deliveries, methods=["GET"]),
]
