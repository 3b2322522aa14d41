"""The query parameters and form fields of the main endpoints, as OpenAPI fragments; pure.

``routes.py`` adds them to the generated ``/openapi.json``, so clients (and the schemathesis
run in ``tests/integration/test_fuzz_api.py``) learn which fields an operation reads. An
operation not listed here is described with its path parameters and a free-form body only.
The schemas say what each field looks like; the handlers still validate every value.
"""

from __future__ import annotations

from typing import Any

from mailwright.delivery import bounce_metrics as bounces
from mailwright.events.analytics import DIMENSIONS, METRICS
from mailwright.validation.usage import USAGE

Schema = dict[str, Any]

_TEXT: Schema = {"type": "string", "maxLength": 200}
_EMAIL: Schema = {"type": "string", "format": "email"}
_EMAILS: Schema = {"type": "array", "items": _EMAIL, "minItems": 1, "maxItems": 3}
_YES_NO: Schema = {"type": "string", "enum": ["yes", "no", "true", "false"]}
_DATE: Schema = {"type": "string", "examples": ["Thu, 13 Oct 2011 18:02:00 +0000", "1318528920"]}
_LIMIT: Schema = {"type": "integer", "minimum": 1, "maximum": 1000}
_SKIP: Schema = {"type": "integer", "minimum": 0}
_IP: Schema = {"type": "string", "examples": ["192.0.2.10", "2001:db8::10"]}
_IPS: Schema = {"type": "array", "items": _IP}


def _query(**params: Schema) -> list[Schema]:
    """Optional query parameters; a ``_`` in a name stands for ``-`` (``message_id``)."""
    return [
        {"name": name.replace("_", "-"), "in": "query", "required": False, "schema": schema}
        for name, schema in params.items()
    ]


def _form(required: tuple[str, ...] = (), **properties: Schema) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": True,  # h:*, v:* and Mailgun's other open-ended fields
    }


_SUPPRESSION_LIST = _query(
    limit=_LIMIT,
    page={"type": "string", "enum": ["first", "last", "next", "prev"]},
    address=_TEXT,
    term=_TEXT,
)
_ROUTE_FORM = {
    "priority": {"type": "integer", "minimum": 0, "maximum": 10**6},
    "description": _TEXT,
    "expression": {
        "type": "string",
        "examples": ['match_recipient(".*@example.com")', 'match_header("subject", "hi")'],
    },
    "action": {
        "type": "array",
        "items": {
            "type": "string",
            "examples": ['forward("https://example.org/hook")', "stop()", "store()"],
        },
        "minItems": 1,
        "maxItems": 3,
    },
}

QUERY: dict[tuple[str, str], list[Schema]] = {
    ("GET", "/v3/{domain}/events"): _query(
        begin=_DATE,
        end=_DATE,
        ascending=_YES_NO,
        limit={"type": "integer", "minimum": 1, "maximum": 300},
        event={"type": "string", "examples": ["accepted", "delivered OR failed", "NOT opened"]},
        severity={"type": "string", "enum": ["temporary", "permanent"]},
        recipient=_TEXT,
        to=_TEXT,
        subject=_TEXT,
        tags=_TEXT,
        message_id=_TEXT,
        size={"type": "string", "examples": [">1000", "<=20"]},
    ),
    ("GET", "/v4/domains"): _query(
        limit=_LIMIT, skip=_SKIP, state={"type": "string", "enum": ["active", "unverified"]}
    ),
    ("GET", "/v3/domains"): _query(limit=_LIMIT, skip=_SKIP),
    ("GET", "/v3/routes"): _query(limit=_LIMIT, skip=_SKIP),
    ("GET", "/v3/routes/match"): _query(address=_EMAIL),
    **{
        ("GET", f"/v3/{{domain}}/{kind}"): _SUPPRESSION_LIST
        for kind in ("bounces", "unsubscribes", "complaints", "whitelists")
    },
    ("DELETE", "/v3/{domain}/unsubscribes/{address}"): _query(tag=_TEXT),
}

FORMS: dict[tuple[str, str], Schema] = {
    ("POST", "/v3/{domain}/messages"): _form(
        ("from", "to"),
        to=_EMAILS,
        cc=_EMAILS,
        bcc=_EMAILS,
        subject=_TEXT,
        text=_TEXT,
        html=_TEXT,
        **{
            "from": _EMAIL,
            "o:tag": {"type": "array", "items": _TEXT, "maxItems": 3},
            "o:deliverytime": _DATE,
            "o:testmode": _YES_NO,
            "o:tracking": _YES_NO,
            "o:tracking-clicks": {"type": "string", "enum": ["yes", "no", "htmlonly"]},
            "o:tracking-opens": _YES_NO,
            "o:require-tls": _YES_NO,
            "o:sending-ip": _IP,
            "o:sending-ip-pool": _TEXT,
            "recipient-variables": {"type": "string", "examples": ['{"a@example.com": {"n": 1}}']},
            "h:X-Custom": _TEXT,
            "v:custom": _TEXT,
        },
    ),
    ("POST", "/v4/domains"): _form(
        ("name",),
        name={"type": "string", "format": "hostname"},
        smtp_password={"type": "string", "minLength": 5, "maxLength": 32},
        spam_action={"type": "string", "enum": ["disabled", "block", "tag"]},
        wildcard=_YES_NO,
        dkim_key_size={"type": "string", "enum": ["1024", "2048"]},
        web_scheme={"type": "string", "enum": ["http", "https"]},
    ),
    ("POST", "/v3/{domain}/bounces"): _form(
        ("address",), address=_EMAIL, code=_TEXT, error=_TEXT, created_at=_DATE
    ),
    ("POST", "/v3/{domain}/unsubscribes"): _form(
        ("address",), address=_EMAIL, tag=_TEXT, created_at=_DATE
    ),
    ("POST", "/v3/{domain}/complaints"): _form(("address",), address=_EMAIL, created_at=_DATE),
    ("POST", "/v3/{domain}/whitelists"): _form(
        (), address=_EMAIL, domain={"type": "string", "format": "hostname"}
    ),
    ("POST", "/v3/routes"): _form(("expression", "action"), **_ROUTE_FORM),
    ("PUT", "/v3/routes/{route_id}"): _form((), **_ROUTE_FORM),
    ("POST", "/mailwright/v1/domains/{name}/dkim/rotate"): _form(
        (),
        algorithm={"type": "string", "enum": ["rsa", "ed25519"]},
        key_size={"type": "string", "enum": ["1024", "2048"]},
        selector=_TEXT,
        grace_days={"type": "number", "minimum": 0, "maximum": 365},
    ),
    ("POST", "/mailwright/v1/domains/{name}/dkim/activate"): _form((), selector=_TEXT),
    ("PUT", "/v1/dkim_management/domains/{name}/rotation"): _form(
        ("rotation_enabled",),
        rotation_enabled=_YES_NO,
        rotation_interval={"type": "string", "pattern": "^([0-9]+[dhms])+$", "examples": ["5d"]},
    ),
}
FORMS[("POST", "/v3/domains")] = FORMS[("POST", "/v4/domains")]
_LABEL: Schema = {"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"}
for _version in ("v3", "v4"):
    FORMS[("PUT", f"/{_version}/domains/{{name}}")] = _form(
        (),
        spam_action={"type": "string", "enum": ["disabled", "block", "tag"]},
        wildcard=_YES_NO,
        web_scheme={"type": "string", "enum": ["http", "https"]},
        web_prefix=_LABEL,
        require_tls=_YES_NO,
        skip_verification=_YES_NO,
        smtp_password={"type": "string", "minLength": 5, "maxLength": 32},
    )
# The Node SDK sends these settings in the query string; a form works as well.
FORMS[("PUT", "/v3/domains/{name}/dkim_selector")] = _form((), dkim_selector=_LABEL)
FORMS[("PUT", "/v3/domains/{name}/dkim_authority")] = _form((), self=_YES_NO)
FORMS[("PUT", "/v3/domains/{name}/web_prefix")] = _form((), web_prefix=_LABEL)
FORMS[("POST", "/v1/dkim/keys")] = _form(
    ("signing_domain", "selector"),
    signing_domain={"type": "string", "format": "hostname"},
    selector=_LABEL,
    bits={"type": "string", "enum": ["1024", "2048"]},
)
QUERY[("GET", "/v1/dkim/keys")] = [
    {"name": "limit", "in": "query", "required": False, "schema": _LIMIT},
    {"name": "page", "in": "query", "required": False, "schema": _SKIP},
    {"name": "signing_domain", "in": "query", "required": False, "schema": _TEXT},
    {"name": "selector", "in": "query", "required": False, "schema": _TEXT},
]
_EVENT_TYPES: Schema = {
    "type": "array",
    "items": {
        "type": "string",
        "enum": [
            "accepted",
            "delivered",
            "opened",
            "clicked",
            "unsubscribed",
            "complained",
            "permanent_fail",
            "temporary_fail",
        ],
    },
    "minItems": 1,
}
for _method in ("POST", "PUT"):
    FORMS[(_method, "/v4/domains/{domain}/webhooks")] = _form(
        ("url", "event_types"), url={"type": "string", "format": "uri"}, event_types=_EVENT_TYPES
    )
QUERY[("DELETE", "/v4/domains/{domain}/webhooks")] = [
    {"name": "url", "in": "query", "required": True, "schema": {"type": "string"}},
]
for _method, _path in (("POST", "/v1/webhooks"), ("PUT", "/v1/webhooks/{webhook_id}")):
    FORMS[(_method, _path)] = _form(
        ("url", "event_types"),
        url={"type": "string", "format": "uri"},
        event_types=_EVENT_TYPES,
        description={"type": "string", "maxLength": 1000},
    )
_WEBHOOK_IDS: Schema = {
    "name": "webhook_ids",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "examples": ["4f1c2a9e0b7d3e5f6a8c9d0e,5a6b7c8d9e0f1a2b3c4d5e6f"]},
}
QUERY[("GET", "/v1/webhooks")] = [_WEBHOOK_IDS]
QUERY[("DELETE", "/v1/webhooks")] = [
    _WEBHOOK_IDS,
    {"name": "all", "in": "query", "required": False, "schema": {"enum": ["true", "false"]}},
]
QUERY[("DELETE", "/v1/dkim/keys")] = [
    {"name": "signing_domain", "in": "query", "required": True, "schema": _TEXT},
    {"name": "selector", "in": "query", "required": True, "schema": _TEXT},
]
FORMS[("POST", "/v3/ip_pools")] = _form(("name",), name=_TEXT, description=_TEXT, ip=_IPS)
FORMS[("PATCH", "/v3/ip_pools/{pool_id}")] = _form(
    (), name=_TEXT, description=_TEXT, add_ip=_IPS, remove_ip=_IPS
)
for _version in ("v3", "v4"):
    FORMS[("POST", f"/{_version}/domains/{{domain}}/ips")] = _form((), ip=_IP, pool_id=_TEXT)
_SCOPE: Schema = {"type": "string", "examples": ["send", "read manage"]}
_TOKEN: Schema = _form(("token",), token=_TEXT, client_id=_TEXT, client_secret=_TEXT)
FORMS |= {
    ("POST", "/oauth/token"): _form(
        ("grant_type",),
        grant_type={"type": "string", "enum": ["client_credentials"]},
        scope=_SCOPE,
        client_id=_TEXT,
        client_secret=_TEXT,
    ),
    ("POST", "/oauth/introspect"): _TOKEN,
    ("POST", "/oauth/revoke"): _TOKEN,
    ("POST", "/mailwright/v1/oauth/clients"): _form(
        ("scope",),
        scope=_SCOPE,
        domain={"type": "string", "format": "hostname"},
        environment={"type": "string", "enum": ["live", "test"]},
        description=_TEXT,
    ),
}
# Mailgun's custom monthly message limit: the Node SDK sends it in the query (a form works too).
_MONTHLY_LIMIT: Schema = {"type": "integer", "minimum": 1, "maximum": 10**12}
QUERY[("PUT", "/v5/accounts/limit/custom/monthly")] = [
    {"name": "limit", "in": "query", "required": True, "schema": _MONTHLY_LIMIT},
]
FORMS[("PUT", "/v5/accounts/limit/custom/monthly")] = _form((), limit=_MONTHLY_LIMIT)

# Bodies that are JSON objects (Mailgun's /v1/analytics endpoints), by operation.
_RFC2822: Schema = {"type": "string", "examples": ["Fri, 20 Nov 2026 00:00:00 +0000"]}
_BOOL: Schema = {"type": "boolean"}


def _condition(
    attributes: list[str], comparators: list[str], max_values: int | None = None
) -> Schema:
    """One filter condition of the analytics bodies: an attribute, a comparator, values."""
    values: Schema = {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "properties": {"label": _TEXT, "value": _TEXT},
            "required": ["value"],
        },
    }
    if max_values is not None:
        values["maxItems"] = max_values
    return {
        "type": "object",
        "properties": {
            "attribute": {"type": "string", "enum": attributes},
            "comparator": {"type": "string", "enum": comparators},
            "values": values,
        },
        "required": ["attribute", "comparator", "values"],
    }


def _all_of(condition: Schema) -> Schema:
    """A ``filter`` body: ``{"AND": [conditions]}``."""
    return {
        "type": "object",
        "properties": {"AND": {"type": "array", "items": condition}},
        "required": ["AND"],
    }


_FILTER: Schema = _all_of(_condition(["domain", "tag"], ["=", "!="]))


def _pagination(limit: int, sort: Schema) -> Schema:
    return {
        "type": "object",
        "properties": {
            "sort": sort,
            "skip": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
            "limit": {"type": "integer", "minimum": 1, "maximum": limit},
        },
    }


JSON_BODIES: dict[tuple[str, str], Schema] = {
    ("POST", "/v1/analytics/metrics"): _form(
        ("metrics",),
        start=_RFC2822,
        end=_RFC2822,
        resolution={"type": "string", "enum": ["hour", "day", "month"]},
        duration={"type": "string", "examples": ["7d", "24h", "1m"]},
        dimensions={"type": "array", "items": {"enum": list(DIMENSIONS)}, "uniqueItems": True},
        metrics={"type": "array", "items": {"enum": list(METRICS)}, "minItems": 1},
        filter=_FILTER,
        include_subaccounts=_BOOL,
        include_aggregates=_BOOL,
        pagination=_pagination(1500, {"type": "string", "examples": ["time:asc"]}),
    ),
    ("POST", "/v1/analytics/tags"): _form(
        (),
        tag=_TEXT,
        include_metrics=_BOOL,
        include_subaccounts=_BOOL,
        pagination=_pagination(20, {"type": "string", "examples": ["lastseen:desc", "tag"]}),
    ),
    ("PUT", "/v1/analytics/tags"): _form(("tag", "description"), tag=_TEXT, description=_TEXT),
    ("DELETE", "/v1/analytics/tags"): _form(("tag",), tag=_TEXT),
    ("POST", "/v1/analytics/usage/metrics"): _form(
        ("metrics",),
        start=_RFC2822,
        end=_RFC2822,
        resolution={"type": "string", "enum": ["hour", "day", "month"]},
        duration={"type": "string", "examples": ["7d", "24h", "1m"]},
        dimensions={
            "type": "array",
            "items": {"enum": list(USAGE.dimensions)},
            "uniqueItems": True,
        },
        metrics={"type": "array", "items": {"enum": list(USAGE.metrics)}, "minItems": 1},
        include_subaccounts=_BOOL,
        include_aggregates=_BOOL,
        pagination=_pagination(1500, {"type": "string", "examples": ["time:asc"]}),
    ),
    ("POST", "/v2/bounce-classification/metrics"): _form(
        (),
        start=_RFC2822,
        end=_RFC2822,
        resolution={"type": "string", "enum": list(bounces.RESOLUTIONS)},
        duration={"type": "string", "examples": ["24h0m0s", "90m", "7d"]},
        dimensions={
            "type": "array",
            "items": {"enum": list(bounces.DIMENSIONS)},
            "uniqueItems": True,
        },
        metrics={"type": "array", "items": {"enum": list(bounces.METRICS)}},
        filter=_all_of(
            _condition(list(bounces.FILTERS), list(bounces.COMPARATORS), bounces.MAX_VALUES)
        ),
        include_subaccounts=_BOOL,
        pagination=_pagination(
            bounces.MAX_LIMIT, {"type": "string", "examples": ["critical_bounce_count:desc"]}
        ),
    ),
}
_LOGS_CONDITION: Schema = _condition(
    ["domain", "event", "recipient", "message-id", "tag", "severity", "subject"],
    ["=", "!=", "contains", "not contains"],
    100,
)
JSON_BODIES[("POST", "/v1/analytics/logs")] = _form(
    (),
    start=_RFC2822,
    end=_RFC2822,
    duration={"type": "string", "examples": ["2h", "7d"]},
    events={"type": "array", "items": {"type": "string", "examples": ["delivered", "failed"]}},
    metric_events={"type": "array", "items": {"type": "string", "examples": ["delivered_smtp"]}},
    filter={
        "type": "object",
        "properties": {"AND": {"type": "array", "maxItems": 20, "items": _LOGS_CONDITION}},
        "required": ["AND"],
    },
    include_subaccounts=_BOOL,
    include_totals=_BOOL,
    pagination={
        "type": "object",
        "properties": {
            "sort": {"type": "string", "enum": ["timestamp:desc", "timestamp:asc"]},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100},
            "token": {"type": "string"},
        },
    },
)
