"""Composition root: Settings -> Store -> services -> ASGI app and workers.

The only module that imports every package. ``Runtime`` owns the lifetime of what it builds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.applications import Starlette

from mailwright import web
from mailwright.api import Services, create_app
from mailwright.auth import (
    Authority,
    CredentialCache,
    KeyCache,
    OidcClient,
    OidcConfig,
    RequestLimit,
    RequestLimiter,
    RequestLimits,
    Users,
    ensure_primary_key,
)
from mailwright.config import Settings
from mailwright.delivery import (
    AdaptivePolicy,
    CaptureTransport,
    DeliveryWorker,
    DestinationHealth,
    MtaSts,
    MxCache,
    ProviderThrottle,
    RcptProber,
    Relay,
    SharedThrottle,
    SiteThrottle,
    SmtpConfig,
    SmtpTransport,
    SourceChooser,
    Transport,
    WorkerConfig,
    is_queue_readable,
    queue_health,
    settled_last_day,
)
from mailwright.domains import (
    BlocklistConfig,
    BlocklistMonitor,
    DkimRotator,
    DnsPlan,
    DomainCache,
    ensure_sandbox,
)
from mailwright.egress import EgressDirectory, Source
from mailwright.errors import ConfigError, ServiceError
from mailwright.events import WebhookCache
from mailwright.inbound import (
    Inbound,
    InboundConfig,
    InboundWorker,
    Listener,
    MxHandler,
    ProcessorConfig,
    RecipientCheck,
    RouteCache,
    SubmissionConfig,
    SubmissionHandler,
    received_backlog,
    server_tls_context,
    start_smtp,
)
from mailwright.lists import ListDirectory
from mailwright.logs import get_logger
from mailwright.messages import MAX_MESSAGE_BYTES, MonthlyLimit, TrackingKey, verp_key
from mailwright.resolver import Resolver
from mailwright.store import Backlog, Keyring, Store, dkim_keys, inbound, limits, queries, sealed
from mailwright.tracking import Tracker
from mailwright.uptime import (
    EndpointRate,
    Probe,
    RoleUptime,
    UptimeConfig,
    UptimeMonitor,
    endpoint_rates,
    role_uptime,
    smtp_greets,
)
from mailwright.validation import BulkJobs, BulkWorker, Validator
from mailwright.webhooks import HttpPoster, SenderConfig, WebhookWorker, outbox_backlog

log = get_logger(__name__)

PURGE_EVERY_SECONDS = 300.0
# How often the worker starts due DKIM rotations and looks for their new keys' records.
DKIM_ROTATION_EVERY_SECONDS = 300.0
SUBMISSION_AUTH_TRIES = 5


@dataclass(frozen=True, slots=True)
class FirstStart:
    """What first start created and must be told once."""

    api_key: str | None
    sandbox: str | None


def build_keyring(settings: Settings) -> Keyring:
    """``MAILWRIGHT_SECRET_KEYS``, else the key generated once into the data dir."""
    if settings.secret_keys:
        return Keyring.parse(str(settings.secret_keys))
    return Keyring.from_file(settings.secret_key_file)


def build_store(settings: Settings) -> Store:
    return Store.from_url(settings.effective_database_url, build_keyring(settings))


def build_services(settings: Settings, store: Store) -> Services:
    public = settings.effective_public_url
    tracking_key = TrackingKey(store)
    resolver = Resolver(settings.dns_server)
    return Services(
        store=store,
        keys=KeyCache(store),
        users=Users(store),
        credentials=CredentialCache(store, time.monotonic),
        domains=DomainCache(store, time.monotonic),
        resolver=resolver,
        dns_plan=DnsPlan.for_host(
            urlsplit(public).hostname or "localhost",
            egress=tuple((str(s.address), s.helo) for s in settings.egress_sources),
            is_receiving=settings.smtp_addr is not None,
        ),
        public_url=public,
        retention=settings.retention_hours * 3600,
        webhooks=WebhookCache(store, time.monotonic),
        webhook_poster=HttpPoster(),
        allow_private_urls=settings.allow_private_urls,
        trusted_proxies=settings.trusted_proxies,
        tracking_key=tracking_key,
        tracker=Tracker(store, tracking_key),
        lists=ListDirectory(store, time.monotonic),
        validator=build_validator(settings, store, resolver),
        bulk=BulkJobs(store, settings.data_dir / "validation", time.time),
        previews=BulkJobs(
            store, settings.data_dir / "validation" / "preview", time.time, kind="preview"
        ),
        list_validations=BulkJobs(
            store, settings.data_dir / "validation" / "list", time.time, kind="list"
        ),
        oauth=Authority(store, issuer=public, lifetime=settings.oauth_token_seconds),
        limits=RequestLimits(
            key=build_limiter(store, settings.rate_limit_key),
            domain=build_limiter(store, settings.rate_limit_domain),
        ),
        egress=EgressDirectory(
            store,
            tuple(Source(str(s.address), s.helo) for s in settings.egress_sources),
            time.time,
        ),
        warmup_schedule=settings.warmup_schedule,
        oidc=build_oidc(settings, store),
        oidc_user_claim=settings.oidc_user_claim,
        oidc_create_users=settings.oidc_create_users,
        monthly_limit=MonthlyLimit(store),
    )


def build_oidc(settings: Settings, store: Store) -> OidcClient | None:
    """The dashboard's OpenID Connect client, when MAILWRIGHT_OIDC_ISSUER is set."""
    if not settings.oidc_issuer:
        return None
    config = OidcConfig(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=str(settings.oidc_client_secret or ""),
        scopes=settings.oidc_scopes,
        redirect_uri=settings.effective_public_url + "/login/oidc/callback",
    )
    return OidcClient(config, store)


def build_limiter(
    store: Store, limit: RequestLimit | None, clock: Callable[[], float] = time.time
) -> RequestLimiter | None:
    """Shared through PostgreSQL (several API processes); in this process on SQLite."""
    if limit is None:
        return None
    return RequestLimiter(store if store.is_postgres else None, limit, clock)


def build_validator(settings: Settings, store: Store, resolver: Resolver) -> Validator:
    prober = None
    if settings.validation_smtp_probe:
        prober = RcptProber(resolver, helo_name=helo_name(settings), port=settings.mx_port)
    return Validator(store, resolver, time.monotonic, prober=prober)


async def first_start(settings: Settings, store: Store) -> FirstStart:
    """Seal any secret stored before sealing existed (and stop, naming it, when one is sealed
    under a key this process lacks); create the primary key and the sandbox domain when they
    do not exist yet."""
    await sealed.sweep(store, rewrap=False)
    configured = str(settings.api_key) if settings.api_key else None
    now = time.time()
    key = await ensure_primary_key(store, configured, now)
    sandbox = await ensure_sandbox(store, now=now)
    return FirstStart(api_key=key, sandbox=None if sandbox is None else sandbox.name)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusReport:
    """Queue and health figures for ``mailwright status``."""

    database: str  # the URL, password hidden
    now: float
    deliveries: Backlog
    last_day: dict[str, int]  # delivered, failed
    webhooks: Backlog
    inbound: Backlog
    destinations: list[DestinationHealth]
    uptime: list[RoleUptime]  # the last 24 h per node and role
    failing_endpoints: list[EndpointRate]  # the last 24 h, endpoints with 5xx answers


async def status_report(store: Store, now: float, top: int) -> StatusReport:
    """Raises ``ServiceError`` when the database does not answer or has no queue tables."""
    database = store.engine.url.render_as_string(hide_password=True)
    if not await store.ping():
        raise ServiceError(f"database unreachable: {database}")
    if not await is_queue_readable(store):
        raise ServiceError(
            f"database {database} answers but its queue cannot be read; run 'mailwright migrate'"
        )
    queue = await queue_health(store, now, limit=top)
    try:
        uptime = await role_uptime(store, now)
        endpoints = [e for e in await endpoint_rates(store, now) if e.errors]
    except SQLAlchemyError:
        raise ServiceError(
            f"database {database} has no uptime tables; run 'mailwright migrate'"
        ) from None
    return StatusReport(
        database=database,
        now=now,
        deliveries=queue.deliveries,
        last_day=await settled_last_day(store, now),
        webhooks=await outbox_backlog(store),
        inbound=await received_backlog(store),
        destinations=queue.destinations,
        uptime=uptime,
        failing_endpoints=endpoints,
    )


class _Stoppable(Protocol):
    async def stop(self) -> None: ...


@dataclass
class Runtime:
    """The running server: the HTTP app plus the background workers of the chosen roles."""

    settings: Settings
    store: Store
    services: Services
    roles: frozenset[str]
    app: Starlette = field(init=False)
    worker: DeliveryWorker | None = None
    webhook_worker: WebhookWorker | None = None
    bulk_worker: BulkWorker | None = None
    preview_worker: BulkWorker | None = None
    list_validation_worker: BulkWorker | None = None
    ssl_context: ssl.SSLContext | None = None  # trust store for MX/relay TLS (tests inject one)
    submission: Listener | None = None
    mx: Listener | None = None
    inbound_worker: InboundWorker | None = None
    blocklist_monitor: BlocklistMonitor | None = None
    dkim_rotator: DkimRotator | None = None
    uptime_monitor: UptimeMonitor | None = None
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = create_app(self.services, pages=web.ROUTES)

    async def start(self) -> None:
        if "api" in self.roles:
            await self.services.keys.start()
            await self.services.oauth.start()
        if "worker" in self.roles:
            self.worker = DeliveryWorker(
                self.store,
                worker_config(self.settings, self.services.retention),
                build_transport(
                    self.settings,
                    self.services.resolver,
                    self.ssl_context,
                    await verp_key(self.store, now=time.time()),
                    self.store,
                    self.services.egress,
                ),
                self.services.domains,
                tracking_key=self.services.tracking_key,
            )
            self.webhook_worker = WebhookWorker(
                self.store,
                webhook_sender_config(self.settings),
                HttpPoster(),
                self.services.resolver,
            )
            self.services.on_accepted = self.kick
            worker = self.worker
            self.services.attempt_counts = lambda: worker.attempts
            self.worker.start()
            self.webhook_worker.start()
            self.bulk_worker = BulkWorker(self.services.bulk, self.services.validator)
            self.bulk_worker.start()
            self.preview_worker = BulkWorker(self.services.previews, self.services.validator)
            self.preview_worker.start()
            self.list_validation_worker = BulkWorker(
                self.services.list_validations, self.services.validator
            )
            self.list_validation_worker.start()
            self.inbound_worker = build_inbound_worker(self.settings, self.services, self.kick)
            self.inbound_worker.start()
            self._tasks.append(asyncio.create_task(self._purge_loop()))
            self.blocklist_monitor = build_blocklist_monitor(self.settings, self.services)
            if self.blocklist_monitor is not None:
                self.blocklist_monitor.start()
            self.dkim_rotator = build_dkim_rotator(self.services)
            self.dkim_rotator.start()
        if "smtp" in self.roles and self.settings.submission_addr is not None:
            self.submission = await start_submission(self.settings, self.services)
        if "smtp" in self.roles and self.settings.smtp_addr is not None:
            self.mx = await start_mx(self.settings, self.services)
        self.uptime_monitor = UptimeMonitor(
            self.store,
            UptimeConfig(
                node=self.settings.effective_node_name,
                interval=self.settings.uptime_interval,
                retention=self.settings.uptime_retention_days * 86400,
            ),
            self.uptime_probes(),
            self.services.endpoint_counts,
        )
        self.uptime_monitor.start()

    def uptime_probes(self) -> dict[str, list[tuple[str, Probe]]]:
        """What each running role's health check looks at: the database and the queue (as
        ``/readyz``), plus the delivery worker's loop, plus each SMTP listener's greeting."""
        store = self.store

        async def database() -> str | None:
            return None if await store.ping() else "unavailable"

        async def queue() -> str | None:
            return None if await is_queue_readable(store) else "cannot be read"

        common: list[tuple[str, Probe]] = [("database", database), ("queue", queue)]
        probes = {role: list(common) for role in sorted(self.roles)}
        worker = self.worker
        if "worker" in probes and worker is not None:

            async def delivering() -> str | None:
                return None if worker.is_running else "stopped"

            probes["worker"].append(("delivery worker", delivering))
        if "smtp" in probes:
            for listener in (self.mx, self.submission):
                if listener is not None:
                    probes["smtp"].append(_greeting_probe(listener))
        return probes

    def kick(self) -> None:
        """New work was committed (a message accepted): wake the workers now."""
        if self.worker is not None:
            self.worker.kick()
        if self.webhook_worker is not None:
            self.webhook_worker.kick()
        if self.bulk_worker is not None:
            self.bulk_worker.kick()
        if self.preview_worker is not None:
            self.preview_worker.kick()
        if self.list_validation_worker is not None:
            self.list_validation_worker.kick()
        if self.inbound_worker is not None:
            self.inbound_worker.kick()

    async def stop(self) -> None:
        """Listeners first (no new mail), then the inbound processor, then the other workers,
        each finishing what it has begun and releasing its claims. One part failing to stop
        does not keep the others from stopping (and releasing theirs)."""
        # The uptime monitor first: a round while the rest stops would record a failure.
        first: list[_Stoppable | None] = [
            self.uptime_monitor,
            self.submission,
            self.mx,
            self.inbound_worker,
        ]
        for part in first:
            await _stop(part)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        workers: list[_Stoppable | None] = [
            self.blocklist_monitor,
            self.dkim_rotator,
            self.worker,
            self.webhook_worker,
            self.bulk_worker,
            self.preview_worker,
            self.list_validation_worker,
        ]
        for part in workers:
            await _stop(part)
        await self.services.webhook_poster.close()
        await self.services.keys.close()
        await self.store.close()

    async def _purge_loop(self) -> None:
        while True:
            now = time.time()

            async def purge(conn: AsyncConnection, now: float = now) -> int:
                removed = await queries.purge_expired(conn, now)
                await queries.purge_events(conn, now - self.services.retention)
                await queries.purge_outbox(conn, now - self.services.retention)
                await inbound.purge_received(conn, now - self.services.retention)
                # Windows are at most a day long: two days back nothing is counted any more.
                await limits.purge_rate_windows(conn, now - 2 * 86400)
                await limits.purge_usage(conn, now - 2 * 86400)
                # Rotated-out DKIM keys past their grace period: retired, private key erased.
                await dkim_keys.retire_expired(conn, now)
                return removed

            try:
                removed = await self.store.write(purge)
                if removed:
                    log.info("retention_purged", messages=removed)
            except Exception:
                log.exception("retention_purge_failed")
            await asyncio.sleep(PURGE_EVERY_SECONDS)


def _greeting_probe(listener: Listener) -> tuple[str, Probe]:
    """The listener greets a client on its address (taken now: a stopped one has none)."""
    host, port = listener.address

    async def greets() -> str | None:
        return await smtp_greets(host, port)

    return f"{listener.name} {host}:{port}", greets


async def _stop(part: _Stoppable | None) -> None:
    if part is None:
        return
    try:
        await part.stop()
    except Exception:
        log.exception("stop_failed", part=type(part).__name__)


def build_blocklist_monitor(settings: Settings, services: Services) -> BlocklistMonitor | None:
    """Off in capture mode (nothing leaves the machine) and when no zone is configured."""
    config = BlocklistConfig(
        ip_zones=settings.dnsbl_zones,
        domain_zones=settings.dnsbl_domain_zones,
        egress=tuple(str(s.address) for s in settings.egress_sources),
        interval=settings.dnsbl_interval,
    )
    if settings.delivery == "capture" or not config.is_enabled:
        return None
    return BlocklistMonitor(services.store, services.resolver, config, time.time)


def build_dkim_rotator(services: Services) -> DkimRotator:
    """Looks the resolver and the clock up on ``services`` each round, so a test that points
    them elsewhere drives it too; activated keys sign at once (the domain is forgotten)."""
    return DkimRotator(
        services.store,
        lambda: services.resolver,
        lambda: services.clock(),
        every=DKIM_ROTATION_EVERY_SECONDS,
        on_activated=services.domains.forget,
    )


def build_runtime(
    settings: Settings,
    roles: frozenset[str],
    store: Store | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Runtime:
    store = store or build_store(settings)
    return Runtime(
        settings=settings,
        store=store,
        services=build_services(settings, store),
        roles=roles,
        ssl_context=ssl_context,
    )


def submission_handler(
    settings: Settings, services: Services, *, is_loopback_trusted: bool = True
) -> SubmissionHandler:
    return SubmissionHandler(
        services.store,
        SubmissionConfig(
            public_url=services.public_url,
            retention=services.retention,
            is_loopback_trusted=is_loopback_trusted,
            trusted_networks=settings.submission_trusted_networks,
        ),
        credentials=services.credentials,
        domains=services.domains,
        webhooks=services.webhooks,
        lists=services.lists,
        monthly_limit=services.monthly_limit,
        # Looked up per message: serve points it at the worker processes after start().
        on_accepted=lambda: services.on_accepted(),
        clock=services.clock,
    )


async def start_submission(
    settings: Settings, services: Services, handler: SubmissionHandler | None = None
) -> Listener:
    """The SMTP submission listener on ``MAILWRIGHT_SUBMISSION_ADDR``."""
    assert settings.submission_addr is not None
    host, port = settings.submission_addr
    name = helo_name(settings)
    tls = server_tls_context(settings.tls_cert_file, settings.tls_key_file, settings.data_dir, name)
    return await start_smtp(
        handler or submission_handler(settings, services),
        host,
        port,
        tls_context=tls,
        ident="mailwright ESMTP submission",
        hostname=name,
        name="submission",
        data_size_limit=MAX_MESSAGE_BYTES,
        enable_SMTPUTF8=True,
        # Five AUTH commands per connection, then 421 and hang up: guessing passwords costs a
        # new connection every five tries. Other commands are not limited ("*").
        command_call_limit={"AUTH": SUBMISSION_AUTH_TRIES, "*": 2**31},
        # AUTH and its TLS requirement are the handler's policy (loopback may skip STARTTLS).
        auth_required=False,
        auth_require_tls=False,
    )


def helo_name(settings: Settings) -> str:
    """The name we greet with: the public host name, or this machine's name for an IP."""
    host = urlsplit(settings.effective_public_url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host or socket.gethostname()
    return socket.gethostname()


def worker_config(settings: Settings, retention: float) -> WorkerConfig:
    config = WorkerConfig(
        retention=retention,
        schedule=settings.retry_schedule,
        sign_dkim=settings.delivery != "capture",
        verify_tls=settings.tls_verify,
        public_url=settings.effective_public_url,
    )
    if settings.claim_lease is not None:
        config = dataclasses.replace(config, lease=settings.claim_lease)
    return config


def webhook_sender_config(settings: Settings) -> SenderConfig:
    config = SenderConfig(
        schedule=settings.webhook_retry_schedule,
        allow_private=settings.allow_private_urls,
    )
    if settings.claim_lease is not None:
        config = dataclasses.replace(config, lease=settings.claim_lease)
    return config


def build_transport(
    settings: Settings,
    resolver: Resolver,
    ssl_context: ssl.SSLContext | None,
    verp_key: bytes = b"",
    store: Store | None = None,
    egress: EgressDirectory | None = None,
) -> Transport:
    if settings.delivery == "capture":
        return CaptureTransport()
    relay = None
    if settings.delivery == "relay":
        if settings.relay_url is None:
            raise ConfigError("MAILWRIGHT_DELIVERY=relay needs MAILWRIGHT_RELAY_URL")
        relay = Relay.from_url(str(settings.relay_url))
    config = SmtpConfig(
        helo_name=helo_name(settings),
        mx_port=settings.mx_port,
        concurrency=settings.destination_concurrency,
        rate=settings.destination_rate,
        ssl_context=ssl_context,
        relay=relay,
        verp_key=verp_key,
    )
    mx = MxCache(resolver, time.monotonic) if relay is None else None
    mta_sts = MtaSts(resolver, time.time, ssl_context=ssl_context) if relay is None else None
    sources = None
    if egress is not None and egress.sources:
        sources = SourceChooser(egress, settings.warmup_schedule, time.time)
    return SmtpTransport(
        config,
        mx,
        mta_sts,
        resolver,
        site_throttle(settings, store),
        sources=sources,
        adaptive=provider_throttle(settings),
    )


def provider_throttle(settings: Settings) -> ProviderThrottle | None:
    """Adaptive rates per destination provider, up to the configured destination rate."""
    if not settings.adaptive_throttle:
        return None
    ceiling = settings.adaptive_ceiling.per_second
    if settings.destination_rate is not None:
        ceiling = min(ceiling, settings.destination_rate.per_second)
    floor = min(settings.adaptive_floor.per_second, ceiling)
    return ProviderThrottle(AdaptivePolicy(ceiling=ceiling, floor=floor), time.monotonic)


def site_throttle(settings: Settings, store: Store | None) -> SiteThrottle | None:
    """On PostgreSQL the destination rate holds across every worker process sharing the
    database; on SQLite (one machine) each process keeps its own buckets."""
    rate = settings.destination_rate
    if rate is None or store is None or not store.is_postgres:
        return None  # SmtpTransport then throttles in this process
    return SharedThrottle(store, rate, time.time)


def build_inbound_worker(
    settings: Settings, services: Services, on_accepted: Callable[[], None]
) -> InboundWorker:
    """The processor of received mail: reports, authentication checks and routes."""
    name = helo_name(settings)
    steps = Inbound(
        services.store,
        InboundConfig(
            public_url=services.public_url,
            retention=services.retention,
            authserv_id=name,
        ),
        services.resolver,
        RouteCache(services.store, time.monotonic),
        verp_key=lambda: verp_key(services.store, now=time.time()),
        on_accepted=on_accepted,
        monthly_limit=services.monthly_limit,
    )
    return InboundWorker(
        services.store,
        ProcessorConfig(),
        steps.handle,
    )


async def start_mx(settings: Settings, services: Services) -> Listener:
    """The inbound (MX) listener on ``MAILWRIGHT_SMTP_ADDR``: mail for our domains only."""
    assert settings.smtp_addr is not None
    host, port = settings.smtp_addr
    name = helo_name(settings)
    tls = server_tls_context(settings.tls_cert_file, settings.tls_key_file, settings.data_dir, name)
    handler = MxHandler(
        services.store,
        services.domains,
        accepts=RecipientCheck(
            RouteCache(services.store, time.monotonic),
            lambda: verp_key(services.store, now=time.time()),
        ).accepts,
        hostname=name,
        # Looked up per message: serve points it at the worker processes after start().
        on_received=lambda: services.on_accepted(),
    )
    return await start_smtp(
        handler,
        host,
        port,
        tls_context=tls,
        ident="mailwright ESMTP",
        hostname=name,
        name="mx",
        data_size_limit=MAX_MESSAGE_BYTES,
        enable_SMTPUTF8=True,
        auth_required=False,
        auth_require_tls=False,
    )
