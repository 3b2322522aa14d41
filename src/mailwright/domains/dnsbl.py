"""DNS blocklist queries and answers; pure.

RFC 5782: an address is looked up as its reversed octets (IPv4) or nibbles (IPv6) under the
list's zone, a domain as itself under the zone; an A answer in 127.0.0.0/8 means "listed" and
the TXT record at the same name says why. No answer (NXDOMAIN) means "not listed".
Spamhaus answers 127.255.255.x when it refuses the query (a public resolver, too many queries,
a typo), and its DBL answers 127.0.1.255 for an address given as a domain: those are errors,
not listings.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

Status: TypeAlias = Literal["listed", "clean", "error"]
_LISTED = ipaddress.ip_network("127.0.0.0/8")
_REFUSED = (ipaddress.ip_network("127.255.255.0/24"), ipaddress.ip_network("127.0.1.255/32"))


def query_name(target: str, zone: str) -> str:
    """The name to look up for ``target`` (an IP address or a domain) in ``zone``.

    >>> query_name("192.0.2.10", "zen.example"), query_name("mail.test", "dbl.example")
    ('10.2.0.192.zen.example', 'mail.test.dbl.example')
    >>> query_name("2001:db8::1", "bl.example")[:24]
    '1.0.0.0.0.0.0.0.0.0.0.0.'
    """
    try:
        address = ipaddress.ip_address(target)
    except ValueError:
        return f"{target.rstrip('.').lower()}.{zone}"
    if address.version == 4:
        return ".".join(reversed(str(address).split("."))) + f".{zone}"
    return ".".join(reversed(address.exploded.replace(":", ""))) + f".{zone}"


def target_kind(target: str) -> str:
    try:
        ipaddress.ip_address(target)
    except ValueError:
        return "domain"
    return "ip"


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    codes: tuple[str, ...] = ()  # the 127.0.0.x answers
    reason: str = ""  # the TXT text, or why the lookup did not count


def judge(addresses: Sequence[str] | None, txt: Sequence[str] = ()) -> Verdict:
    """``addresses``: the A answers (None: the lookup failed; empty: not listed)."""
    if addresses is None:
        return Verdict("error", reason="DNS lookup failed")
    codes = tuple(sorted(a for a in addresses if _is_listing_code(a)))
    refused = tuple(sorted(a for a in addresses if _is_refusal(a)))
    if refused and not codes:
        return Verdict("error", refused, "the list refused the query (public resolver or quota)")
    if not codes:
        return Verdict("clean")
    return Verdict("listed", codes, " ".join(txt).strip())


def _is_refusal(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _REFUSED)


def _is_listing_code(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.version == 4 and ip in _LISTED and not _is_refusal(address)
