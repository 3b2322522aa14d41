"""MTA-STS (RFC 8461): whether a recipient domain requires verified TLS to named MX hosts.

``MtaSts.policy_for`` reads the ``_mta-sts`` TXT record and, when its id is new, fetches
``https://mta-sts.<domain>/.well-known/mta-sts.txt``. The host name is resolved through our own
``Resolver`` (never the system one) and the request goes to that address with SNI and ``Host``
set to the policy host, whose certificate must verify (RFC 8461 3.3). Policies are cached for
their ``max_age`` and refetched only when the TXT id changes (RFC 8461 3.1, 5.1); while a cached
policy is unexpired it outlives a missing TXT record or a failed fetch (RFC 8461 3.3). Parsing
(``parse_txt``, ``parse_policy``) and matching (``Policy.matches``) are pure.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx

from mailwright.delivery.mx import to_ascii
from mailwright.logs import get_logger
from mailwright.resolver import DnsLookupFailed, Resolver

log = get_logger(__name__)

Mode = Literal["enforce", "testing", "none"]
MODES: tuple[Mode, ...] = ("enforce", "testing", "none")
MAX_AGE_LIMIT = 31557600  # RFC 8461 3.2: at most one year
MAX_POLICY_BYTES = 64 * 1024  # RFC 8461 3.3: senders may stop reading after 64 KB
WELL_KNOWN_PATH = "/.well-known/mta-sts.txt"

_FIELD = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]{0,31}):[ \t]*(\S(?:.*\S)?)[ \t]*")
_TXT_FIELD = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]{0,31})=([\x21-\x3a\x3c\x3e-\x7e]+)")
_TXT_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_MX_PATTERN = re.compile(rf"(?:\*\.)?{_LABEL}(?:\.{_LABEL})+")
_MAX_AGE = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True, slots=True)
class Policy:
    mode: Mode
    mx: tuple[str, ...]  # allowed MX patterns, lower case; "*.example.com" allowed
    max_age: int  # seconds the policy may be cached
    id: str  # the TXT record's id the policy was fetched under ("" when parsed alone)

    def matches(self, mx_host: str) -> bool:
        """RFC 8461 4.1: exact match, or "*.example.com" for exactly one more left label."""
        host = mx_host.lower().rstrip(".")
        first, _, rest = host.partition(".")
        return any(
            host == pattern or (pattern.startswith("*.") and bool(first) and rest == pattern[2:])
            for pattern in self.mx
        )


def parse_txt(record: str) -> str | None:
    """The id of a ``v=STSv1; id=...`` record (RFC 8461 3.1), or None when it is not valid."""
    fields = [f.strip(" \t") for f in record.split(";")]
    if fields[0] != "v=STSv1" or len(fields) < 2:
        return None
    if fields[-1] == "":
        fields.pop()  # a trailing field-delim is allowed
    ids: list[str] = []
    for field in fields[1:]:
        match = _TXT_FIELD.fullmatch(field)
        if match is None:
            return None
        if match.group(1) == "id":
            ids.append(match.group(2))
    if len(ids) != 1 or not _TXT_ID.fullmatch(ids[0]):
        return None
    return ids[0]


def select_txt(records: list[str]) -> str | None:
    """RFC 8461 3.1: keep records starting with "v=STSv1"; exactly one must remain, and valid."""
    candidates = [r for r in records if r.startswith("v=STSv1")]
    return parse_txt(candidates[0]) if len(candidates) == 1 else None


def parse_policy(text: str, *, policy_id: str = "") -> Policy:
    """Parse a policy file (RFC 8461 3.2); ValueError when it is not a valid STSv1 policy.

    Lines end in CRLF or LF (the ABNF's ``sts-policy-term``); blank lines are skipped; unknown
    fields are ignored; ``version``, ``mode`` and ``max_age`` must each appear once, and ``mx``
    at least once unless the mode is ``none``.
    """
    fields: dict[str, str] = {}
    mx: list[str] = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        match = _FIELD.fullmatch(line)
        if match is None:
            raise ValueError(f"Policy line {number} is not 'key: value'")
        key, value = match.groups()
        if key == "mx":
            mx.append(_mx_pattern(value))
        elif key in ("version", "mode", "max_age"):
            if key in fields:
                raise ValueError(f"Policy field {key!r} appears more than once")
            fields[key] = value
    return _policy(fields, tuple(mx), policy_id)


def _mx_pattern(value: str) -> str:
    pattern = value.lower().rstrip(".")
    if not _MX_PATTERN.fullmatch(pattern):
        raise ValueError(f"Invalid mx pattern {value!r}")
    return pattern


def _policy(fields: dict[str, str], mx: tuple[str, ...], policy_id: str) -> Policy:
    if fields.get("version") != "STSv1":
        raise ValueError("Policy version must be STSv1")
    mode = fields.get("mode", "")
    if mode not in MODES:
        raise ValueError(f"Invalid policy mode {mode!r}")
    max_age = fields.get("max_age", "")
    if not _MAX_AGE.fullmatch(max_age) or int(max_age) > MAX_AGE_LIMIT:
        raise ValueError(f"Invalid max_age {max_age!r}")
    if not mx and mode != "none":
        raise ValueError(f"A policy in mode {mode!r} needs at least one mx")
    return Policy(mode, mx, int(max_age), policy_id)


class FetchFailed(Exception):
    """The policy could not be fetched."""


@dataclass(frozen=True, slots=True)
class _Cached:
    policy: Policy
    expires: float


@dataclass(frozen=True, slots=True)
class _Txt:
    policy_id: str | None  # None: no valid record
    expires: float


class MtaSts:
    def __init__(
        self,
        resolver: Resolver,
        clock: Callable[[], float],
        *,
        fetch_port: int = 443,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 10,
        txt_max_ttl: float = 3600,
        negative_ttl: float = 300,
        failure_ttl: float = 300,
    ) -> None:
        self._resolver = resolver
        self._clock = clock
        self._port = fetch_port
        self._ssl = ssl_context if ssl_context is not None else ssl.create_default_context()
        self._timeout = timeout
        self._txt_max_ttl = txt_max_ttl
        self._negative_ttl = negative_ttl  # a missing TXT record is looked up again after
        self._failure_ttl = failure_ttl  # a failed fetch for the same TXT id is retried after
        self._policies: dict[str, _Cached] = {}
        self._txt: dict[str, _Txt] = {}
        self._failed: dict[str, tuple[str, float]] = {}  # domain -> (TXT id, retry after)
        self._pending: dict[str, asyncio.Future[Policy | None]] = {}

    async def policy_for(self, domain: str) -> Policy | None:
        """The policy to apply to mail for ``domain`` now, or None when it has none."""
        try:
            name = to_ascii(domain)
        except ValueError:
            return None
        pending = self._pending.get(name)
        if pending is None:
            pending = asyncio.ensure_future(self._discover(name))
            self._pending[name] = pending
            pending.add_done_callback(lambda _: self._pending.pop(name, None))
        return await asyncio.shield(pending)

    async def _discover(self, name: str) -> Policy | None:
        now = self._clock()
        cached = self._policies.get(name)
        if cached is not None and cached.expires <= now:
            del self._policies[name]
            cached = None
        current = cached.policy if cached is not None else None
        policy_id = await self._txt_id(name, now)
        if policy_id is None or (current is not None and current.id == policy_id):
            return current  # RFC 8461 3.3: an unexpired policy outlives a missing TXT record
        if self._recently_failed(name, policy_id, now):
            return current
        fetched = await self._fetch(name, policy_id)
        if fetched is None:
            self._failed[name] = (policy_id, now + self._failure_ttl)
            return current
        self._failed.pop(name, None)
        self._policies[name] = _Cached(fetched, now + fetched.max_age)
        return fetched

    def _recently_failed(self, name: str, policy_id: str, now: float) -> bool:
        failed = self._failed.get(name)
        return failed is not None and failed[0] == policy_id and failed[1] > now

    async def _txt_id(self, name: str, now: float) -> str | None:
        known = self._txt.get(name)
        if known is not None and known.expires > now:
            return known.policy_id
        try:
            records, ttl = await self._resolver.txt_ttl(f"_mta-sts.{name}")
        except DnsLookupFailed:
            return None  # not cached: the next message asks again
        policy_id = select_txt(records)
        lifetime = self._negative_ttl if ttl is None else min(ttl, self._txt_max_ttl)
        self._txt[name] = _Txt(policy_id, now + lifetime)
        return policy_id

    async def _fetch(self, name: str, policy_id: str) -> Policy | None:
        host = f"mta-sts.{name}"
        try:
            async with asyncio.timeout(self._timeout):
                text = await self._fetch_text(host)
            return parse_policy(text, policy_id=policy_id)
        except (FetchFailed, DnsLookupFailed, ValueError, TimeoutError) as exc:
            log.info("mta_sts_fetch_failed", domain=name, policy_host=host, error=str(exc))
            return None

    async def _fetch_text(self, host: str) -> str:
        addresses = await self._resolver.addresses(host)
        if not addresses:
            raise FetchFailed(f"{host} has no A/AAAA records")
        failure = FetchFailed(host)
        for address in addresses:
            try:
                return await self._get(host, address)
            except FetchFailed as exc:
                failure = exc
        raise failure

    async def _get(self, host: str, address: str) -> str:
        # A fresh client per fetch: a pooled connection verified for one policy host must never
        # carry a request for another host that shares its address.
        url = httpx.URL(scheme="https", host=address, port=self._port, path=WELL_KNOWN_PATH)
        async with httpx.AsyncClient(
            verify=self._ssl, timeout=self._timeout, trust_env=False, follow_redirects=False
        ) as client:
            request = client.build_request(
                "GET", url, headers={"Host": host}, extensions={"sni_hostname": host}
            )
            try:
                response = await client.send(request, stream=True)
                try:
                    return await _read_policy(response)
                finally:
                    await response.aclose()
            except httpx.HTTPError as exc:
                raise FetchFailed(f"{host} ({address}): {exc!r}") from exc


async def _read_policy(response: httpx.Response) -> str:
    # RFC 8461 3.3: only a 200 counts (redirects are not followed), as "text/plain".
    if response.status_code != 200:
        raise FetchFailed(f"HTTP status {response.status_code}")
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "text/plain":
        raise FetchFailed(f"content type {media_type!r}, expected text/plain")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_POLICY_BYTES:
            raise FetchFailed("policy larger than 64 KB")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FetchFailed("policy is not UTF-8") from exc
