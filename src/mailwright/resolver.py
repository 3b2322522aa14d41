"""The one async DNS resolver: TXT, MX, CNAME, address and PTR lookups over dnspython.

Every package that needs DNS (delivery, domains, validation, inbound) goes through ``Resolver``.
"No such data" is an empty list; any other failure (timeout, SERVFAIL, REFUSED) is translated
into ``DnsLookupFailed`` in one place, ``_map_dns_errors``, so callers never catch dnspython types.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdata
import dns.rdatatype
import dns.resolver
from dns.rdtypes.ANY.CNAME import CNAME
from dns.rdtypes.ANY.MX import MX
from dns.rdtypes.ANY.PTR import PTR
from dns.rdtypes.ANY.TXT import TXT
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA

from mailwright.errors import ConfigError, ServiceError

# RFC 9715 / DNS flag day 2020: 1232 bytes avoids IP fragmentation and still fits a 2048-bit
# DKIM key, so the usual TXT lookups need no TCP retry.
EDNS_PAYLOAD = 1232
DEFAULT_PORT = 53


class DnsLookupFailed(ServiceError):
    """DNS lookup failed."""

    def __init__(self, name: str, rdtype: str, reason: str) -> None:
        super().__init__(f"DNS lookup failed: {rdtype} {name}: {reason}")
        self.name = name
        self.rdtype = rdtype
        self.reason = reason


def parse_nameserver(value: str) -> tuple[str, int]:
    """Parse ``host[:port]`` into an (IP, port) pair.

    >>> parse_nameserver("127.0.0.1:5353"), parse_nameserver("::1"), parse_nameserver("[::1]:53")
    (('127.0.0.1', 5353), ('::1', 53), ('::1', 53))
    """
    text = value.strip()
    host, port = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else rest
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    try:
        address = ipaddress.ip_address(host)
        number = int(port) if port else DEFAULT_PORT
    except ValueError:
        raise ConfigError(f"Invalid nameserver {value!r}: expected IP[:port]") from None
    if not 0 < number < 65536:
        raise ConfigError(f"Invalid nameserver {value!r}: port out of range")
    return str(address), number


@contextmanager
def _map_dns_errors(name: str, rdtype: str) -> Iterator[None]:
    try:
        yield
    except dns.exception.Timeout as exc:
        raise DnsLookupFailed(name, rdtype, "timeout") from exc
    except dns.resolver.NoNameservers as exc:
        raise DnsLookupFailed(name, rdtype, "no nameserver answered (SERVFAIL/REFUSED)") from exc
    except dns.exception.DNSException as exc:
        raise DnsLookupFailed(name, rdtype, type(exc).__name__) from exc
    except OSError as exc:
        raise DnsLookupFailed(name, rdtype, str(exc)) from exc


def _host_name(name: dns.name.Name) -> str:
    # The root name is RFC 7505's null MX ("0 ."); dnspython would spell it ".".
    return "" if name == dns.name.root else name.to_text(omit_final_dot=True).lower()


class Resolver:
    """Async DNS lookups against the system resolver or exactly one ``(host, port)``."""

    def __init__(self, nameserver: tuple[str, int] | None = None, *, timeout: float = 5.0) -> None:
        if nameserver is None:
            try:
                self._resolver = dns.asyncresolver.Resolver(configure=True)
            except dns.exception.DNSException as exc:
                raise ConfigError(f"No system DNS configuration: {exc}") from exc
        else:
            host, port = nameserver
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            self._resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port)]
        self._resolver.use_edns(0, 0, EDNS_PAYLOAD)
        self._resolver.timeout = timeout
        self._resolver.lifetime = timeout
        # A SERVFAIL is an answer, not a reason to hammer the same server until the lifetime ends.
        self._resolver.retry_servfail = False

    async def _query(self, name: str, rdtype: dns.rdatatype.RdataType) -> list[dns.rdata.Rdata]:
        records, _ = await self._query_ttl(name, rdtype)
        return records

    async def _query_ttl(
        self, name: str, rdtype: dns.rdatatype.RdataType
    ) -> tuple[list[dns.rdata.Rdata], int | None]:
        """The records and their TTL; the TTL is None when there are no records."""
        with _map_dns_errors(name, rdtype.name):
            try:
                answer = await self._resolver.resolve(
                    name, rdtype, search=False, raise_on_no_answer=False
                )
            except dns.resolver.NXDOMAIN:
                return [], None
        if answer.rrset is None:
            return [], None
        return list(answer.rrset), answer.rrset.ttl

    async def txt(self, name: str) -> list[str]:
        """Each TXT record's character-strings joined into one string."""
        found, _ = await self.txt_ttl(name)
        return found

    async def txt_ttl(self, name: str) -> tuple[list[str], int | None]:
        """``txt`` plus the record set's TTL (None when there are no records)."""
        records, ttl = await self._query_ttl(name, dns.rdatatype.TXT)
        found = [
            b"".join(r.strings).decode("utf-8", errors="replace")
            for r in records
            if isinstance(r, TXT)
        ]
        return found, ttl

    async def mx(self, name: str) -> list[tuple[int, str]]:
        """(preference, host) sorted; a null MX (RFC 7505) shows as ``(0, "")``."""
        records, _ = await self.mx_ttl(name)
        return records

    async def mx_ttl(self, name: str) -> tuple[list[tuple[int, str]], int | None]:
        """``mx`` plus the record set's TTL (None when there are no records)."""
        records, ttl = await self._query_ttl(name, dns.rdatatype.MX)
        found = sorted((r.preference, _host_name(r.exchange)) for r in records if isinstance(r, MX))
        return found, ttl

    async def cname(self, name: str) -> list[str]:
        records = await self._query(name, dns.rdatatype.CNAME)
        return [
            r.target.to_text(omit_final_dot=True).lower() for r in records if isinstance(r, CNAME)
        ]

    async def addresses(self, name: str) -> list[str]:
        """A then AAAA addresses; empty when the name has neither."""
        found, _ = await self.addresses_ttl(name)
        return found

    async def addresses_ttl(self, name: str) -> tuple[list[str], int | None]:
        """``addresses`` plus the smaller TTL of the A and AAAA sets (None when both are empty)."""
        (v4, ttl4), (v6, ttl6) = await asyncio.gather(
            self._query_ttl(name, dns.rdatatype.A), self._query_ttl(name, dns.rdatatype.AAAA)
        )
        ttls = [t for t in (ttl4, ttl6) if t is not None]
        found = [str(r.address) for r in (*v4, *v6) if isinstance(r, A | AAAA)]
        return found, min(ttls) if ttls else None

    async def a(self, name: str) -> list[str]:
        """IPv4 addresses only (SPF's ``a``/``mx`` mechanisms ask one family, RFC 7208 5.3)."""
        records = await self._query(name, dns.rdatatype.A)
        return [str(r.address) for r in records if isinstance(r, A)]

    async def aaaa(self, name: str) -> list[str]:
        records = await self._query(name, dns.rdatatype.AAAA)
        return [str(r.address) for r in records if isinstance(r, AAAA)]

    async def ptr(self, name: str) -> list[str]:
        """Targets of a reverse name such as ``10.2.0.192.in-addr.arpa``."""
        records = await self._query(name, dns.rdatatype.PTR)
        return [_host_name(r.target) for r in records if isinstance(r, PTR)]
