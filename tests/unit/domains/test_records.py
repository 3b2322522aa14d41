from typing import Any

import pytest

from mailwright.domains.records import (
    DnsRecord,
    receiving_records,
    sending_records,
    spf_mechanism,
    spf_value,
)

KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtest"


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        pytest.param(
            DnsRecord("TXT", "example.com", "v=spf1 include:spf.mw.test ~all"),
            {
                "record_type": "TXT",
                "name": "example.com",
                "value": "v=spf1 include:spf.mw.test ~all",
                "valid": "unknown",
                "cached": [],
                "is_active": True,
            },
            id="txt-unchecked",
        ),
        pytest.param(
            DnsRecord(
                "MX",
                "example.com",
                "mxa.mw.test",
                priority=10,
                valid="valid",
                cached=("mxa.mw.test", "mxb.mw.test"),
            ),
            {
                "record_type": "MX",
                "name": "example.com",
                "value": "mxa.mw.test",
                "priority": "10",
                "valid": "valid",
                "cached": ["mxa.mw.test", "mxb.mw.test"],
                "is_active": True,
            },
            id="mx-priority-is-a-string",
        ),
        pytest.param(
            DnsRecord("CNAME", "email.example.com", "track.mw.test", valid="invalid"),
            {
                "record_type": "CNAME",
                "name": "email.example.com",
                "value": "track.mw.test",
                "valid": "invalid",
                "cached": [],
                "is_active": True,
            },
            id="cname-invalid",
        ),
    ],
)
def test_to_json(record: DnsRecord, expected: dict[str, Any]) -> None:
    assert record.to_json() == expected


@pytest.mark.parametrize(
    ("source", "mechanism"),
    [
        ("spf.mw.test", "include:spf.mw.test"),
        ("192.0.2.10", "ip4:192.0.2.10"),
        ("192.0.2.0/24", "ip4:192.0.2.0/24"),
        ("192.0.2.7/24", "ip4:192.0.2.0/24"),
        ("2001:db8::1", "ip6:2001:db8::1"),
        ("2001:db8::/32", "ip6:2001:db8::/32"),
    ],
)
def test_spf_mechanism(source: str, mechanism: str) -> None:
    assert spf_mechanism(source) == mechanism


@pytest.mark.parametrize(
    ("spf_include", "value"),
    [
        ("spf.mw.test", "v=spf1 include:spf.mw.test ~all"),
        ("192.0.2.10", "v=spf1 ip4:192.0.2.10 ~all"),
        ("192.0.2.10 2001:db8::1", "v=spf1 ip4:192.0.2.10 ip6:2001:db8::1 ~all"),
    ],
)
def test_spf_value(spf_include: str, value: str) -> None:
    assert spf_value(spf_include) == value


def test_sending_records() -> None:
    records = sending_records(
        "Example.COM.",
        selector="mw202405",
        public_b64=KEY,
        spf_include="spf.mw.test",
        tracking_target="track.mw.test.",
    )
    assert records == [
        DnsRecord("TXT", "example.com", "v=spf1 include:spf.mw.test ~all"),
        DnsRecord("TXT", "mw202405._domainkey.example.com", f"k=rsa; p={KEY}"),
        DnsRecord("CNAME", "email.example.com", "track.mw.test"),
    ]


def test_sending_records_custom_web_prefix() -> None:
    records = sending_records(
        "example.com",
        selector="s1",
        public_b64=KEY,
        spf_include="192.0.2.10",
        tracking_target="track.mw.test",
        web_prefix="links",
    )
    assert [(r.record_type, r.name) for r in records] == [
        ("TXT", "example.com"),
        ("TXT", "s1._domainkey.example.com"),
        ("CNAME", "links.example.com"),
    ]
    assert records[0].value == "v=spf1 ip4:192.0.2.10 ~all"


def test_receiving_records() -> None:
    records = receiving_records("example.com", mx_hosts=["mxa.mw.test", "MXB.mw.test."])
    assert [r.to_json() for r in records] == [
        {
            "record_type": "MX",
            "name": "example.com",
            "value": host,
            "priority": "10",
            "valid": "unknown",
            "cached": [],
            "is_active": True,
        }
        for host in ("mxa.mw.test", "mxb.mw.test")
    ]
