"""The domain doctor: look up everything a receiver looks at, then judge it (``diagnosis.py``).

All first-level lookups run concurrently; the SPF includes are then followed level by level
(each level concurrently) so the lookup count covers the whole chain, up to a bound.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

from mailwright.domains import spf
from mailwright.domains.diagnosis import (
    CheckResult,
    Found,
    Status,
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
from mailwright.domains.records import spf_value
from mailwright.resolver import DnsLookupFailed, Resolver

# Each level of includes is one round of lookups; a record nesting deeper than this is far
# over the 10-lookup limit anyway.
MAX_SPF_NAMES = 40


@dataclass(frozen=True, slots=True)
class DkimExpectation:
    selector: str
    value: str  # the TXT value we ask for, e.g. "k=rsa; p=..."
    state: str = "active"  # "active" must be published; "pending"/"retiring" only warn


@dataclass(frozen=True, slots=True)
class DoctorPlan:
    """What the domain should publish and which of our addresses send for it."""

    spf_include: str  # as DnsPlan.spf: host, IP or network
    mx_target: str
    is_receiving: bool
    egress: tuple[tuple[str, str], ...]  # (address, HELO name)


@dataclass(frozen=True, slots=True)
class Diagnosis:
    domain: str
    results: tuple[CheckResult, ...]

    @property
    def status(self) -> Status:
        return worst(self.results)

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "status": self.status,
            "checks": [r.to_json() for r in self.results],
        }


async def _found(lookup: Awaitable[list[str]]) -> Found:
    try:
        return tuple(await lookup)
    except DnsLookupFailed:
        return None


async def _mx_hosts(resolver: Resolver, name: str) -> list[str]:
    return [host for _, host in await resolver.mx(name)]


async def diagnose(
    resolver: Resolver, domain: str, plan: DoctorPlan, dkim: Sequence[DkimExpectation]
) -> Diagnosis:
    txt_names = [domain, f"_dmarc.{domain}", f"_mta-sts.{domain}", f"_smtp._tls.{domain}"]
    txt_names += [f"default._bimi.{domain}"] + [f"{k.selector}._domainkey.{domain}" for k in dkim]
    found_txt, mx, rdns = await asyncio.gather(
        asyncio.gather(*(_found(resolver.txt(n)) for n in txt_names)),
        _found(_mx_hosts(resolver, domain)),
        asyncio.gather(*(_rdns(resolver, address, helo) for address, helo in plan.egress)),
    )
    txt = dict(zip(txt_names, found_txt, strict=True))
    root = txt[domain]
    includes, unresolved = await _spf_chain(resolver, root or ())
    dmarc_txt = txt[f"_dmarc.{domain}"]
    results = [
        check_spf(domain, root, spf_value(plan.spf_include), includes, unresolved),
        *(
            check_dkim(
                domain, k.selector, k.value, txt[f"{k.selector}._domainkey.{domain}"], state=k.state
            )
            for k in dkim
        ),
        check_dmarc(domain, dmarc_txt),
        check_dmarc_alignment(domain, dmarc_txt),
        check_mx(domain, mx, plan.mx_target, is_receiving=plan.is_receiving),
        check_mta_sts(domain, txt[f"_mta-sts.{domain}"]),
        check_tls_rpt(domain, txt[f"_smtp._tls.{domain}"]),
        *(rdns or [check_no_egress()]),
        check_bimi(domain, txt[f"default._bimi.{domain}"], dmarc_record(dmarc_txt)),
    ]
    return Diagnosis(domain, tuple(results))


async def _spf_chain(
    resolver: Resolver, root: Sequence[str]
) -> tuple[dict[str, tuple[str, ...]], set[str]]:
    """The TXT strings at every name the domain's SPF record includes, recursively, and the
    names whose lookup failed."""
    published: dict[str, tuple[str, ...]] = {}
    unresolved: set[str] = set()
    level = [t for record in spf.spf_records(root) for t in spf.targets(record)]
    while level and len(published) < MAX_SPF_NAMES:
        names = list(dict.fromkeys(n for n in level if n not in published))[:MAX_SPF_NAMES]
        answers = await asyncio.gather(*(_found(resolver.txt(n)) for n in names))
        level = []
        for name, answer in zip(names, answers, strict=True):
            published[name] = answer or ()
            if answer is None:
                unresolved.add(name)
            records = spf.spf_records(answer or ())
            if len(records) == 1:
                level += spf.targets(records[0])
    return published, unresolved


async def _rdns(resolver: Resolver, address: str, helo: str) -> CheckResult:
    reverse = ipaddress.ip_address(address).reverse_pointer
    ptr = await _found(resolver.ptr(reverse))
    names = list(ptr or ())
    forward = await asyncio.gather(*(_found(resolver.addresses(n)) for n in names))
    return check_rdns(address, helo, ptr, dict(zip(names, forward, strict=True)))
