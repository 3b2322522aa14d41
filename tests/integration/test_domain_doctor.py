"""The domain doctor against a loopback DNS server: a well-configured zone, broken zones, and
the API endpoint on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import httpx
import pytest

from mailwright.app import Runtime
from mailwright.domains.dkim import DkimKey, generate_key, txt_value
from mailwright.domains.doctor import DkimExpectation, DoctorPlan, diagnose
from mailwright.resolver import Resolver
from tests.support.dns import LoopbackDNS

DOMAIN = "good.test"
PLAN = DoctorPlan(
    spf_include="spf.mw.test",
    mx_target="mx.mw.test",
    is_receiving=True,
    egress=(("127.0.0.2", "mta1.mw.test"),),
)


def good_zone(domain: str, dkim_line: str, *, spf_include: str = "spf.mw.test") -> str:
    return "\n".join(
        [
            f'{domain}. 300 IN TXT "v=spf1 mx include:{spf_include} -all"',
            f'{domain}. 300 IN TXT "google-site-verification=abc"',
            f'{spf_include}. 300 IN TXT "v=spf1 ip4:127.0.0.2 ip4:127.0.0.3 -all"',
            dkim_line,
            f'_dmarc.{domain}. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{domain}"',
            f"{domain}. 300 IN MX 10 mx.mw.test.",
            f'_mta-sts.{domain}. 300 IN TXT "v=STSv1; id=20240101"',
            f'_smtp._tls.{domain}. 300 IN TXT "v=TLSRPTv1; rua=mailto:tls@{domain}"',
            "2.0.0.127.in-addr.arpa. 300 IN PTR mta1.mw.test.",
            "mta1.mw.test. 300 IN A 127.0.0.2",
            f'default._bimi.{domain}. 300 IN TXT "v=BIMI1; l=https://{domain}/logo.svg"',
        ]
    )


@pytest.fixture(scope="module")
def key() -> DkimKey:
    return generate_key("mw202405", 1024)


@pytest.fixture
def dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS() as server:
        yield server


def expectation(key: DkimKey) -> list[DkimExpectation]:
    return [DkimExpectation(key.selector, txt_value(key.public_b64))]


def dkim_line(key: DkimKey, domain: str = DOMAIN) -> str:
    return f'{key.selector}._domainkey.{domain}. 300 IN TXT "{txt_value(key.public_b64)}"'


def statuses(diagnosis) -> dict[str, str]:
    return {r.check: r.status for r in diagnosis.results}


async def test_a_well_configured_domain_passes_everything(dns: LoopbackDNS, key: DkimKey) -> None:
    dns.set_zone(good_zone(DOMAIN, dkim_line(key)))
    diagnosis = await diagnose(Resolver(dns.address, timeout=2.0), DOMAIN, PLAN, expectation(key))

    assert [r.check for r in diagnosis.results] == [
        "spf",
        "dkim",
        "dmarc",
        "dmarc_alignment",
        "mx",
        "mta_sts",
        "tls_rpt",
        "rdns",
        "bimi",
    ]
    assert {r.check: (r.status, r.fix) for r in diagnosis.results if r.status != "pass"} == {}
    assert diagnosis.status == "pass"
    spf = diagnosis.results[0]
    assert spf.found == ("v=spf1 mx include:spf.mw.test -all", "2 DNS lookups")


async def test_a_broken_zone_fails_with_fixes(dns: LoopbackDNS, key: DkimKey) -> None:
    other = generate_key("mw202405", 1024)
    dns.set_zone(
        "\n".join(
            [
                f'{DOMAIN}. 300 IN TXT "v=spf1 include:spf.mw.test +all"',
                f'{DOMAIN}. 300 IN TXT "v=spf1 mx -all"',
                dkim_line(other),
                f'_dmarc.{DOMAIN}. 300 IN TXT "v=DMARC1; p=none"',
                f"{DOMAIN}. 300 IN MX 10 elsewhere.test.",
                f'_mta-sts.{DOMAIN}. 300 IN TXT "v=STSv1; id=not-valid!"',
                f'_smtp._tls.{DOMAIN}. 300 IN TXT "v=TLSRPTv1"',
                "2.0.0.127.in-addr.arpa. 300 IN PTR mta1.mw.test.",
                "mta1.mw.test. 300 IN A 192.0.2.1",
                f'default._bimi.{DOMAIN}. 300 IN TXT "v=BIMI1; l=https://{DOMAIN}/logo.svg"',
            ]
        )
    )
    diagnosis = await diagnose(Resolver(dns.address, timeout=2.0), DOMAIN, PLAN, expectation(key))

    assert statuses(diagnosis) == {
        "spf": "fail",  # two records
        "dkim": "fail",  # another key
        "dmarc": "warn",  # p=none
        "dmarc_alignment": "warn",  # no rua
        "mx": "fail",
        "mta_sts": "fail",
        "tls_rpt": "fail",
        "rdns": "fail",  # the PTR name does not resolve back
        "bimi": "warn",  # DMARC not enforced
    }
    assert diagnosis.status == "fail"
    assert all(r.fix for r in diagnosis.results)


async def test_spf_lookups_are_counted_through_nested_includes(
    dns: LoopbackDNS, key: DkimKey
) -> None:
    # mx and two includes (3), then a chain of includes: c0 and c1 three each, c2 two: 11
    lines = [
        f'{DOMAIN}. 300 IN TXT "v=spf1 mx include:spf.mw.test include:c0.test -all"',
        'spf.mw.test. 300 IN TXT "v=spf1 ip4:127.0.0.2 -all"',
        'c0.test. 300 IN TXT "v=spf1 a mx include:c1.test -all"',
        'c1.test. 300 IN TXT "v=spf1 a mx include:c2.test -all"',
        'c2.test. 300 IN TXT "v=spf1 a mx -all"',
    ]
    dns.set_zone("\n".join(lines))
    diagnosis = await diagnose(Resolver(dns.address, timeout=2.0), DOMAIN, PLAN, expectation(key))
    spf = diagnosis.results[0]
    assert spf.status == "fail"
    assert spf.found[1] == "11 DNS lookups"
    assert "receivers stop at 10" in spf.fix


async def test_without_egress_sources_rdns_is_skipped_with_a_reason(
    dns: LoopbackDNS, key: DkimKey
) -> None:
    dns.set_zone(good_zone(DOMAIN, dkim_line(key)))
    plan = dataclasses.replace(PLAN, egress=())
    diagnosis = await diagnose(Resolver(dns.address, timeout=2.0), DOMAIN, plan, expectation(key))
    rdns = [r for r in diagnosis.results if r.check == "rdns"]
    assert [(r.status, r.found) for r in rdns] == [("warn", ("no egress sources configured",))]
    assert not [q for q in dns.queries if q[1] == "PTR"]


async def test_a_failing_nameserver_warns_instead_of_failing(
    dns: LoopbackDNS, key: DkimKey
) -> None:
    dns.set_zone(good_zone(DOMAIN, dkim_line(key)))
    dns.fail(f"_dmarc.{DOMAIN}")
    diagnosis = await diagnose(Resolver(dns.address, timeout=2.0), DOMAIN, PLAN, expectation(key))
    found = statuses(diagnosis)
    assert (found["dmarc"], found["dmarc_alignment"], found["bimi"]) == ("warn", "warn", "warn")
    assert found["spf"] == found["dkim"] == "pass"

    dns.fail("spf.mw.test")  # an include that cannot be looked up: unknown, not broken
    diagnosis = await diagnose(Resolver(dns.address, timeout=2.0), DOMAIN, PLAN, expectation(key))
    assert statuses(diagnosis)["spf"] == "warn"


async def test_doctor_endpoint(client: httpx.AsyncClient, runtime: Runtime) -> None:
    created = (await client.post("/v4/domains", data={"name": "api.test"})).json()
    dkim = next(r for r in created["sending_dns_records"] if "._domainkey." in r["name"])
    services = runtime.services
    assert (services.dns_plan.spf, services.dns_plan.target) == ("testserver", "testserver")
    services.dns_plan = dataclasses.replace(services.dns_plan, egress=PLAN.egress)
    with LoopbackDNS() as dns:
        services.resolver = Resolver(dns.address, timeout=2.0)
        zone = good_zone("api.test", f'{dkim["name"]}. 300 IN TXT "{dkim["value"]}"')
        dns.set_zone(
            zone.replace("mx.mw.test.", "testserver.").replace("spf.mw.test", "testserver")
        )
        good = await client.get("/mailwright/v1/domains/api.test/doctor")
        assert good.status_code == 200, good.text
        body = good.json()
        assert body["domain"] == "api.test"
        assert body["status"] == "pass", body
        assert body["checks"][0] == {
            "check": "spf",
            "status": "pass",
            "found": ["v=spf1 mx include:testserver -all", "2 DNS lookups"],
            "expected": "v=spf1 include:testserver ~all",
            "fix": "",
        }

        dns.set_zone('api.test. 300 IN TXT "v=spf1 -all"')
        bad = (await client.get("/mailwright/v1/domains/api.test/doctor")).json()
        assert bad["status"] == "fail"
        assert {c["check"]: c["status"] for c in bad["checks"]}["dkim"] == "fail"

    missing = await client.get("/mailwright/v1/domains/nope.test/doctor")
    assert missing.status_code == 404
    assert missing.json() == {"message": "Domain not found: nope.test"}
