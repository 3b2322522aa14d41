"""Webhook URL rules (pure): the URL's shape, and which addresses a webhook may never reach.

A customer must not be able to use us to reach internal services (SSRF), so unless the operator
sets ``MAILWRIGHT_ALLOW_PRIVATE_URLS`` a webhook host must resolve only to global addresses:
loopback, private (RFC 1918, ULA), link-local, multicast, reserved, unspecified, shared
(RFC 6598) and the like are refused. An IPv4-mapped IPv6 address is judged as its IPv4 address.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from mailwright.errors import InvalidInput

MAX_URL_LENGTH = 2048
MAX_URLS = 3  # Mailgun: "Maximum of 3 urls for a given webhook type"


def parse_url(url: str, *, field: str = "url") -> str:
    """``url`` stripped, when it is an absolute http(s) URL with a host; else ``InvalidInput``."""
    text = url.strip()
    if not text:
        raise InvalidInput(f"'{field}' parameter is missing", field=field)
    if len(text) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 32 for c in text):
        raise InvalidInput(f"'{field}' is not a valid URL: {text[:100]!r}", field=field)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- raises ValueError for a bad port
    except ValueError:
        raise InvalidInput(f"'{field}' is not a valid URL: {text[:100]!r}", field=field) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput(f"'{field}' must be an http or https URL: {text[:100]!r}", field=field)
    if not parts.hostname:
        raise InvalidInput(f"'{field}' has no host: {text[:100]!r}", field=field)
    return text


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_refused_address(address: str) -> bool:
    """True for any address a webhook may not reach without ALLOW_PRIVATE_URLS."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def refusal(host: str, addresses: list[str]) -> str | None:
    """Why ``host`` may not be reached at ``addresses``, or None when every address is public."""
    if not addresses:
        return f"{host} does not resolve to any address"
    refused = [a for a in addresses if is_refused_address(a)]
    if refused:
        return f"{host} resolves to a non-public address ({refused[0]})"
    return None
