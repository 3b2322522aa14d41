"""Transports: the one-method interface through which a job is delivered (httpx's transport
habit). ``CaptureTransport`` writes into the built-in inbox; ``SmtpTransport`` speaks SMTP to
the recipient domain's MX hosts, or to one relay, with per-site concurrency limits and
connection reuse.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol
from urllib.parse import unquote, urlsplit

from mailwright.delivery.adaptive import provider_of
from mailwright.delivery.egress_choice import SourceChooser
from mailwright.delivery.jobs import Job, Result
from mailwright.delivery.mta_sts import MtaSts
from mailwright.delivery.mx import Destination, MxCache, NoDestination
from mailwright.delivery.site_throttle import LocalThrottle, ProviderThrottle, SiteThrottle
from mailwright.delivery.smtp_client import (
    AttemptResult,
    Reply,
    SmtpSession,
    Timeouts,
    TlsPolicy,
)
from mailwright.delivery.throttle import ThrottleSpec
from mailwright.egress import Source
from mailwright.messages import return_path
from mailwright.resolver import DnsLookupFailed, Resolver
from mailwright.store import DeliveryRow


class TransportStopped(Exception):
    """The transport is shutting down: this job's transaction was not begun."""


class Transport(Protocol):
    async def send(self, job: Job, data: bytes, tls: TlsPolicy) -> list[Result]: ...

    def stop_starting(self) -> None:
        """Begin no new transaction: a ``send`` still waiting for its turn raises
        ``TransportStopped``; transactions already under way finish."""

    async def close(self) -> None: ...


class CaptureTransport:
    """``capture`` mode: every message is 'delivered' into the built-in inbox."""

    async def send(self, job: Job, data: bytes, tls: TlsPolicy) -> list[Result]:
        return [
            Result(
                delivery=d,
                code=250,
                enhanced="2.0.0",
                text="OK",
                mx_host="capture",
                utf8=True,
                captured=data,
            )
            for d in job.deliveries
        ]

    def stop_starting(self) -> None:
        return None

    async def close(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Relay:
    """``MAILWRIGHT_RELAY_URL``: one smarthost for everything."""

    host: str
    port: int
    auth: tuple[str, str] | None
    implicit_tls: bool

    @classmethod
    def from_url(cls, url: str) -> Relay:
        parts = urlsplit(url)
        implicit = parts.scheme == "smtps"
        auth = None
        if parts.username:
            auth = (unquote(parts.username), unquote(parts.password or ""))
        return cls(
            host=parts.hostname or "",
            port=parts.port or (465 if implicit else 587),
            auth=auth,
            implicit_tls=implicit,
        )


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    helo_name: str
    mx_port: int = 25
    concurrency: int = 10  # connections per site (destination MX set)
    timeouts: Timeouts = field(default_factory=Timeouts)
    ssl_context: ssl.SSLContext | None = None
    relay: Relay | None = None
    rate: ThrottleSpec | None = None  # messages per destination site; None = unlimited
    verp_key: bytes = b""  # signs the VERP return path; empty sends from the message's sender


@dataclass(frozen=True, slots=True)
class _Route:
    site: str
    hosts: tuple[str, ...]
    port: int
    tls: TlsPolicy
    auth: tuple[str, str] | None = None

    @property
    def provider(self) -> str:
        return _provider(self.hosts, self.site)


class SmtpTransport:
    def __init__(
        self,
        config: SmtpConfig,
        mx: MxCache | None,
        mta_sts: MtaSts | None,
        resolver: Resolver | None = None,
        throttle: SiteThrottle | None = None,
        sources: SourceChooser | None = None,
        adaptive: ProviderThrottle | None = None,
    ) -> None:
        """``throttle`` enforces ``config.rate``; by default in this process alone. ``sources``
        chooses each job's egress source (None: the system's choice of address, and
        ``config.helo_name``); ``adaptive`` slows providers that defer us for our rate."""
        self._config = config
        self._resolver = resolver
        self._mx = mx
        self._mta_sts = mta_sts
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._idle: dict[tuple[str, int, str], list[SmtpSession]] = {}
        self._sources = sources
        self._adaptive = adaptive
        if throttle is None and config.rate is not None:
            throttle = LocalThrottle(config.rate, time.monotonic)
        self._throttle = throttle
        self._stopping = False

    def stop_starting(self) -> None:
        self._stopping = True

    async def send(self, job: Job, data: bytes, tls: TlsPolicy) -> list[Result]:
        route = await self._route(job, tls)
        if isinstance(route, NoDestination):
            code = 550 if route.permanent else 451
            return _all(job, code, route.enhanced, route.text, mx_host="")
        source = None
        if self._sources is not None:
            source = await self._sources.choose(job)
            if source is None:
                until = await self._sources.next_room_at()
                return [
                    replace(r, held_until=until)
                    for r in _all(job, 451, "4.3.2", _WARMUP_FULL, mx_host="")
                ]
        slot = self._slots.setdefault(route.site, asyncio.Semaphore(self._config.concurrency))
        async with slot:
            await self._wait_turn(route)
            if self._sources is None or source is None:
                return await self._attempt(job, data, route, None)
            self._sources.begin(source)
            try:
                results = await self._attempt(job, data, route, source)
            finally:
                self._sources.end(source)
            return [replace(r, sending_ip=source.ip) for r in results]

    async def _wait_turn(self, route: _Route) -> None:
        """The site's configured rate, then the provider's adaptive one."""
        if self._stopping:
            raise TransportStopped()
        if self._throttle is not None:
            wait = await self._throttle.reserve(route.site)
            if wait > 0:
                await asyncio.sleep(wait)
        if self._adaptive is not None:
            wait = self._adaptive.reserve(route.provider)
            if wait > 0:
                await asyncio.sleep(wait)
        if self._stopping:
            raise TransportStopped()

    async def _route(self, job: Job, tls: TlsPolicy) -> _Route | NoDestination:
        relay = self._config.relay
        tls = _with_context(tls, self._config.ssl_context)
        if relay is not None:
            relay_tls = TlsPolicy(
                require_tls=tls.require_tls or not _is_loopback(relay.host),
                verify=tls.verify,
                implicit_tls=relay.implicit_tls,
                ssl_context=tls.ssl_context,
            )
            return _Route(
                site=f"relay:{relay.host}",
                hosts=(relay.host,),
                port=relay.port,
                tls=relay_tls,
                auth=relay.auth,
            )
        assert self._mx is not None
        found = await self._mx.resolve(job.recipient_domain)
        if isinstance(found, NoDestination):
            return found
        return await self._apply_mta_sts(found, tls)

    async def _apply_mta_sts(self, found: Destination, tls: TlsPolicy) -> _Route | NoDestination:
        hosts = found.hosts
        if self._mta_sts is not None:
            policy = await self._mta_sts.policy_for(found.domain)
            if policy is not None and policy.mode == "enforce":
                # RFC 8461 5: only MX hosts the policy names, over verified TLS.
                hosts = tuple(h for h in hosts if policy.matches(h))
                tls = TlsPolicy(require_tls=True, verify=True, ssl_context=tls.ssl_context)
                if not hosts:
                    return NoDestination(
                        domain=found.domain,
                        permanent=False,
                        enhanced="4.7.5",
                        text="No MX host matches the MTA-STS policy",
                    )
        return _Route(site=found.site_name, hosts=hosts, port=self._config.mx_port, tls=tls)

    async def _attempt(
        self, job: Job, data: bytes, route: _Route, source: Source | None
    ) -> list[Result]:
        last: AttemptResult | None = None
        last_host = ""
        for host in route.hosts:
            last_host = host
            session = await self._session(host, route, source)
            if isinstance(session, AttemptResult):
                last = session
                self._observe(route, session)
                continue  # RFC 5321 5.1: try the next MX host
            outcome = await session.send(
                self._mail_from(job),
                job.recipients,
                data,
                smtputf8=bool(job.message.spec.get("smtputf8")),
            )
            self._release(host, route.port, source, session)
            last = outcome
            self._observe(route, outcome)
            if outcome.error is None or not outcome.error.is_transient:
                break
        assert last is not None
        return [replace(r, mx_host=last_host) for r in _results(job, last)]

    def _observe(self, route: _Route, outcome: AttemptResult) -> None:
        """Tell the provider's adaptive rate how the transaction went: its error, else the
        first recipient's reply."""
        if self._adaptive is None:
            return
        reply = outcome.error
        if reply is None and outcome.recipients:
            reply = outcome.recipients[0].reply
        if reply is not None:
            self._adaptive.observe(route.provider, reply)

    def _mail_from(self, job: Job) -> str:
        """Mailgun's return path, ``bounce+<tag>-<local>=<domain>@<sending domain>``: a bounce
        that comes back to it names the delivery (the first of the transaction's)."""
        facts = job.message.facts
        if not self._config.verp_key:
            return facts.sender
        first = job.deliveries[0]
        return return_path(first.id, first.recipient, facts.domain, self._config.verp_key)

    async def _session(
        self, host: str, route: _Route, source: Source | None
    ) -> SmtpSession | AttemptResult:
        idle = self._idle.get((host, route.port, _bind(source)), [])
        while idle:
            session = idle.pop()
            if session.is_usable:
                return session
            await session.close()
        address = await self._address(host, source)
        if address is None:
            return AttemptResult(
                host=host,
                port=route.port,
                connected=False,
                tls=False,
                certificate_verified=False,
                utf8=False,
                session_seconds=0.0,
                error=Reply(421, "4.4.4", f"No address found for MX host {host}"),
                recipients=(),
                transcript=f"* no A/AAAA record for {host}",
            )
        return await SmtpSession.open(
            address,
            route.port,
            helo_name=source.helo if source is not None else self._config.helo_name,
            tls=route.tls,
            timeouts=self._config.timeouts,
            auth=route.auth,
            local_addr=_bind(source) or None,
            server_hostname=host,
        )

    async def _address(self, host: str, source: Source | None) -> str | None:
        """MX host names are resolved through our resolver, never the system's; with a source
        address, one of its family (an IPv4 source cannot reach an IPv6 host)."""
        if self._resolver is None or _is_ip(host):
            return host
        try:
            found = await self._resolver.addresses(host)
        except DnsLookupFailed:
            return None
        if source is not None:
            found = [a for a in found if _is_ip(a) and _family(a) == _family(source.ip)]
        return found[0] if found else None

    def _release(self, host: str, port: int, source: Source | None, session: SmtpSession) -> None:
        if session.is_usable:
            self._idle.setdefault((host, port, _bind(source)), []).append(session)

    async def close(self) -> None:
        sessions = [s for idle in self._idle.values() for s in idle]
        self._idle.clear()
        for session in sessions:
            with contextlib.suppress(Exception):
                await session.close()


def _with_context(tls: TlsPolicy, context: ssl.SSLContext | None) -> TlsPolicy:
    if tls.ssl_context is not None or context is None:
        return tls
    return TlsPolicy(
        require_tls=tls.require_tls,
        verify=tls.verify,
        implicit_tls=tls.implicit_tls,
        ssl_context=context,
    )


_provider = functools.lru_cache(maxsize=4096)(provider_of)
_WARMUP_FULL = "Every egress source has used its warm-up allowance for today"


def _bind(source: Source | None) -> str:
    """The local address a session binds to; "" for the system's choice."""
    return source.ip if source is not None else ""


def _family(address: str) -> int:
    return ipaddress.ip_address(address.strip("[]")).version


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def _all(
    job: Job,
    code: int,
    enhanced: str | None,
    text: str,
    *,
    mx_host: str,
    outcome: AttemptResult | None = None,
) -> list[Result]:
    return [_result(d, code, enhanced, text, mx_host, outcome) for d in job.deliveries]


def _result(
    delivery: DeliveryRow,
    code: int | None,
    enhanced: str | None,
    text: str,
    mx_host: str,
    outcome: AttemptResult | None,
) -> Result:
    if outcome is None:
        return Result(
            delivery=delivery,
            code=code,
            enhanced=enhanced,
            text=text,
            mx_host=mx_host,
            attempted=bool(mx_host),
        )
    return Result(
        delivery=delivery,
        code=code,
        enhanced=enhanced,
        text=text,
        mx_host=outcome.host,
        tls=outcome.tls,
        certificate_verified=outcome.certificate_verified,
        session_seconds=outcome.session_seconds,
        transcript=outcome.transcript,
        utf8=outcome.utf8,
    )


def _results(job: Job, outcome: AttemptResult) -> list[Result]:
    results = []
    for d in job.deliveries:
        reply = outcome.reply_for(d.recipient)
        if reply is None:
            results.append(
                _result(d, 451, "4.3.0", "No reply for this recipient", outcome.host, outcome)
            )
        else:
            results.append(
                _result(d, reply.code, reply.enhanced, reply.text, outcome.host, outcome)
            )
    return results


__all__: Sequence[str] = ["CaptureTransport", "Relay", "SmtpConfig", "SmtpTransport", "Transport"]
