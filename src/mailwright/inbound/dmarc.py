"""DMARC (RFC 7489) policy records, identifier alignment and the verdict. Pure: no I/O.

The caller looks up ``_dmarc.<From domain>`` and, when that has no record, ``_dmarc.<org
domain>`` (6.6.3), then hands the TXT strings here. The organizational domain is the Public
Suffix List's registrable domain (3.2), from the list ``publicsuffixlist`` ships: no fetch.

Verdict (6.6.2): pass when SPF passed for a domain aligned with the From domain, or any DKIM
signature passed for an aligned d=; fail otherwise. Relaxed alignment compares organizational
domains, strict compares the names exactly (3.1).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import compat32
from email.utils import getaddresses

from publicsuffixlist import PublicSuffixList

DMARC_RESULTS = ("pass", "fail", "none", "temperror", "permerror")
POLICIES = ("none", "quarantine", "reject")


@dataclass(frozen=True, slots=True)
class DmarcRecord:
    policy: str  # p=, one of POLICIES
    subdomain_policy: str | None  # sp=, applies when the record came from the org domain
    adkim: str  # "r" (relaxed, the default) or "s" (strict)
    aspf: str
    pct: int  # 0-100; the share of failing mail the policy is meant for


@dataclass(frozen=True, slots=True)
class DmarcResult:
    result: str  # one of DMARC_RESULTS
    policy: str  # the policy the From domain asks for, one of POLICIES ("none" without a record)
    from_domain: str  # RFC5322.From domain ("" when there is none usable)
    record_domain: str = ""  # where the record was found: the From domain or its org domain
    adkim: str = "r"
    aspf: str = "r"
    is_spf_aligned: bool = False
    is_dkim_aligned: bool = False
    dkim_domain: str = ""  # the d= of the passing aligned signature
    reason: str = ""

    @property
    def disposition(self) -> str:
        """What the policy asks to do with this message (before pct sampling)."""
        return self.policy if self.result == "fail" else "none"


@functools.cache
def _suffix_list() -> PublicSuffixList:
    return PublicSuffixList()


def organizational_domain(domain: str) -> str:
    """The registrable domain: ``mail.sub.example.com`` -> ``example.com``.

    A name that is itself a public suffix is its own organizational domain.
    """
    name = domain.strip().rstrip(".").lower()
    return _suffix_list().privatesuffix(name) or name


def is_aligned(domain: str, from_domain: str, mode: str) -> bool:
    a, b = domain.rstrip(".").lower(), from_domain.rstrip(".").lower()
    if not a or not b:
        return False
    if mode == "s":
        return a == b
    return organizational_domain(a) == organizational_domain(b)


def header_from_domain(raw: bytes) -> str | None:
    """The one From address's domain; None when there is no From, several, or no domain.

    RFC 7489 6.6.1: a message with zero or several From authors cannot be evaluated.
    """
    message = message_from_bytes(raw, policy=compat32)
    values = [str(v) for v in message.get_all("From") or []]
    addresses = [address for _, address in getaddresses(values) if address]
    if len(values) != 1 or not addresses or not all("@" in a for a in addresses):
        return None
    domains = {a.rpartition("@")[2].strip().rstrip(".").lower() for a in addresses}
    return domains.pop() if len(domains) == 1 and "" not in domains else None


def select_record(texts: list[str]) -> DmarcRecord | None:
    """The one DMARC record among a name's TXT strings (6.6.3); None if zero or several."""
    candidates = [t for t in texts if _is_dmarc(_tags(t))]
    if len(candidates) != 1:
        return None
    return parse_record(candidates[0])


def parse_record(text: str) -> DmarcRecord | None:
    tags = _tags(text)
    if not _is_dmarc(tags):
        return None
    policy = tags.get("p", "").lower()
    subdomain_policy = tags.get("sp", "").lower() or None
    if policy not in POLICIES or (subdomain_policy and subdomain_policy not in POLICIES):
        # 6.6.3 step 6: without a valid p= (or with a bad sp=) the record counts as p=none
        # when it names a report address, and as no record otherwise.
        if "rua" not in tags:
            return None
        policy, subdomain_policy = "none", None
    return DmarcRecord(
        policy=policy,
        subdomain_policy=subdomain_policy,
        adkim=_mode(tags.get("adkim")),
        aspf=_mode(tags.get("aspf")),
        pct=_pct(tags.get("pct")),
    )


def evaluate(
    from_domain: str,
    record: DmarcRecord,
    record_domain: str,
    *,
    spf: tuple[str, str],
    dkim: list[tuple[str, str]],
) -> DmarcResult:
    """``spf`` is (result, domain checked); ``dkim`` is (result, d=) per signature."""
    spf_result, spf_domain = spf
    is_spf_aligned = spf_result == "pass" and is_aligned(spf_domain, from_domain, record.aspf)
    dkim_domain = next(
        (d for result, d in dkim if result == "pass" and is_aligned(d, from_domain, record.adkim)),
        "",
    )
    policy = record.policy
    if record_domain != from_domain and record.subdomain_policy:
        policy = record.subdomain_policy
    return DmarcResult(
        result="pass" if is_spf_aligned or dkim_domain else "fail",
        policy=policy,
        from_domain=from_domain,
        record_domain=record_domain,
        adkim=record.adkim,
        aspf=record.aspf,
        is_spf_aligned=is_spf_aligned,
        is_dkim_aligned=bool(dkim_domain),
        dkim_domain=dkim_domain,
    )


def _tags(text: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        if sep and name.strip():
            tags.setdefault(name.strip().lower(), value.strip())
    return tags


def _is_dmarc(tags: dict[str, str]) -> bool:
    # 6.3: v=DMARC1 is case-sensitive and MUST be the first tag
    return next(iter(tags), "") == "v" and tags["v"] == "DMARC1"


def _mode(value: str | None) -> str:
    return "s" if (value or "").lower() == "s" else "r"


def _pct(value: str | None) -> int:
    try:
        return max(0, min(100, int(value or "100")))
    except ValueError:
        return 100
