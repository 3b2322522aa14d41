"""``Validator.validate``: gather the facts about one address (DNS, an optional SMTP probe, our
own suppression and event history) and let ``verdict.decide`` answer.

DNS goes through the one ``Resolver`` (so only the configured nameserver is asked), cached per
domain for the record TTL (capped). The SMTP probe is a port (``Prober``) implemented in
``delivery`` and wired by ``app.py``; it is off unless ``MAILWRIGHT_VALIDATION_SMTP_PROBE`` is
true, and ``provider_lookup=false`` skips it per request. Probes are limited to one per
destination host every ``probe_interval`` seconds and their verdicts cached for ``probe_ttl``.
"""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, Protocol, TypeVar

from mailwright.resolver import DnsLookupFailed, Resolver
from mailwright.store import Store, queries
from mailwright.validation import grammar, signals
from mailwright.validation.syntax import Address, parse
from mailwright.validation.verdict import Domain, Facts, Mailbox, decide

_MAX_ENTRIES = 50_000


class Prober(Protocol):
    async def probe(self, host: str, recipients: Sequence[str]) -> list[int] | None:
        """The RCPT TO reply code per recipient, or None when no transaction was possible."""


@dataclass(frozen=True, slots=True)
class ValidatorConfig:
    dns_ttl: float = 3600  # longest time a DNS answer is kept
    negative_ttl: float = 300  # a domain without mail records
    failure_ttl: float = 30  # a failed lookup
    probe_ttl: float = 86400
    probe_interval: float = 1.0  # per MX host


V = TypeVar("V")


class _Ttl(Generic[V]):
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def get(self, key: str) -> V | None:
        found = self._entries.get(key)
        if found is None or found[0] <= self._clock():
            return None
        return found[1]

    def put(self, key: str, value: V, ttl: float) -> None:
        self._entries[key] = (self._clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > _MAX_ENTRIES:
            self._entries.popitem(last=False)


class Validator:
    def __init__(
        self,
        store: Store,
        resolver: Resolver,
        clock: Callable[[], float],
        *,
        prober: Prober | None = None,
        config: ValidatorConfig | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._resolver = resolver
        self._clock = clock
        self._prober = prober
        self._config = config or ValidatorConfig()
        self._rng = rng or random.SystemRandom()
        self._dns: _Ttl[tuple[Domain, tuple[str, ...]]] = _Ttl(clock)
        self._probes: _Ttl[Mailbox] = _Ttl(clock)
        self._last_probe: dict[str, float] = {}
        self._pending: dict[str, asyncio.Future[tuple[tuple[Domain, tuple[str, ...]], float]]] = {}

    async def validate(self, address: str, *, provider_lookup: bool = True) -> dict[str, Any]:
        [body] = await self.validate_many([address], provider_lookup=provider_lookup)
        return body

    async def validate_many(
        self, addresses: Sequence[str], *, provider_lookup: bool = True
    ) -> list[dict[str, Any]]:
        """Each address's answer, in order; DNS and probes run concurrently and our history
        of all of them is read in one query."""
        facts = [_offline_facts(address) for address in addresses]
        checked = await asyncio.gather(
            *(self._online(f, provider_lookup=provider_lookup) for f in facts)
        )
        keys = [f.parsed.text.lower() for f in checked if isinstance(f.parsed, Address)]
        kinds, counts = await self._history(keys)
        return [decide(_with_history(f, kinds, counts)) for f in checked]

    async def _online(self, facts: Facts, *, provider_lookup: bool) -> Facts:
        """``facts`` plus what DNS and the probe say; unchanged when the address already
        failed offline (syntax, grammar, address literal)."""
        parsed = facts.parsed
        if not isinstance(parsed, Address) or parsed.is_literal:
            return facts
        if facts.grammar is not None and facts.grammar.problem is not None:
            return facts
        domain, hosts = await self.domain(parsed.domain)
        mailbox = Mailbox.NOT_PROBED
        if domain is Domain.HAS_MX and provider_lookup and self._prober is not None:
            mailbox = await self._mailbox(parsed, hosts)
        return replace(facts, domain=domain, mailbox=mailbox)

    async def domain(self, name: str) -> tuple[Domain, tuple[str, ...]]:
        """Where mail for ``name`` goes (RFC 5321 5.1): MX hosts, else the domain itself."""
        cached = self._dns.get(name)
        if cached is not None:
            return cached
        pending = self._pending.get(name)
        if pending is None:
            # Concurrent validations of one domain (a bulk batch) share a single lookup.
            pending = asyncio.ensure_future(self._lookup(name))
            self._pending[name] = pending
            pending.add_done_callback(lambda _: self._pending.pop(name, None))
        found, ttl = await asyncio.shield(pending)
        self._dns.put(name, found, ttl)
        return found

    async def _lookup(self, name: str) -> tuple[tuple[Domain, tuple[str, ...]], float]:
        config = self._config
        try:
            mx, ttl = await self._resolver.mx_ttl(name)
            if mx and all(host == "" for _, host in mx):  # RFC 7505 null MX
                return (Domain.NO_MX, ()), min(ttl or config.negative_ttl, config.dns_ttl)
            hosts = tuple(host for _, host in mx if host)
            if not hosts:
                addresses, ttl = await self._resolver.addresses_ttl(name)
                hosts = (name,) if addresses else ()
        except DnsLookupFailed:
            return (Domain.FAILED, ()), config.failure_ttl
        if not hosts:
            return (Domain.NO_MX, ()), config.negative_ttl
        return (Domain.HAS_MX, hosts), min(ttl or config.negative_ttl, config.dns_ttl)

    async def _mailbox(self, parsed: Address, hosts: tuple[str, ...]) -> Mailbox:
        key = parsed.text.lower()
        cached = self._probes.get(key)
        if cached is not None:
            return cached
        host = hosts[0]
        now = self._clock()
        if now - self._last_probe.get(host, float("-inf")) < self._config.probe_interval:
            return Mailbox.UNKNOWN  # rate-limited: not cached, a later call may probe
        self._last_probe[host] = now
        assert self._prober is not None
        canary = f"mw-{self._rng.getrandbits(64):016x}@{parsed.domain}"
        codes = await self._prober.probe(host, [parsed.text, canary])
        mailbox = mailbox_from(codes)
        self._probes.put(key, mailbox, self._config.probe_ttl)
        return mailbox

    async def _history(
        self, addresses: list[str]
    ) -> tuple[dict[str, set[str]], dict[str, dict[str, int]]]:
        if not addresses:
            return {}, {}
        async with self._store.read() as conn:
            return await queries.address_histories(conn, sorted(set(addresses)))


def _offline_facts(address: str) -> Facts:
    """What the address itself says: syntax, provider grammar and the offline signals."""
    parsed = parse(address)
    if not isinstance(parsed, Address):
        return Facts(address=address, parsed=parsed)
    return Facts(
        address=address,
        parsed=parsed,
        grammar=grammar.check(parsed.local, parsed.domain),
        is_disposable=signals.is_disposable(parsed.domain),
        is_role=signals.is_role(parsed.local),
        is_free=signals.is_free(parsed.domain),
        did_you_mean=_suggestion(parsed),
    )


def _with_history(
    facts: Facts, kinds: dict[str, set[str]], counts: dict[str, dict[str, int]]
) -> Facts:
    if not isinstance(facts.parsed, Address) or facts.domain is Domain.NOT_CHECKED:
        return facts
    key = facts.parsed.text.lower()
    return replace(
        facts,
        history=frozenset(kinds.get(key, ())),
        engagement=engagement_from(counts.get(key, {})),
    )


def mailbox_from(codes: Sequence[int] | None) -> Mailbox:
    """The probe's answer from the RCPT codes for (address, random canary)."""
    if codes is None or len(codes) != 2:
        return Mailbox.UNKNOWN
    address, canary = codes
    if 500 <= address < 600:
        return Mailbox.REJECTED
    if not 200 <= address < 300:
        return Mailbox.UNKNOWN  # 4xx: greylisting or a full queue says nothing of the mailbox
    return Mailbox.CATCH_ALL if 200 <= canary < 300 else Mailbox.ACCEPTED


def engagement_from(counts: dict[str, int]) -> dict[str, Any] | None:
    """Mailgun's ``engagement`` from our own events; None before anything was delivered."""
    if not counts.get("delivered"):
        return None
    if counts.get("clicked"):
        behavior = "clicker"
    elif counts.get("opened"):
        behavior = "opener"
    else:
        behavior = "disengaged"
    return {"engaging": behavior != "disengaged", "behavior": behavior, "is_bot": False}


def _suggestion(parsed: Address) -> str | None:
    if parsed.is_literal:
        return None
    domain = signals.suggest_domain(parsed.domain)
    return None if domain is None else f"{parsed.local}@{domain}"
