"""Where a recipient domain's mail goes: its MX hosts in order, and the site name they share.

``MxCache.resolve`` follows RFC 5321 5.1: the MX records in preference order; with none, the
domain itself as an implicit MX when it has A/AAAA records; a null MX (RFC 7505) or a domain
with neither is a permanent ``NoDestination``, a failed lookup a temporary one. Answers are kept
for their DNS TTL (capped at ``max_ttl``; ``negative_ttl`` when there were no records) and
concurrent lookups of one domain share a single query.

The *site name* is KumoMTA's (``mailexchanger``'s ``factor_names``): domains whose MX hosts are
the same share a site, and so share connection limits and throttles.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby

from mailwright.resolver import DnsLookupFailed, Resolver


@dataclass(frozen=True, slots=True)
class Destination:
    domain: str  # the recipient domain in ASCII (A-label) form
    hosts: tuple[str, ...]  # MX hosts in preference order, each once
    site_name: str  # shared by every domain with the same MX hosts
    is_implicit: bool  # no MX records: the domain's own A/AAAA (RFC 5321 5.1)


@dataclass(frozen=True, slots=True)
class NoDestination:
    domain: str
    permanent: bool  # True: the domain takes no mail; False: the lookup failed, retry later
    enhanced: str  # RFC 3463 status code for the delivery's failure
    text: str


def site_name(hosts: Iterable[str]) -> str:
    """A stable name for a set of MX hosts, independent of their order.

    Hosts that differ only in their first label are factored, as KumoMTA does; a host equal to
    the shared suffix makes the group optional:

    >>> site_name(["alt1.gmail-smtp-in.l.google.com", "gmail-smtp-in.l.google.com",
    ...            "alt2.gmail-smtp-in.l.google.com"])
    '(alt1|alt2)?.gmail-smtp-in.l.google.com'
    >>> site_name(["mx2.example.net", "mx1.example.net", "mail.other.org"])
    '(mx1|mx2).example.net,mail.other.org'
    """
    unique = sorted({h.lower().rstrip(".") for h in hosts if h})
    names = set(unique)
    parts: list[str] = []
    split = sorted((h.partition(".")[2], h.partition(".")[0]) for h in unique if "." in h)
    grouped: set[str] = set()
    for suffix, members in groupby(split, key=lambda pair: pair[0]):
        labels = [label for _, label in members]
        if len(labels) < 2:
            continue
        optional = "?" if suffix in names else ""
        parts.append(f"({'|'.join(labels)}){optional}.{suffix}")
        grouped.update(f"{label}.{suffix}" for label in labels)
        if optional:
            grouped.add(suffix)
    parts.extend(h for h in unique if h not in grouped)
    return ",".join(sorted(parts))


def order_hosts(
    records: Sequence[tuple[int, str]], rng: random.Random | None = None
) -> tuple[str, ...]:
    """Hosts by preference, each once. RFC 5321 5.1 asks to randomise hosts of equal preference;
    with ``rng`` they are shuffled, without it they keep a stable (alphabetical) order.
    """
    ordered: list[str] = []
    for _, group in groupby(sorted(records), key=lambda r: r[0]):
        hosts = [host for _, host in group]
        if rng is not None:
            rng.shuffle(hosts)
        ordered.extend(h for h in hosts if h and h not in ordered)
    return tuple(ordered)


def to_ascii(domain: str) -> str:
    """Lower-case A-label form (IDNA 2003, Python's ``idna`` codec); ValueError when invalid."""
    name = domain.strip().rstrip(".").lower()
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"Invalid domain {domain!r}: {exc}") from None
    if not ascii_name:
        raise ValueError("Empty domain")
    return ascii_name


def literal_destination(domain: str) -> Destination | NoDestination | None:
    """``[192.0.2.1]`` or ``[IPv6:2001:db8::1]`` (RFC 5321 4.1.3): mail goes to that address.
    None when ``domain`` is not an address literal.
    """
    if not (domain.startswith("[") and domain.endswith("]")):
        return None
    inner = domain[1:-1]
    if inner[:5].lower() == "ipv6:":
        inner = inner[5:]
    try:
        address = str(ipaddress.ip_address(inner))
    except ValueError:
        return NoDestination(domain, True, "5.1.2", f"Invalid address literal {domain}")
    return Destination(domain, (address,), address, is_implicit=False)


def destination_from(
    domain: str,
    mx: Sequence[tuple[int, str]],
    addresses: Sequence[str] | None,
    rng: random.Random | None = None,
) -> Destination | NoDestination:
    """Decide from the answers: ``mx`` records, and ``addresses`` of the domain (None when they
    were not looked up because there was an MX).
    """
    if mx and all(host == "" for _, host in mx):
        # RFC 7505 3: "556 5.1.10 Recipient address has null MX".
        return NoDestination(domain, True, "5.1.10", "Recipient address has null MX")
    hosts = order_hosts(mx, rng)
    if hosts:
        return Destination(domain, hosts, site_name(hosts), is_implicit=False)
    if addresses:
        # RFC 5321 5.1: no MX, so the domain is its own implicit MX with preference 0.
        return Destination(domain, (domain,), site_name((domain,)), is_implicit=True)
    return NoDestination(domain, True, "5.1.2", f"Domain {domain} has no MX and no A/AAAA records")


@dataclass(frozen=True, slots=True)
class _Entry:
    expires: float
    found: Destination | NoDestination


class MxCache:
    """``resolve(domain)`` with answers cached for their TTL (LRU, ``max_entries``)."""

    def __init__(
        self,
        resolver: Resolver,
        clock: Callable[[], float],
        *,
        max_entries: int = 10000,
        negative_ttl: float = 300,
        max_ttl: float = 3600,
        failure_ttl: float = 30,
        rng: random.Random | None = None,
    ) -> None:
        self._resolver = resolver
        self._clock = clock
        self._max_entries = max_entries
        self._negative_ttl = negative_ttl
        self._max_ttl = max_ttl
        self._failure_ttl = failure_ttl  # a failed lookup (SERVFAIL, timeout) is retried after
        self._rng = rng
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._pending: dict[str, asyncio.Future[Destination | NoDestination]] = {}

    async def resolve(self, domain: str) -> Destination | NoDestination:
        literal = literal_destination(domain.strip())
        if literal is not None:
            return literal
        try:
            name = to_ascii(domain)
        except ValueError as exc:
            return NoDestination(domain, True, "5.1.2", str(exc))
        entry = self._entries.get(name)
        if entry is not None and entry.expires > self._clock():
            self._entries.move_to_end(name)
            return entry.found
        pending = self._pending.get(name)
        if pending is None:
            pending = asyncio.ensure_future(self._lookup(name))
            self._pending[name] = pending
        # shield: one cancelled caller must not cancel the lookup the others wait for.
        return await asyncio.shield(pending)

    async def _lookup(self, name: str) -> Destination | NoDestination:
        try:
            found, ttl = await self._query(name)
        finally:
            del self._pending[name]
        self._store(name, found, ttl)
        return found

    async def _query(self, name: str) -> tuple[Destination | NoDestination, float]:
        try:
            mx, ttl = await self._resolver.mx_ttl(name)
            addresses: list[str] | None = None
            if not mx:
                addresses, ttl = await self._resolver.addresses_ttl(name)
        except DnsLookupFailed as exc:
            # RFC 3463 X.4.3 "directory server failure": temporary.
            return NoDestination(name, False, "4.4.3", str(exc)), self._failure_ttl
        found = destination_from(name, mx, addresses, self._rng)
        return found, self._negative_ttl if ttl is None else min(ttl, self._max_ttl)

    def _store(self, name: str, found: Destination | NoDestination, ttl: float) -> None:
        if ttl <= 0:
            return
        self._entries[name] = _Entry(self._clock() + ttl, found)
        self._entries.move_to_end(name)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
