"""Every HTTP route, in one table: Mailgun's paths, our inbox, health and the OpenAPI document.

The OpenAPI description is generated from this table and the handlers' docstrings, so it
cannot drift from what is served (``tests/integration/test_openapi.py`` checks it).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailwright.api import (
    account_webhooks,
    analytics,
    attempts,
    blocklists,
    bounce_classification,
    credentials,
    dkim,
    doctor,
    domains,
    events,
    inbound_routes,
    inbox,
    ips,
    keys,
    limits,
    lists,
    logs,
    messages,
    monitoring,
    oauth,
    stats,
    suppressions,
    templates,
    tracking,
    validation,
    webhooks,
)
from mailwright.api.context import services
from mailwright.api.fields import FORMS, JSON_BODIES, QUERY

TRACKING = ("/o/{token}", "/c/{token}", "/u/{token}")  # the recipient's links: no auth
# Authenticated by an OAuth client (HTTP Basic client_id:client_secret or form fields); errors
# as RFC 6749 5.2.
OAUTH = frozenset({"/oauth/token", "/oauth/introspect", "/oauth/revoke"})
PUBLIC = frozenset({"/healthz", "/readyz", "/openapi.json", "/oauth/jwks.json", *TRACKING, *OAUTH})


async def healthz(request: Request) -> Response:
    """Liveness and database check: `{"status": "ok"}` when the database answers."""
    if not await services(request).store.ping():
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


async def openapi(request: Request) -> Response:
    """This OpenAPI 3.1 description of every endpoint."""
    return JSONResponse(openapi_document(request.app.routes, services(request).public_url))


INBOX = "/mailwright/v1/inbox/messages"
STORED = "/v3/domains/{domain}/messages/{key}"

ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", monitoring.readyz, methods=["GET"]),
    Route("/metrics", monitoring.metrics, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    Route("/v3/{domain}/messages", messages.send, methods=["POST"]),
    Route("/v3/{domain}/messages.mime", messages.send_mime, methods=["POST"]),
    Route("/v3/{domain}/envelopes", messages.delete_envelopes, methods=["DELETE"]),
    Route(STORED, messages.get_stored, methods=["GET"]),
    Route(STORED, messages.resend, methods=["POST"]),
    Route(STORED + "/attachments/{index}", messages.get_stored_attachment, methods=["GET"]),
    Route("/v3/{domain}/events", events.search, methods=["GET"]),
    Route("/v3/{domain}/events/{token}", events.page, methods=["GET"]),
    Route("/v1/analytics/logs", logs.search, methods=["POST"]),
    Route("/v4/domains", domains.list_all, methods=["GET"]),
    Route("/v4/domains", domains.create, methods=["POST"]),
    Route("/v4/domains/{name}", domains.get_one, methods=["GET"]),
    Route("/v4/domains/{name}", domains.update, methods=["PUT"]),
    Route("/v4/domains/{name}", domains.delete, methods=["DELETE"]),
    Route("/v4/domains/{name}/verify", domains.verify, methods=["PUT"]),
    Route("/v3/domains", domains.list_all, methods=["GET"]),
    Route("/v3/domains", domains.create, methods=["POST"]),
    Route("/v3/domains/{name}", domains.get_one, methods=["GET"]),
    Route("/v3/domains/{name}", domains.update, methods=["PUT"]),
    Route("/v3/domains/{name}", domains.delete, methods=["DELETE"]),
    Route("/v3/domains/{name}/dkim_selector", domains.put_dkim_selector, methods=["PUT"]),
    Route("/v3/domains/{name}/dkim_authority", domains.put_dkim_authority, methods=["PUT"]),
    Route("/v3/domains/{name}/web_prefix", domains.put_web_prefix, methods=["PUT"]),
    Route("/v3/domains/{name}/sending_queues", domains.sending_queues, methods=["GET"]),
    Route("/v3/domains/{name}/verify", domains.verify, methods=["PUT"]),
    Route("/v3/domains/{name}/connection", domains.get_connection, methods=["GET"]),
    Route("/v3/domains/{name}/connection", domains.put_connection, methods=["PUT"]),
    Route("/v3/domains/{name}/tracking", domains.get_tracking, methods=["GET"]),
    Route("/v3/domains/{name}/tracking/open", domains.put_tracking_open, methods=["PUT"]),
    Route("/v3/domains/{name}/tracking/click", domains.put_tracking_click, methods=["PUT"]),
    Route(
        "/v3/domains/{name}/tracking/unsubscribe",
        domains.put_tracking_unsubscribe,
        methods=["PUT"],
    ),
    Route("/v1/keys", keys.list_all, methods=["GET"]),
    Route("/v1/keys", keys.create, methods=["POST"]),
    Route("/v1/keys/public", keys.regenerate_public, methods=["POST"]),
    Route("/v1/keys/{key_id}", keys.delete, methods=["DELETE"]),
    Route("/mailwright/v1/messages/{key}/attempts", attempts.list_for_message, methods=["GET"]),
    Route(INBOX, inbox.list_all, methods=["GET"]),
    Route(INBOX, inbox.delete_all, methods=["DELETE"]),
    Route(INBOX + "/{item_id}", inbox.get_one, methods=["GET"]),
    Route(INBOX + "/{item_id}", inbox.delete_one, methods=["DELETE"]),
    Route(INBOX + "/{item_id}/raw", inbox.get_raw, methods=["GET"]),
    Route(INBOX + "/{item_id}/attachments/{index}", inbox.get_attachment, methods=["GET"]),
    *suppressions.ROUTES,
    *webhooks.ROUTES,
    *account_webhooks.ROUTES,
    *templates.ROUTES,
    Route(TRACKING[0], tracking.open_pixel, methods=["GET"]),
    Route(TRACKING[1], tracking.click, methods=["GET"]),
    Route(TRACKING[2], tracking.unsubscribe_page, methods=["GET"]),
    Route(TRACKING[2], tracking.unsubscribe, methods=["POST"]),
    *stats.ROUTES,
    *analytics.ROUTES,
    *bounce_classification.ROUTES,
    *lists.ROUTES,
    *validation.ROUTES,
    *inbound_routes.ROUTES,
    *credentials.ROUTES,
    *limits.ROUTES,
    *ips.ROUTES,
    *doctor.ROUTES,
    *dkim.ROUTES,
    *blocklists.ROUTES,
    *oauth.ROUTES,
]

ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
OAUTH_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/OAuthError"}}}
JSON_OK = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
FREE_FORM = {"type": "object", "additionalProperties": True}


def _form_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "required": bool(schema.get("required")),
        "content": {
            "multipart/form-data": {"schema": schema},
            "application/x-www-form-urlencoded": {"schema": schema},
        },
    }


HTML_OK = {"description": "An HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}
# The recipient's links answer a picture, a redirect or a page instead of JSON.
TRACKING_OK = {
    "/o/{token}": {
        "description": "A 1x1 GIF",
        "content": {"image/gif": {"schema": {"type": "string", "format": "binary"}}},
    },
    "/c/{token}": {"description": "Redirect to the URL the token was signed for"},
    "/u/{token}": HTML_OK,
}


# Bulk and mailing-list validation results download as files.
_RESULTS = (
    "/mailwright/v1/address/validate/bulk/{list_id}/results",
    "/mailwright/v1/lists/{address}/validate/results",
)
_CSV_OK = {
    "description": "One CSV row per address",
    "content": {"text/csv": {"schema": {"type": "string"}}},
}
_JSON_ARRAY_OK = {
    "description": "A JSON array of validation answers",
    "content": {"application/json": {"schema": {"type": "array"}}},
}
FILES_OK = {
    **{results + ".csv": _CSV_OK for results in _RESULTS},
    **{results + ".json": _JSON_ARRAY_OK for results in _RESULTS},
}


# Mailgun's account webhooks answer changes with an empty 204.
NO_CONTENT = frozenset(
    {
        ("PUT", "/v1/webhooks/{webhook_id}"),
        ("DELETE", "/v1/webhooks/{webhook_id}"),
        ("DELETE", "/v1/webhooks"),
    }
)


# Monitoring answers Prometheus text, and readiness a 503 naming the failed check.
MONITORING_OK = {
    "/metrics": {
        "description": "Prometheus text exposition format 0.0.4",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
    "/readyz": {"description": "Ready: every check is ok", "content": JSON_OK["content"]},
}


def _request_body(method: str, path: str) -> dict[str, Any] | None:
    """A JSON object for the operations listed in ``JSON_BODIES``, else a form on POST/PUT."""
    if (method, path) in JSON_BODIES:
        schema = JSON_BODIES[(method, path)]
        return {"required": True, "content": {"application/json": {"schema": schema}}}
    if method in ("POST", "PUT"):
        return _form_body(FORMS.get((method, path), FREE_FORM))
    return None


def _success(method: str, path: str) -> dict[str, Any]:
    if (method, path) in NO_CONTENT:
        return {"204": {"description": "Done; no content"}}
    return {"200": FILES_OK.get(path, JSON_OK)}


def _operation(route: Route, method: str) -> dict[str, Any]:
    doc = (route.endpoint.__doc__ or "").strip()
    summary, _, description = doc.partition("\n")
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", route.path)
    ] + QUERY.get((method, route.path), [])
    op: dict[str, Any] = {
        "operationId": method.lower() + re.sub(r"[^a-z0-9]+", "_", route.path.lower()).rstrip("_"),
        "summary": " ".join((summary + " " + description).split()),
        "parameters": params,
        "responses": {
            **_success(method, route.path),
            "400": {"description": "Bad request", "content": ERROR},
            "404": {"description": "Not found", "content": ERROR},
        },
    }
    if route.path in TRACKING_OK:
        ok = TRACKING_OK[route.path]
        status = "302" if route.path == "/c/{token}" else "200"
        op["responses"] = {status: ok, "404": op["responses"]["404"]}
    if route.path in MONITORING_OK:
        op["responses"] = {"200": MONITORING_OK[route.path]}
        if route.path == "/readyz":
            op["responses"]["503"] = {"description": "Not ready", "content": JSON_OK["content"]}
    if route.path in OAUTH:
        op["security"] = [{"basicAuth": []}, {}]
        op["responses"] = {
            "200": JSON_OK,
            "400": {"description": "RFC 6749 5.2 error", "content": OAUTH_ERROR},
            "401": {"description": "invalid_client", "content": OAUTH_ERROR},
        }
    if route.path not in PUBLIC:
        op["security"] = [{"basicAuth": []}, {"bearerAuth": []}]
        op["responses"]["401"] = {"description": "Invalid private key", "content": ERROR}
        op["responses"]["403"] = {"description": "Forbidden for this key", "content": ERROR}
        op["responses"]["429"] = {
            "description": "Over a request limit (MAILWRIGHT_RATE_LIMIT_*)",
            "content": ERROR,
        }
    body = _request_body(method, route.path)
    if body is not None:
        op["requestBody"] = body
    return op


def openapi_document(routes: list[Any], server_url: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route):
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            paths.setdefault(route.path, {})[method.lower()] = _operation(route, method)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mailwright",
            "version": "0.1.0",
            "description": "A self-hosted email platform that speaks Mailgun's API.",
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "basicAuth": {"type": "http", "scheme": "basic"},
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
            "schemas": {
                "OAuthError": {
                    "type": "object",
                    "properties": {
                        "error": {"type": "string"},
                        "error_description": {"type": "string"},
                    },
                    "required": ["error"],
                },
                "Error": {
                    "type": "object",
                    "properties": {"message": {"type": "string"}},
                    "required": ["message"],
                },
            },
        },
    }
