"""What every route needs: the services built by ``app.py``, request parsing and auth."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse

from mailwright.api.nul import refuse_nul, refuse_nul_json
from mailwright.auth import (
    Authority,
    CredentialCache,
    KeyCache,
    Network,
    OidcClient,
    Principal,
    RequestLimits,
    Users,
    client_address,
)
from mailwright.delivery.warmup import DEFAULT_SCHEDULE, WarmupSchedule
from mailwright.domains import DnsPlan, DomainCache
from mailwright.egress import EgressDirectory
from mailwright.errors import InvalidInput, PayloadTooLarge
from mailwright.events import WebhookCache
from mailwright.lists import ListDirectory
from mailwright.messages import MAX_MESSAGE_BYTES, MonthlyLimit, TrackingKey, Upload
from mailwright.resolver import Resolver
from mailwright.store import Store
from mailwright.tracking import Tracker
from mailwright.uptime import EndpointCounts
from mailwright.validation import BulkJobs, Validator
from mailwright.webhooks import Poster

MAX_FIELDS = 5000


@dataclass
class Services:
    store: Store
    keys: KeyCache
    users: Users  # dashboard sign-ins
    credentials: CredentialCache  # SMTP logins checked by submission
    domains: DomainCache
    resolver: Resolver
    dns_plan: DnsPlan
    public_url: str
    retention: float  # seconds
    webhooks: WebhookCache  # each domain's webhooks, for the accept path
    webhook_poster: Poster  # sends test events
    tracking_key: TrackingKey
    tracker: Tracker
    lists: ListDirectory
    validator: Validator
    bulk: BulkJobs
    previews: BulkJobs
    list_validations: BulkJobs  # kind list: /v3/lists/{address}/validate
    oauth: Authority  # OAuth clients and Bearer access tokens
    allow_private_urls: bool = False  # MAILWRIGHT_ALLOW_PRIVATE_URLS
    limits: RequestLimits = field(default_factory=RequestLimits)  # MAILWRIGHT_RATE_LIMIT_*
    trusted_proxies: tuple[Network, ...] = ()  # MAILWRIGHT_TRUSTED_PROXIES: X-Forwarded-For
    egress: EgressDirectory | None = None  # MAILWRIGHT_EGRESS_SOURCES and the IP pools
    warmup_schedule: WarmupSchedule = DEFAULT_SCHEDULE  # MAILWRIGHT_WARMUP_SCHEDULE
    oidc: OidcClient | None = None  # dashboard single sign-on (MAILWRIGHT_OIDC_*), when set
    oidc_user_claim: str = "email"  # MAILWRIGHT_OIDC_USER_CLAIM
    oidc_create_users: bool = False  # MAILWRIGHT_OIDC_CREATE_USERS
    # The account's custom monthly message limit, for the accept path; None: not enforced.
    monthly_limit: MonthlyLimit | None = None
    on_accepted: Callable[[], None] = lambda: None
    # This process's delivery attempts by (outcome, reply class), for /metrics.
    attempt_counts: Callable[[], Mapping[tuple[str, str], int]] = dict
    clock: Callable[[], float] = field(default=time.time)
    # HTTP answers per endpoint since the uptime loop last stored them.
    endpoint_counts: EndpointCounts = field(default_factory=EndpointCounts)


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def client_of(request: Request) -> str | None:
    """The client's address: the connection's, or ``X-Forwarded-For`` read back through
    ``MAILWRIGHT_TRUSTED_PROXIES`` (uvicorn's own proxy-header handling is off)."""
    peer = request.scope.get("client")
    host = peer[0] if peer else None
    trusted = services(request).trusted_proxies
    if not trusted:  # the default: the connection's own peer, nothing to parse
        return host
    return client_address(host, request.headers.get("x-forwarded-for"), trusted)


async def principal(request: Request) -> Principal:
    """The caller's key (refused from addresses outside its allowed ranges) or OAuth access
    token (``Authorization: Bearer``), once the request is counted against its key and domain
    limits. Remembered for the rest of the request."""
    # request.state is scope["state"]; read as a dict, a missing entry costs no exception.
    state: dict[str, Any] = request.scope.setdefault("state", {})
    known: Principal | None = state.get("principal")
    if known is not None:
        return known
    found = services(request)
    header = request.headers.get("authorization")
    if header is not None and header[:7].lower() == "bearer ":
        who = await found.oauth.principal(header[7:].strip())
    else:
        who = await found.keys.authenticate(header, client_of(request))
    if state.get("rate_limit") is None:
        # The domain is the one in the path (/v3/{domain}/..., /v3/domains/{name}/...),
        # else the one a domain key belongs to.
        domain = request.path_params.get("domain") or request.path_params.get("name")
        domain = unquote(str(domain)).lower() if domain else who.domain_name
        state["rate_limit"] = await found.limits.check(who.key_id, domain) or False
    state["principal"] = who
    return who


def path_param(request: Request, name: str) -> str:
    return unquote(str(request.path_params[name]))


@dataclass(frozen=True, slots=True)
class Form:
    fields: list[tuple[str, str]]
    uploads: list[Upload]

    def get(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.fields:
            if key == name:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.fields if key == name]

    def as_dict(self) -> dict[str, str]:
        return dict(self.fields)


async def read_form(request: Request) -> Form:
    """Form fields in order (repeats kept) and uploaded files, from multipart or urlencoded."""
    # Bodies over the limit never get here: see ``api/bodysize.py``.
    form = await _read_form(request)
    for key, value in form.fields:
        refuse_nul(key, value)
    for upload in form.uploads:
        refuse_nul(upload.field, upload.filename + upload.content_type)
    return form


async def _read_form(request: Request) -> Form:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        return await _json_form(request)
    if content_type.startswith("multipart/form-data") and "boundary=" not in content_type:
        # The Python SDK's own examples send a urlencoded body labelled multipart without a
        # boundary (requests keeps the caller's header); read it as what it is.
        return _urlencoded_form(await request.body())
    try:
        form = await request.form(
            max_files=MAX_FIELDS, max_fields=MAX_FIELDS, max_part_size=MAX_MESSAGE_BYTES
        )
    except PayloadTooLarge:
        raise
    except Exception as exc:
        raise InvalidInput(f"could not parse the request body: {exc}", field="body") from None
    fields: list[tuple[str, str]] = []
    uploads: list[Upload] = []
    try:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                uploads.append(await _upload(key, value))
            else:
                fields.append((key, value))
    finally:
        await form.close()
    return Form(fields=fields, uploads=uploads)


def _urlencoded_form(body: bytes) -> Form:
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise InvalidInput("request body is not valid UTF-8", field="body") from None
    return Form(fields=pairs, uploads=[])


async def _upload(key: str, value: UploadFile) -> Upload:
    return Upload(
        field=key,
        filename=value.filename or key,
        content_type=value.content_type or "application/octet-stream",
        data=await value.read(),
    )


async def _json_form(request: Request) -> Form:
    try:
        body: Any = await request.json()
    except ValueError:
        raise InvalidInput("request body is not valid JSON", field="body") from None
    if not isinstance(body, dict):
        raise InvalidInput("request body must be a JSON object", field="body")
    fields: list[tuple[str, str]] = []
    for key, value in body.items():
        values = value if isinstance(value, list) else [value]
        fields.extend((str(key), v if isinstance(v, str) else _json_scalar(v)) for v in values)
    return Form(fields=fields, uploads=[])


def _json_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _FastJSONResponse(JSONResponse):
    """Starlette's JSONResponse rendered by orjson (the same compact text, a fraction of the
    time: every send answers through here); the stdlib renders what orjson refuses."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:  # orjson.JSONEncodeError: an integer over 64 bits, non-str keys
            return super().render(content)


def json_response(body: Any, status: int = 200) -> JSONResponse:
    return _FastJSONResponse(body, status_code=status)


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object whatever its Content-Type (the Node SDK labels some JSON
    bodies form-urlencoded); an empty body is ``{}``. 400 naming ``body`` otherwise."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput("request body is not valid JSON", field="body") from None
    if not isinstance(body, dict):
        raise InvalidInput("request body must be a JSON object", field="body")
    try:
        refuse_nul_json(body)
    except RecursionError:
        raise InvalidInput("request body is nested too deeply", field="body") from None
    return body


def int_param(request: Request, name: str, default: int, *, low: int = 0, high: int = 1000) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(f"'{name}' must be an integer between {low} and {high}", field=name)
    return int(raw)
