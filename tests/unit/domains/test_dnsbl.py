import pytest

from mailwright.domains.dnsbl import Verdict, judge, query_name, target_kind


@pytest.mark.parametrize(
    ("target", "zone", "expected"),
    [
        ("192.0.2.10", "zen.spamhaus.org", "10.2.0.192.zen.spamhaus.org"),
        ("127.0.0.2", "bl.test", "2.0.0.127.bl.test"),
        (
            "2001:db8::1",
            "zen.spamhaus.org",
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org",
        ),
        ("Mail.Example.COM.", "dbl.spamhaus.org", "mail.example.com.dbl.spamhaus.org"),
    ],
)
def test_query_name(target: str, zone: str, expected: str) -> None:
    assert query_name(target, zone) == expected


@pytest.mark.parametrize(
    ("target", "kind"), [("192.0.2.1", "ip"), ("2001:db8::1", "ip"), ("example.com", "domain")]
)
def test_target_kind(target: str, kind: str) -> None:
    assert target_kind(target) == kind


@pytest.mark.parametrize(
    ("addresses", "txt", "expected"),
    [
        pytest.param([], [], Verdict("clean"), id="nxdomain"),
        pytest.param(
            ["127.0.0.2"],
            ["Listed by SBL, see https://check.spamhaus.org/"],
            Verdict("listed", ("127.0.0.2",), "Listed by SBL, see https://check.spamhaus.org/"),
            id="listed-with-reason",
        ),
        pytest.param(
            ["127.0.0.4", "127.0.0.2"],
            ["a", "b"],
            Verdict("listed", ("127.0.0.2", "127.0.0.4"), "a b"),
            id="several-codes",
        ),
        pytest.param(
            ["127.255.255.254"],
            [],
            Verdict(
                "error",
                ("127.255.255.254",),
                "the list refused the query (public resolver or quota)",
            ),
            id="spamhaus-refused",
        ),
        pytest.param(
            ["127.0.1.255"],
            [],
            Verdict(
                "error", ("127.0.1.255",), "the list refused the query (public resolver or quota)"
            ),
            id="dbl-ip-as-domain",
        ),
        pytest.param(["192.0.2.1"], [], Verdict("clean"), id="outside-127-is-not-a-listing"),
        pytest.param(None, [], Verdict("error", reason="DNS lookup failed"), id="lookup-failed"),
    ],
)
def test_judge(addresses, txt, expected: Verdict) -> None:
    assert judge(addresses, txt) == expected
