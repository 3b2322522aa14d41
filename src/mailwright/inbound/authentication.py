"""SPF, DKIM and DMARC for one inbound message, as one ``AuthResults`` value.

``check`` runs SPF (pyspf) and DKIM (dkimpy) in worker threads whose DNS lookups are answered
by our ``Resolver`` (see ``inbound/lookups.py``), looks up the DMARC record meanwhile, then
decides DMARC. The whole check is bounded by ``time_budget`` seconds and never raises on what
the sender controls (message bytes, addresses, DNS records): each problem is a temperror or
permerror.

``AuthResults.header`` is an RFC 8601 Authentication-Results value; ``AuthResults.to_json``
the shape stored with route forwards and events:

    {"spf": "pass", "dkim": "pass", "dmarc": "pass",
     "details": {
       "spf": {"result": "pass", "domain": "example.com", "identity": "mailfrom"},
       "dkim": [{"result": "pass", "domain": "example.com", "selector": "s1"}],
       "dmarc": {"result": "pass", "policy": "reject", "disposition": "none",
                 "from_domain": "example.com", "record_domain": "example.com",
                 "adkim": "r", "aspf": "r", "spf_aligned": true, "dkim_aligned": true,
                 "dkim_domain": "example.com"}}}

The top-level ``dkim`` is "pass" when any signature passed, "none" when there is no
signature, and otherwise the topmost signature's result.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TypedDict

from mailwright.inbound.dmarc import (
    DmarcRecord,
    DmarcResult,
    evaluate,
    header_from_domain,
    organizational_domain,
    select_record,
)
from mailwright.inbound.lookups import ThreadLookups
from mailwright.inbound.sender_policy import SpfResult, check_spf
from mailwright.inbound.signatures import DkimResult, verify_all
from mailwright.resolver import DnsLookupFailed, Resolver

# RFC 7208 4.6.4: an SPF check SHOULD be allowed at least 20 seconds in all.
DEFAULT_TIME_BUDGET = 20.0

_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+\-.^_`{|}~@]+$")
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


class SpfJson(TypedDict):
    result: str
    domain: str
    identity: str


class DkimJson(TypedDict):
    result: str
    domain: str
    selector: str


class DmarcJson(TypedDict):
    result: str
    policy: str
    disposition: str
    from_domain: str
    record_domain: str
    adkim: str
    aspf: str
    spf_aligned: bool
    dkim_aligned: bool
    dkim_domain: str


class AuthDetailsJson(TypedDict):
    spf: SpfJson
    dkim: list[DkimJson]
    dmarc: DmarcJson


class AuthResultsJson(TypedDict):
    spf: str
    dkim: str
    dmarc: str
    details: AuthDetailsJson


@dataclass(frozen=True, slots=True)
class AuthResults:
    spf: SpfResult
    dkim: tuple[DkimResult, ...]  # one per DKIM-Signature, topmost first
    dmarc: DmarcResult

    @property
    def dkim_summary(self) -> str:
        if not self.dkim:
            return "none"
        if any(d.result == "pass" for d in self.dkim):
            return "pass"
        return self.dkim[0].result

    def header(self, authserv_id: str) -> str:
        """The Authentication-Results value (RFC 8601 2.2), unfolded: ``id; spf=...; ...``."""
        spf_property = "smtp.mailfrom" if self.spf.identity == "mailfrom" else "smtp.helo"
        parts = [
            _value(authserv_id),
            _join(f"spf={self.spf.result}", _prop(spf_property, self.spf.domain)),
        ]
        parts += [
            _join(f"dkim={d.result}", _prop("header.d", d.domain), _prop("header.s", d.selector))
            for d in self.dkim
        ] or ["dkim=none"]
        dmarc = self.dmarc
        comment = f" (p={dmarc.policy} dis={dmarc.disposition})" if dmarc.record_domain else ""
        parts.append(
            _join(f"dmarc={dmarc.result}{comment}", _prop("header.from", dmarc.from_domain))
        )
        return "; ".join(parts)

    def to_json(self) -> AuthResultsJson:
        dmarc = self.dmarc
        return {
            "spf": self.spf.result,
            "dkim": self.dkim_summary,
            "dmarc": dmarc.result,
            "details": {
                "spf": {
                    "result": self.spf.result,
                    "domain": self.spf.domain,
                    "identity": self.spf.identity,
                },
                "dkim": [
                    {"result": d.result, "domain": d.domain, "selector": d.selector}
                    for d in self.dkim
                ],
                "dmarc": {
                    "result": dmarc.result,
                    "policy": dmarc.policy,
                    "disposition": dmarc.disposition,
                    "from_domain": dmarc.from_domain,
                    "record_domain": dmarc.record_domain,
                    "adkim": dmarc.adkim,
                    "aspf": dmarc.aspf,
                    "spf_aligned": dmarc.is_spf_aligned,
                    "dkim_aligned": dmarc.is_dkim_aligned,
                    "dkim_domain": dmarc.dkim_domain,
                },
            },
        }


async def check(
    raw: bytes,
    *,
    ip: str,
    helo: str,
    mail_from: str,
    resolver: Resolver,
    now: float,
    time_budget: float = DEFAULT_TIME_BUDGET,
    executor: Executor | None = None,
) -> AuthResults:
    """SPF for (ip, helo, mail_from), every DKIM signature of ``raw``, then DMARC.

    pyspf and dkimpy are synchronous and spend their time waiting for DNS answers, so they run
    in ``executor``'s threads (the loop's default pool, sized for CPU work, when None)."""
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + time_budget
    from_domain = header_from_domain(raw)
    spf_check = functools.partial(
        check_spf,
        ThreadLookups(resolver, loop, deadline=deadline),
        ip=ip,
        helo=helo,
        mail_from=mail_from,
        now=now,
    )
    dkim_check = functools.partial(
        verify_all, raw, ThreadLookups(resolver, loop, deadline=deadline)
    )
    spf, dkim, found = await asyncio.gather(
        loop.run_in_executor(executor, spf_check),
        loop.run_in_executor(executor, dkim_check),
        _find_record(from_domain, resolver, deadline),
    )
    return AuthResults(spf, tuple(dkim), _decide_dmarc(from_domain, found, spf, dkim))


_Found = tuple[DmarcRecord, str] | str | None  # (record, where) | temperror reason | no record


async def _find_record(from_domain: str | None, resolver: Resolver, deadline: float) -> _Found:
    """RFC 7489 6.6.3: the From domain's record, else its organizational domain's."""
    if from_domain is None or not _is_domain_name(from_domain):
        return None
    names = dict.fromkeys([from_domain, organizational_domain(from_domain)])
    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            for name in names:
                record = select_record(await resolver.txt(f"_dmarc.{name}"))
                if record is not None:
                    return record, name
    except DnsLookupFailed as exc:
        return str(exc)
    except TimeoutError:
        return "time budget spent looking up the DMARC record"
    return None


def _decide_dmarc(
    from_domain: str | None, found: _Found, spf: SpfResult, dkim: list[DkimResult]
) -> DmarcResult:
    if from_domain is None or not _is_domain_name(from_domain):
        # RFC 7489 6.6.1: no single, well-formed author domain to evaluate
        return DmarcResult("permerror", "none", from_domain or "", reason="no usable From domain")
    if isinstance(found, str):
        return DmarcResult("temperror", "none", from_domain, reason=found)
    if found is None:
        return DmarcResult("none", "none", from_domain)
    record, record_domain = found
    return evaluate(
        from_domain,
        record,
        record_domain,
        spf=(spf.result, spf.domain),
        dkim=[(d.result, d.domain) for d in dkim],
    )


def _is_domain_name(name: str) -> bool:
    labels = name.split(".")
    return len(name) <= 253 and len(labels) > 1 and all(_LABEL.match(label) for label in labels)


def _value(text: str) -> str:
    """A token as is, anything else as an RFC 2045 quoted-string."""
    if _TOKEN.match(text):
        return text
    cleaned = "".join(c for c in text if c.isprintable() and c not in "\r\n")
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _join(*words: str) -> str:
    return " ".join(w for w in words if w)


def _prop(name: str, value: str) -> str:
    return f"{name}={_value(value)}" if value else ""
