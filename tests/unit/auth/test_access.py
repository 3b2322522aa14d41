"""Allowed IP ranges and the client address behind trusted proxies (pure)."""

from __future__ import annotations

import pytest

from mailwright.auth.access import client_address, format_ranges, is_allowed, parse_ranges
from mailwright.errors import InvalidInput

PROXIES = parse_ranges("10.0.0.0/8, fd00::/8")


def test_ranges_parse_addresses_and_networks() -> None:
    ranges = parse_ranges("10.1.2.3, ::1 192.0.2.0/24,,")
    assert format_ranges(ranges) == "10.1.2.3/32,::1/128,192.0.2.0/24"
    assert format_ranges(()) is None


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "host.example", "1.2.3.4/8/1", "::g"])
def test_bad_ranges_name_the_field(bad: str) -> None:
    with pytest.raises(InvalidInput, match="allowed_ips"):
        parse_ranges(bad)


@pytest.mark.parametrize(
    ("ranges", "client", "expected"),
    [
        ("", None, True),  # no ranges: from anywhere
        ("", "198.51.100.1", True),
        ("198.51.100.0/24", "198.51.100.1", True),
        ("198.51.100.0/24", "198.51.101.1", False),
        ("198.51.100.0/24", None, False),  # unknown client address
        ("198.51.100.0/24", "garbage", False),
        ("198.51.100.0/24", "::ffff:198.51.100.1", True),  # IPv4-mapped IPv6
        ("2001:db8::/32", "2001:db8::1", True),
        ("2001:db8::/32", "198.51.100.1", False),
    ],
)
def test_is_allowed(ranges: str, client: str | None, expected: bool) -> None:
    assert is_allowed(parse_ranges(ranges), client) is expected


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("198.51.100.1", "203.0.113.9", "198.51.100.1"),  # not a proxy: header ignored
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "203.0.113.9", "203.0.113.9"),
        ("10.0.0.2", "203.0.113.9, 10.0.0.1", "203.0.113.9"),  # two proxies
        ("10.0.0.2", "192.0.2.66, 203.0.113.9", "203.0.113.9"),  # a forged first hop
        ("10.0.0.2", "10.0.0.3, 10.0.0.1", "10.0.0.3"),  # all proxies: the origin
        ("10.0.0.2", "203.0.113.9, nonsense", "10.0.0.2"),  # garbled: the peer
        ("fd00::2", "2001:db8::7", "2001:db8::7"),
        (None, "203.0.113.9", None),
    ],
)
def test_client_address(peer: str | None, forwarded: str | None, expected: str | None) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


def test_no_trusted_proxies_means_the_peer() -> None:
    assert client_address("10.0.0.2", "203.0.113.9", ()) == "10.0.0.2"
