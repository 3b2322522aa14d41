"""Webhook URL shape and the addresses a webhook may not reach (SSRF)."""

from __future__ import annotations

import pytest

from mailwright.errors import InvalidInput
from mailwright.webhooks.urls import is_refused_address, parse_url, refusal


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hook",
        "http://example.com:8080/a?b=c",
        "http://user:pw@10.0.0.1/x",
        "  https://EXAMPLE.com  ",
    ],
)
def test_good_urls(url: str) -> None:
    assert parse_url(url) == url.strip()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "missing"),
        ("ftp://example.com/x", "http or https"),
        ("javascript:alert(1)", "http or https"),
        ("https:///path", "no host"),
        ("example.com/hook", "http or https"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://exa mple.com/", "not a valid URL"),
        ("https://example.com/" + "a" * 3000, "not a valid URL"),
    ],
)
def test_bad_urls_name_the_field(url: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_url(url)
    assert info.value.field == "url"
    assert problem in info.value.message


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("93.184.216.34", False),
        ("2606:2800:220:1:248:1893:25c8:1946", False),
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # cloud metadata
        ("fe80::1", True),
        ("fc00::1", True),
        ("224.0.0.1", True),
        ("ff02::1", True),
        ("0.0.0.0", True),
        ("::", True),
        ("240.0.0.1", True),  # reserved
        ("100.64.0.1", True),  # shared address space (RFC 6598)
        ("::ffff:127.0.0.1", True),  # IPv4-mapped loopback
        ("::ffff:93.184.216.34", False),
        ("not-an-ip", True),
    ],
)
def test_refused_addresses(address: str, refused: bool) -> None:
    assert is_refused_address(address) is refused


def test_refusal_explains() -> None:
    assert refusal("h.test", ["93.184.216.34"]) is None
    assert "non-public address (10.0.0.1)" in str(refusal("h.test", ["93.184.216.34", "10.0.0.1"]))
    assert "does not resolve" in str(refusal("h.test", []))
