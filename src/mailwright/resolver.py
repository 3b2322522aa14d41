"""The one async DNS resolver: TXT, MX, CNAME and address lookups over dnspython.

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
import dns.nameserver
import dns.rdata
import dns.rdatatype
import dns.resolver
from dns.rdtypes.ANY.CNAME import CNAME
from dns.rdtypes.ANY.MX import MX
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
        with _map_dns_errors(name, rdtype.name):
            try:
                answer = await self._resolver.resolve(
                    name, rdtype, search=False, raise_on_no_answer=False
                )
            except dns.resolver.NXDOMAIN:
                return []
        return list(answer.rrset) if answer.rrset is not None else []

    async def txt(self, name: str) -> list[str]:
        """Each TXT record's character-strings joined into one string."""
        records = await self._query(name, dns.rdatatype.TXT)
        return [
            b"".join(r.strings).decode("utf-8", errors="replace")
            for r in records
            if isinstance(r, TXT)
        ]

    async def mx(self, name: str) -> list[tuple[int, str]]:
        """(preference, host) sorted; a null MX (RFC 7505) shows as ``(0, "")``."""
        records = await self._query(name, dns.rdatatype.MX)
        return sorted(
            (r.preference, r.exchange.to_text(omit_final_dot=True).lower())
            for r in records
            if isinstance(r, MX)
        )

    async def cname(self, name: str) -> list[str]:
        records = await self._query(name, dns.rdatatype.CNAME)
        return [
            r.target.to_text(omit_final_dot=True).lower() for r in records if isinstance(r, CNAME)
        ]

    async def addresses(self, name: str) -> list[str]:
        """A then AAAA addresses; empty when the name has neither."""
        v4, v6 = await asyncio.gather(
            self._query(name, dns.rdatatype.A), self._query(name, dns.rdatatype.AAAA)
        )
        return [str(r.address) for r in (*v4, *v6) if isinstance(r, A | AAAA)]
