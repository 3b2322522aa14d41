"""Where a request comes from: allowed IP ranges per key and the client behind trusted proxies.

Pure: no I/O. The peer address comes from the connection; ``X-Forwarded-For`` is believed only
as far as it was written by proxies we were told to trust.
"""

from __future__ import annotations

import ipaddress

from mailwright.errors import InvalidInput

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_RANGES = 100


def parse_ranges(raw: str, *, field: str = "allowed_ips") -> tuple[Network, ...]:
    """``"10.0.0.0/8, 2001:db8::/32 192.0.2.7"`` -> networks (a bare address is a /32 or /128)."""
    parts = raw.replace(",", " ").split()
    if len(parts) > MAX_RANGES:
        raise InvalidInput(f"'{field}' may name at most {MAX_RANGES} ranges", field=field)
    try:
        return tuple(ipaddress.ip_network(part, strict=False) for part in parts)
    except ValueError as exc:
        raise InvalidInput(
            f"'{field}' must be IP addresses or CIDR ranges such as 203.0.113.0/24 ({exc})",
            field=field,
        ) from None


def format_ranges(ranges: tuple[Network, ...]) -> str | None:
    """Stored form: comma-separated CIDRs, or None for "from anywhere"."""
    return ",".join(str(n) for n in ranges) or None


def is_allowed(ranges: tuple[Network, ...], client: str | None) -> bool:
    """No ranges: any client. Otherwise the client address must fall in one of them."""
    if not ranges:
        return True
    address = _address(client)
    if address is None:
        return False
    return any(address in network for network in ranges if network.version == address.version)


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]
) -> str | None:
    """The client's address: the connection's peer, unless that peer is a trusted proxy, in which
    case ``X-Forwarded-For`` is read from the right (each proxy appends the address it saw) and
    the first address not itself a trusted proxy is the client.

    >>> client_address("10.0.0.2", "198.51.100.7, 10.0.0.1", parse_ranges("10.0.0.0/8"))
    '198.51.100.7'
    """
    if not _is_trusted(peer, trusted) or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    for hop in reversed(hops):
        if _address(hop) is None:
            return peer  # a garbled header: trust only what we saw ourselves
        if not _is_trusted(hop, trusted):
            return hop
    return hops[0]  # every hop is a trusted proxy: the first is the origin


def _is_trusted(host: str | None, trusted: tuple[Network, ...]) -> bool:
    address = _address(host)
    return address is not None and any(
        address in network for network in trusted if network.version == address.version
    )


def _address(host: str | None) -> Address | None:
    if not host:
        return None
    try:
        address = ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
