import pytest

from mailwright.domains.diagnosis import (
    CheckResult,
    check_bimi,
    check_dkim,
    check_dmarc,
    check_dmarc_alignment,
    check_mta_sts,
    check_mx,
    check_no_egress,
    check_rdns,
    check_spf,
    check_tls_rpt,
    dmarc_record,
    worst,
)

D = "example.test"
OURS = "v=spf1 include:spf.mw.test ~all"
INCLUDED = {"spf.mw.test": ("v=spf1 ip4:192.0.2.0/24 -all",)}


@pytest.mark.parametrize(
    ("txt", "published", "status", "fix_part"),
    [
        pytest.param(("v=spf1 include:spf.mw.test -all",), INCLUDED, "pass", "", id="good"),
        pytest.param(None, {}, "warn", "DNS error", id="lookup-failed"),
        pytest.param(("google-site-verification=x",), {}, "fail", "Publish one TXT", id="none"),
        pytest.param(
            ("v=spf1 include:spf.mw.test -all", "v=spf1 mx -all"),
            INCLUDED,
            "fail",
            "Merge them",
            id="two-records",
        ),
        pytest.param(("v=spf1 mx -all",), {}, "fail", "Add include:spf.mw.test", id="not-ours"),
        pytest.param(
            ("v=spf1 include:spf.mw.test " + " ".join(f"include:x{n}.test" for n in range(10)),),
            INCLUDED | {f"x{n}.test": ("v=spf1 -all",) for n in range(10)},
            "fail",
            "11 DNS lookups",
            id="over-ten-lookups",
        ),
        pytest.param(
            ("v=spf1 include:spf.mw.test include:gone.test -all",),
            INCLUDED,
            "fail",
            "gone.test",
            id="broken-include",
        ),
        pytest.param(("v=spf1 include:spf.mw.test +all",), INCLUDED, "fail", "+all", id="plus-all"),
    ],
)
def test_spf(txt, published, status: str, fix_part: str) -> None:
    result = check_spf(D, txt, OURS, published)
    assert (result.check, result.status) == ("spf", status)
    assert fix_part in result.fix
    assert result.expected == OURS


def test_spf_include_that_could_not_be_looked_up_warns() -> None:
    record = ("v=spf1 include:spf.mw.test include:down.test -all",)
    assert check_spf(D, record, OURS, INCLUDED, {"down.test"}).status == "warn"
    assert check_spf(D, record, OURS, INCLUDED).status == "fail"


def test_spf_pass_reports_the_lookup_count() -> None:
    result = check_spf(D, ("v=spf1 mx include:spf.mw.test -all",), OURS, INCLUDED)
    assert result.found == ("v=spf1 mx include:spf.mw.test -all", "2 DNS lookups")
    assert result.fix == ""


KEY = "k=rsa; p=MIIBIjANBgkqh"


@pytest.mark.parametrize(
    ("txt", "state", "status", "fix_part"),
    [
        pytest.param(("v=DKIM1; k=rsa; p=MIIBIjAN Bgkqh",), "active", "pass", "", id="match"),
        pytest.param((), "active", "fail", "Publish a TXT record at s1._domainkey", id="absent"),
        pytest.param(("v=DKIM1; p=",), "active", "fail", "revoked", id="revoked"),
        pytest.param(("k=rsa; p=OTHER",), "active", "fail", "not ours", id="other-key"),
        pytest.param((), "pending", "warn", "Publish", id="pending-absent-warns"),
        pytest.param(None, "active", "warn", "DNS error", id="lookup-failed"),
    ],
)
def test_dkim(txt, state: str, status: str, fix_part: str) -> None:
    result = check_dkim(D, "s1", KEY, txt, state=state)
    assert result.status == status
    assert fix_part in result.fix


@pytest.mark.parametrize(
    ("txt", "status", "fix_part"),
    [
        pytest.param(("v=DMARC1; p=reject; rua=mailto:d@example.test",), "pass", "", id="reject"),
        pytest.param(("v=DMARC1;p=quarantine",), "pass", "", id="quarantine"),
        pytest.param(("v=DMARC1; p=none",), "warn", "p=quarantine", id="none-monitors"),
        pytest.param(("v=DMARC1; p=reject; pct=50",), "warn", "pct=50", id="partial-pct"),
        pytest.param((), "fail", "Publish a DMARC record", id="absent"),
        pytest.param(("v=DMARC1; p=none", "v=DMARC1; p=reject"), "fail", "exactly one", id="two"),
        pytest.param(("v=DMARC1; p=block",), "fail", "not valid DMARC", id="bad-policy"),
        pytest.param(("v=DMARC1; p=reject; adkim=x",), "fail", "not valid", id="bad-adkim"),
        pytest.param(None, "warn", "DNS error", id="lookup-failed"),
    ],
)
def test_dmarc(txt, status: str, fix_part: str) -> None:
    result = check_dmarc(D, txt)
    assert result.status == status
    assert fix_part in result.fix


@pytest.mark.parametrize(
    ("txt", "status", "fix_part"),
    [
        pytest.param(
            ("v=DMARC1; p=none; rua=mailto:r@example.test; adkim=s",), "pass", "", id="ok"
        ),
        pytest.param(("v=DMARC1; p=reject",), "warn", "Add rua=", id="no-rua"),
        pytest.param(("v=DMARC1; p=reject; rua=https://x.test",), "fail", "mailto", id="bad-rua"),
        pytest.param((), "warn", "valid DMARC record first", id="no-dmarc"),
    ],
)
def test_dmarc_alignment(txt, status: str, fix_part: str) -> None:
    result = check_dmarc_alignment(D, txt)
    assert result.status == status
    assert fix_part in result.fix


def test_dmarc_alignment_shows_the_modes() -> None:
    result = check_dmarc_alignment(D, ("v=DMARC1; p=none; rua=mailto:r@x.test; aspf=s",))
    assert result.found == ("adkim=r", "aspf=s", "rua=mailto:r@x.test")


@pytest.mark.parametrize(
    ("hosts", "receiving", "status", "fix_part"),
    [
        pytest.param(("mx.mw.test",), True, "pass", "", id="ours"),
        pytest.param(("MX.mw.test", "backup.test"), True, "warn", "backup.test", id="others-too"),
        pytest.param((), True, "fail", "Publish an MX record", id="absent"),
        pytest.param(("",), True, "fail", "null MX", id="null-mx"),
        pytest.param(("other.test",), True, "fail", "10 mx.mw.test", id="elsewhere"),
        pytest.param(None, True, "warn", "DNS error", id="lookup-failed"),
        pytest.param(("other.test",), False, "pass", "", id="not-receiving"),
    ],
)
def test_mx(hosts, receiving: bool, status: str, fix_part: str) -> None:
    result = check_mx(D, hosts, "mx.mw.test", is_receiving=receiving)
    assert result.status == status
    assert fix_part in result.fix


@pytest.mark.parametrize(
    ("txt", "status", "fix_part"),
    [
        pytest.param(("v=STSv1; id=20240101T000000",), "pass", "", id="good"),
        pytest.param(("v=STSv1;id=abc",), "pass", "", id="no-space"),
        pytest.param((), "warn", "Optional", id="absent"),
        pytest.param(("v=STSv1; id=has-dash",), "fail", "id=", id="bad-id"),
        pytest.param(("v=STSv1",), "fail", "id=", id="no-id"),
        pytest.param(("v=STSv1; id=a", "v=STSv1; id=b"), "fail", "one", id="two"),
    ],
)
def test_mta_sts(txt, status: str, fix_part: str) -> None:
    result = check_mta_sts(D, txt)
    assert result.status == status
    assert fix_part in result.fix


@pytest.mark.parametrize(
    ("txt", "status", "fix_part"),
    [
        pytest.param(("v=TLSRPTv1; rua=mailto:t@example.test",), "pass", "", id="mailto"),
        pytest.param(("v=TLSRPTv1;rua=https://r.test/x,mailto:a@b.test",), "pass", "", id="both"),
        pytest.param((), "warn", "Optional", id="absent"),
        pytest.param(("v=TLSRPTv1",), "fail", "rua=", id="no-rua"),
        pytest.param(("v=TLSRPTv1; rua=ftp://x",), "fail", "mailto: or https:", id="bad-uri"),
    ],
)
def test_tls_rpt(txt, status: str, fix_part: str) -> None:
    result = check_tls_rpt(D, txt)
    assert result.status == status
    assert fix_part in result.fix


@pytest.mark.parametrize(
    ("ptr", "forward", "status", "fix_part"),
    [
        pytest.param(("mta1.mw.test",), {"mta1.mw.test": ("192.0.2.10",)}, "pass", "", id="ok"),
        pytest.param((), {}, "fail", "reverse DNS to mta1.mw.test", id="no-ptr"),
        pytest.param(
            ("mta1.mw.test",),
            {"mta1.mw.test": ("192.0.2.99",)},
            "fail",
            "resolve back",
            id="fcrdns",
        ),
        pytest.param(
            ("other.mw.test",),
            {"other.mw.test": ("192.0.2.10",)},
            "warn",
            "192.0.2.10=other.mw.test",
            id="helo-differs",
        ),
        pytest.param(None, {}, "warn", "DNS error", id="lookup-failed"),
    ],
)
def test_rdns(ptr, forward, status: str, fix_part: str) -> None:
    result = check_rdns("192.0.2.10", "mta1.mw.test", ptr, forward)
    assert (result.check, result.status) == ("rdns", status)
    assert fix_part in result.fix


def test_no_egress_is_explained() -> None:
    result = check_no_egress()
    assert result.status == "warn"
    assert "MAILWRIGHT_EGRESS_SOURCES" in result.fix


ENFORCED = dmarc_record(("v=DMARC1; p=reject",))


@pytest.mark.parametrize(
    ("txt", "dmarc", "status", "fix_part"),
    [
        pytest.param(("v=BIMI1; l=https://x.test/l.svg",), ENFORCED, "pass", "", id="good"),
        pytest.param((), ENFORCED, "warn", "Optional", id="absent"),
        pytest.param(
            ("v=BIMI1; l=https://x.test/l.svg",),
            dmarc_record(("v=DMARC1; p=none",)),
            "warn",
            "DMARC is enforced",
            id="dmarc-none",
        ),
        pytest.param(
            ("v=BIMI1; l=https://x.test/l.svg",),
            dmarc_record(("v=DMARC1; p=reject; pct=20",)),
            "warn",
            "pct=100",
            id="dmarc-partial",
        ),
        pytest.param(("v=BIMI1; l=http://x.test/l.svg",), ENFORCED, "warn", "https://", id="http"),
    ],
)
def test_bimi_only_warns(txt, dmarc, status: str, fix_part: str) -> None:
    result = check_bimi(D, txt, dmarc)
    assert result.status == status
    assert fix_part in result.fix


def test_worst() -> None:
    def r(status: str) -> CheckResult:
        return CheckResult("x", status, (), "")  # type: ignore[arg-type]

    assert worst([]) == "pass"
    assert worst([r("pass"), r("warn")]) == "warn"
    assert worst([r("warn"), r("fail"), r("pass")]) == "fail"
