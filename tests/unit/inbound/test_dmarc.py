import pytest

from mailwright.inbound.dmarc import (
    DmarcRecord,
    evaluate,
    header_from_domain,
    is_aligned,
    organizational_domain,
    parse_record,
    select_record,
)

REJECT = DmarcRecord(policy="reject", subdomain_policy=None, adkim="r", aspf="r", pct=100)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v=DMARC1; p=reject", REJECT),
        ("v=DMARC1;p=reject;", REJECT),
        (
            "v=DMARC1; p=Quarantine; sp=none; adkim=s; aspf=s; pct=20",
            DmarcRecord("quarantine", "none", "s", "s", 20),
        ),
        ("v=DMARC1; p=none; pct=500; adkim=x", DmarcRecord("none", None, "r", "r", 100)),
        ("v=DMARC1; p=none; pct=abc", DmarcRecord("none", None, "r", "r", 100)),
        # RFC 7489 6.6.3: no valid p= but a rua= -> act as p=none; without rua= -> no record
        ("v=DMARC1; p=bogus; rua=mailto:d@example.com", DmarcRecord("none", None, "r", "r", 100)),
        ("v=DMARC1; rua=mailto:d@example.com", DmarcRecord("none", None, "r", "r", 100)),
        ("v=DMARC1; p=bogus", None),
        ("v=DMARC1; p=reject; sp=bogus", None),
        ("v=DMARC1", None),
        ("v=dmarc1; p=reject", None),
        ("p=reject; v=DMARC1", None),
        ("v=spf1 -all", None),
        ("", None),
    ],
)
def test_parse_record(text: str, expected: DmarcRecord | None) -> None:
    assert parse_record(text) == expected


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["v=spf1 -all", "v=DMARC1; p=reject"], REJECT),
        (["v=DMARC1; p=reject", "v=DMARC1; p=none"], None),  # several records: none applies
        (["hello"], None),
        ([], None),
    ],
)
def test_select_record(texts: list[str], expected: DmarcRecord | None) -> None:
    assert select_record(texts) == expected


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("example.com", "example.com"),
        ("mail.sub.example.com", "example.com"),
        ("Mail.Example.COM.", "example.com"),
        ("a.b.example.co.uk", "example.co.uk"),
        ("co.uk", "co.uk"),
        ("com", "com"),
    ],
)
def test_organizational_domain(domain: str, expected: str) -> None:
    assert organizational_domain(domain) == expected


@pytest.mark.parametrize(
    ("domain", "from_domain", "mode", "expected"),
    [
        ("example.com", "example.com", "s", True),
        ("EXAMPLE.com.", "example.com", "s", True),
        ("mail.example.com", "example.com", "s", False),
        ("mail.example.com", "example.com", "r", True),
        ("a.example.com", "b.example.com", "r", True),
        ("example.co.uk", "other.co.uk", "r", False),
        ("example.net", "example.com", "r", False),
        ("", "example.com", "r", False),
    ],
)
def test_is_aligned(domain: str, from_domain: str, mode: str, expected: bool) -> None:
    assert is_aligned(domain, from_domain, mode) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"From: Ann <ann@Example.COM>\r\n\r\n", "example.com"),
        (b"From: ann@example.com, bob@example.com\r\n\r\n", "example.com"),
        (b"From: ann@example.com, bob@example.net\r\n\r\n", None),
        (b"From: a@example.com\r\nFrom: a@example.com\r\n\r\n", None),
        (b"From: undisclosed\r\n\r\n", None),
        (b"From: <>\r\n\r\n", None),
        (b"Subject: no author\r\n\r\n", None),
        (b"\xff\xfe\x00", None),
    ],
)
def test_header_from_domain(raw: bytes, expected: str | None) -> None:
    assert header_from_domain(raw) == expected


@pytest.mark.parametrize(
    ("spf", "dkim", "result", "is_spf_aligned", "is_dkim_aligned"),
    [
        (("pass", "example.com"), [], "pass", True, False),
        (("pass", "bounce.example.com"), [], "pass", True, False),
        (("fail", "example.com"), [], "fail", False, False),
        (("pass", "example.net"), [("pass", "example.com")], "pass", False, True),
        (("pass", "example.net"), [("fail", "example.com")], "fail", False, False),
        (
            ("none", ""),
            [("pass", "example.net"), ("pass", "mail.example.com")],
            "pass",
            False,
            True,
        ),
        (("temperror", "example.com"), [("temperror", "example.com")], "fail", False, False),
    ],
)
def test_evaluate(
    spf: tuple[str, str],
    dkim: list[tuple[str, str]],
    result: str,
    is_spf_aligned: bool,
    is_dkim_aligned: bool,
) -> None:
    verdict = evaluate("example.com", REJECT, "example.com", spf=spf, dkim=dkim)

    assert (verdict.result, verdict.is_spf_aligned, verdict.is_dkim_aligned) == (
        result,
        is_spf_aligned,
        is_dkim_aligned,
    )
    assert verdict.disposition == ("reject" if result == "fail" else "none")


@pytest.mark.parametrize(
    ("from_domain", "record_domain", "subdomain_policy", "expected"),
    [
        ("example.com", "example.com", "none", "reject"),  # sp= is for subdomains only
        ("news.example.com", "example.com", "none", "none"),
        ("news.example.com", "example.com", None, "reject"),  # no sp=: p= applies
    ],
)
def test_evaluate_subdomain_policy(
    from_domain: str, record_domain: str, subdomain_policy: str | None, expected: str
) -> None:
    record = DmarcRecord("reject", subdomain_policy, "r", "r", 100)

    verdict = evaluate(from_domain, record, record_domain, spf=("fail", ""), dkim=[])

    assert verdict.policy == expected
