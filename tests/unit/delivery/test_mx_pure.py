import random

import pytest

from mailwright.delivery.mx import (
    Destination,
    NoDestination,
    destination_from,
    literal_destination,
    order_hosts,
    site_name,
    to_ascii,
)

GMAIL = [
    "gmail-smtp-in.l.google.com",
    "alt1.gmail-smtp-in.l.google.com",
    "alt2.gmail-smtp-in.l.google.com",
    "alt3.gmail-smtp-in.l.google.com",
    "alt4.gmail-smtp-in.l.google.com",
]


@pytest.mark.parametrize(
    ("hosts", "name"),
    [
        (GMAIL, "(alt1|alt2|alt3|alt4)?.gmail-smtp-in.l.google.com"),
        (list(reversed(GMAIL)), "(alt1|alt2|alt3|alt4)?.gmail-smtp-in.l.google.com"),
        (["mx1.example.net", "mx2.example.net"], "(mx1|mx2).example.net"),
        (["MX2.Example.NET.", "mx1.example.net"], "(mx1|mx2).example.net"),
        (["mx.example.com"], "mx.example.com"),
        (["mx.a.test", "mx.b.test"], "mx.a.test,mx.b.test"),
        (
            ["mx1.example.net", "mx2.example.net", "mail.other.org"],
            "(mx1|mx2).example.net,mail.other.org",
        ),
        (["example-com.mail.protection.outlook.com"], "example-com.mail.protection.outlook.com"),
        (["localhost"], "localhost"),
        (["mx.a.test", "mx.a.test"], "mx.a.test"),
    ],
)
def test_site_name(hosts: list[str], name: str) -> None:
    assert site_name(hosts) == name


def test_domains_sharing_mx_hosts_share_a_site() -> None:
    one = destination_from("a.test", [(10, "mx1.host.test"), (20, "mx2.host.test")], None)
    two = destination_from("b.test", [(5, "mx2.host.test"), (5, "mx1.host.test")], None)
    assert isinstance(one, Destination)
    assert isinstance(two, Destination)
    assert one.site_name == two.site_name


@pytest.mark.parametrize(
    ("records", "hosts"),
    [
        ([(20, "b"), (10, "c"), (10, "a")], ("a", "c", "b")),
        ([(10, "a"), (20, "a")], ("a",)),  # each host once, at its best preference
        ([(0, "")], ()),
        ([], ()),
    ],
)
def test_order_hosts_stable(records: list[tuple[int, str]], hosts: tuple[str, ...]) -> None:
    assert order_hosts(records) == hosts


def test_order_hosts_shuffles_equal_preferences_only() -> None:
    records = [(10, f"mx{i}") for i in range(8)] + [(20, "backup")]
    orders = {order_hosts(records, random.Random(seed)) for seed in range(20)}
    assert len(orders) > 1
    assert all(order[-1] == "backup" and len(order) == 9 for order in orders)


@pytest.mark.parametrize(
    ("domain", "ascii_name"),
    [
        ("Example.COM.", "example.com"),
        (" example.com ", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
    ],
)
def test_to_ascii(domain: str, ascii_name: str) -> None:
    assert to_ascii(domain) == ascii_name


@pytest.mark.parametrize("domain", ["", ".", "a..b", "x" * 64 + ".test"])
def test_to_ascii_rejects(domain: str) -> None:
    with pytest.raises(ValueError, match="domain"):
        to_ascii(domain)


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("[127.0.0.1]", Destination("[127.0.0.1]", ("127.0.0.1",), "127.0.0.1", False)),
        ("[IPv6:::1]", Destination("[IPv6:::1]", ("::1",), "::1", False)),
        (
            "[ipv6:2001:DB8::1]",
            Destination("[ipv6:2001:DB8::1]", ("2001:db8::1",), "2001:db8::1", False),
        ),
        (
            "[999.0.0.1]",
            NoDestination("[999.0.0.1]", True, "5.1.2", "Invalid address literal [999.0.0.1]"),
        ),
        ("example.com", None),
    ],
)
def test_literal_destination(domain: str, expected: Destination | NoDestination | None) -> None:
    assert literal_destination(domain) == expected


@pytest.mark.parametrize(
    ("mx", "addresses", "expected"),
    [
        ([(10, "mx.d.test")], None, Destination("d.test", ("mx.d.test",), "mx.d.test", False)),
        ([(0, "")], None, NoDestination("d.test", True, "5.1.10", "Recipient address has null MX")),
        # A null MX next to real ones is a misconfiguration: the real ones are used.
        (
            [(0, ""), (10, "mx.d.test")],
            None,
            Destination("d.test", ("mx.d.test",), "mx.d.test", False),
        ),
        ([], ["192.0.2.1"], Destination("d.test", ("d.test",), "d.test", True)),
        (
            [],
            [],
            NoDestination("d.test", True, "5.1.2", "Domain d.test has no MX and no A/AAAA records"),
        ),
    ],
)
def test_destination_from(
    mx: list[tuple[int, str]],
    addresses: list[str] | None,
    expected: Destination | NoDestination,
) -> None:
    assert destination_from("d.test", mx, addresses) == expected
