"""The domain doctor's judgements: what is published, against what we need; pure.

Each ``check_*`` takes what the lookups found (``None``: the lookup itself failed) and answers
one ``CheckResult`` with a plain-language fix. A failed lookup is a ``warn`` (we could not tell),
never a ``fail``, so a DNS outage does not send an operator chasing a record that is fine.
``doctor.py`` does the lookups.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias

from mailwright.domains import spf

Status: TypeAlias = Literal["pass", "warn", "fail"]
Found: TypeAlias = tuple[str, ...] | None  # None: the lookup failed
STATUS_ORDER: dict[Status, int] = {"pass": 0, "warn": 1, "fail": 2}
_LOOKUP_FAILED = "Could not look this up (DNS error); check again later."


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: str  # "spf", "dkim", "dmarc", ...
    status: Status
    found: tuple[str, ...]  # what is published (or what we noticed)
    expected: str  # what we look for
    fix: str = ""  # what to do, in plain language; empty on pass

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status,
            "found": list(self.found),
            "expected": self.expected,
            "fix": self.fix,
        }


class _Result(Protocol):
    def __call__(self, status: Status, found: Sequence[str], fix: str = "") -> CheckResult: ...


def worst(results: Sequence[CheckResult]) -> Status:
    return max((r.status for r in results), key=STATUS_ORDER.__getitem__, default="pass")


def tags(value: str) -> dict[str, str]:
    """A ``tag=value; ...`` list (DKIM, DMARC, MTA-STS, TLS-RPT, BIMI); tag names lowercased,
    the first occurrence of a tag wins."""
    found: dict[str, str] = {}
    for part in value.split(";"):
        tag, sep, tag_value = part.partition("=")
        if sep:
            found.setdefault(tag.strip().lower(), tag_value.strip())
    return found


def _versioned(txt: Sequence[str], version: str) -> list[str]:
    """Records whose first tag is ``v=<version>`` (case-insensitive, spaces allowed)."""
    pattern = re.compile(rf"^\s*v\s*=\s*{re.escape(version)}\s*(;|$)", re.IGNORECASE)
    return [t for t in txt if pattern.match(t)]


# --- SPF ---


def check_spf(
    domain: str,
    txt: Found,
    expected: str,
    published: Mapping[str, Sequence[str]],
    unresolved: Collection[str] = (),
) -> CheckResult:
    """``expected`` is the record we ask for (``v=spf1 include:... ~all``); ``published`` holds the
    TXT strings of every name the record includes, for counting lookups; ``unresolved`` names
    the includes whose lookup failed (we cannot tell whether they are broken)."""

    def result(status: Status, found: Sequence[str], fix: str = "") -> CheckResult:
        return CheckResult("spf", status, tuple(found), expected, fix)

    if txt is None:
        return result("warn", (), _LOOKUP_FAILED)
    records = spf.spf_records(txt)
    ours = " ".join(t for t in expected.split()[1:] if not t.endswith("all"))
    if not records:
        return result("fail", (), f'Publish one TXT record at {domain}: "{expected}".')
    if len(records) > 1:
        return result(
            "fail",
            records,
            f"{domain} has {len(records)} SPF records; receivers then ignore them all "
            f"(RFC 7208 3.2). Merge them into one record that includes {ours}.",
        )
    record = records[0]
    if not spf.covers(record, expected):
        return result(
            "fail",
            records,
            f"Add {ours} to the SPF record at {domain}, before its final 'all'.",
        )
    return _spf_details(record, published, frozenset(unresolved), result)


def _spf_details(
    record: str,
    published: Mapping[str, Sequence[str]],
    unresolved: frozenset[str],
    result: _Result,
) -> CheckResult:
    counted = spf.count_lookups(record, published)
    found = [record, f"{counted.count} DNS lookups"]
    if set(counted.missing) & unresolved and counted.count <= spf.MAX_LOOKUPS:
        return result("warn", found, _LOOKUP_FAILED)
    if counted.is_over_limit:
        return result(
            "fail",
            found,
            f"The record needs {counted.count} DNS lookups; receivers stop at "
            f"{spf.MAX_LOOKUPS} and treat SPF as broken. Remove includes you no longer send "
            "through, or replace some with ip4:/ip6: ranges.",
        )
    if counted.missing or counted.loops:
        broken = ", ".join([*counted.missing, *counted.loops])
        return result(
            "fail",
            found,
            f"The record includes {broken}, which has no single valid SPF record (or includes "
            "itself); receivers treat that as an error. Remove or correct the include.",
        )
    if spf.all_qualifier(record) == "+":
        return result(
            "fail",
            found,
            "'+all' lets anyone send as this domain. End the record with '~all' or '-all'.",
        )
    return result("pass", found)


# --- DKIM ---


def check_dkim(
    domain: str, selector: str, expected_value: str, txt: Found, *, state: str = "active"
) -> CheckResult:
    """The key at ``<selector>._domainkey.<domain>`` must carry our public key (``p=``).

    A key not yet in use (``pending``) or on its way out (``retiring``) only warns.
    """
    name = f"{selector}._domainkey.{domain}"
    expected = f"{name} TXT {expected_value}"
    soft: Status = "fail" if state == "active" else "warn"

    def result(status: Status, found: Sequence[str], fix: str = "") -> CheckResult:
        return CheckResult("dkim", status, tuple(found), expected, fix)

    if txt is None:
        return result("warn", (), _LOOKUP_FAILED)
    keys = [t for t in txt if "p" in tags(t)]
    ours = _squash(tags(expected_value)["p"])
    if any(_squash(tags(t)["p"]) == ours for t in keys):
        return result("pass", keys)
    publish = f'Publish a TXT record at {name}: "{expected_value}".'
    if not keys:
        return result(soft, (), publish)
    if all(not tags(t)["p"] for t in keys):
        return result(soft, keys, f"The key at {name} is revoked (empty p=). {publish}")
    return result(soft, keys, f"The key published at {name} is not ours. {publish}")


def _squash(value: str) -> str:
    return re.sub(r"\s+", "", value)


# --- DMARC ---


@dataclass(frozen=True, slots=True)
class Dmarc:
    policy: str  # "none" | "quarantine" | "reject"
    pct: int
    rua: str
    adkim: str
    aspf: str

    @property
    def is_enforced(self) -> bool:
        return self.policy in ("quarantine", "reject") and self.pct == 100


def parse_dmarc(value: str) -> Dmarc | None:
    """RFC 7489 6.3; None when the record is not valid DMARC."""
    found = tags(value)
    policy = found.get("p", "").lower()
    pct = found.get("pct", "100")
    adkim, aspf = found.get("adkim", "r").lower(), found.get("aspf", "r").lower()
    if policy not in ("none", "quarantine", "reject") or not pct.isdigit() or int(pct) > 100:
        return None
    if adkim not in ("r", "s") or aspf not in ("r", "s"):
        return None
    return Dmarc(policy, int(pct), found.get("rua", ""), adkim, aspf)


def dmarc_record(txt: Found) -> Dmarc | None:
    """The domain's DMARC policy when exactly one valid record is published."""
    records = _versioned(txt or (), "DMARC1")
    return parse_dmarc(records[0]) if len(records) == 1 else None


def check_dmarc(domain: str, txt: Found) -> CheckResult:
    name = f"_dmarc.{domain}"
    expected = f"{name} TXT v=DMARC1; p=quarantine|reject; rua=mailto:..."
    suggestion = f'"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}"'

    def result(status: Status, found: Sequence[str], fix: str = "") -> CheckResult:
        return CheckResult("dmarc", status, tuple(found), expected, fix)

    if txt is None:
        return result("warn", (), _LOOKUP_FAILED)
    records = _versioned(txt, "DMARC1")
    if not records:
        return result(
            "fail",
            (),
            f"Publish a DMARC record at {name}, starting with {suggestion}; Gmail and Yahoo "
            "require one from bulk senders.",
        )
    if len(records) > 1:
        return result("fail", records, f"Keep exactly one DMARC record at {name}.")
    policy = parse_dmarc(records[0])
    if policy is None:
        return result(
            "fail",
            records,
            "The record is not valid DMARC: p= must be none, quarantine or reject, pct= 0-100, "
            f"adkim=/aspf= r or s. For example {suggestion}.",
        )
    return _dmarc_policy(policy, records, result)


def _dmarc_policy(policy: Dmarc, records: Sequence[str], result: _Result) -> CheckResult:
    if policy.policy == "none":
        return result(
            "warn",
            records,
            "p=none only monitors: forged mail still reaches inboxes. Once the reports show "
            "your real mail passing, move to p=quarantine and then p=reject.",
        )
    if policy.pct < 100:
        return result(
            "warn",
            records,
            f"pct={policy.pct} applies the policy to part of the failing mail only; raise it "
            "to 100 once the reports are clean.",
        )
    return result("pass", records)


def check_dmarc_alignment(domain: str, txt: Found) -> CheckResult:
    """Reporting and alignment: we sign with ``d=<domain>`` and bounce to ``@<domain>``, so both
    relaxed and strict alignment pass; without ``rua=`` nobody sees the reports."""
    expected = "rua=mailto:... with adkim/aspf r (relaxed) or s (strict)"
    policy = dmarc_record(txt)
    if policy is None:
        fix = "" if txt is None else "Publish a valid DMARC record first (see the dmarc check)."
        return CheckResult("dmarc_alignment", "warn", (), expected, fix or _LOOKUP_FAILED)
    found = (f"adkim={policy.adkim}", f"aspf={policy.aspf}", f"rua={policy.rua or '(none)'}")
    if not policy.rua:
        return CheckResult(
            "dmarc_alignment",
            "warn",
            found,
            expected,
            f"Add rua=mailto:dmarc-reports@{domain} to the DMARC record to receive daily "
            "aggregate reports of who sends as this domain.",
        )
    bad = [uri for uri in policy.rua.split(",") if not uri.strip().lower().startswith("mailto:")]
    if bad:
        return CheckResult(
            "dmarc_alignment",
            "fail",
            found,
            expected,
            f"rua= must list mailto: addresses; {', '.join(bad)} is not one.",
        )
    return CheckResult("dmarc_alignment", "pass", found, expected)


# --- MX ---


def check_mx(domain: str, hosts: Found, target: str, *, is_receiving: bool) -> CheckResult:
    expected = f"{domain} MX 10 {target}" if is_receiving else "(receiving disabled)"

    def result(status: Status, found: Sequence[str], fix: str = "") -> CheckResult:
        return CheckResult("mx", status, tuple(found), expected, fix)

    if not is_receiving:
        return result("pass", hosts or ())
    if hosts is None:
        return result("warn", (), _LOOKUP_FAILED)
    if target.lower() in (h.lower() for h in hosts):
        others = [h for h in hosts if h.lower() != target.lower()]
        if others:
            return result(
                "warn",
                hosts,
                f"{domain} also lists {', '.join(others)} as mail exchangers; mail sent there "
                "does not reach this server. Remove them unless they forward to it.",
            )
        return result("pass", hosts)
    if "" in hosts:
        return result(
            "fail",
            hosts,
            f'{domain} publishes a null MX ("0 ."), which refuses all mail. '
            f"Replace it with MX 10 {target}.",
        )
    return result("fail", hosts, f"Publish an MX record at {domain}: 10 {target}.")


# --- MTA-STS and TLS-RPT ---

_STS_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


def check_mta_sts(domain: str, txt: Found) -> CheckResult:
    name = f"_mta-sts.{domain}"
    expected = f"{name} TXT v=STSv1; id=<1-32 letters or digits>"
    if txt is None:
        return CheckResult("mta_sts", "warn", (), expected, _LOOKUP_FAILED)
    records = _versioned(txt, "STSv1")
    if not records:
        return CheckResult(
            "mta_sts",
            "warn",
            (),
            expected,
            f'Optional: MTA-STS (RFC 8461) makes senders require TLS to your MX. Publish "v=STSv1; '
            f'id=20240101" at {name} and a policy at https://mta-sts.{domain}/.well-known/'
            "mta-sts.txt.",
        )
    if len(records) > 1:
        return CheckResult(
            "mta_sts", "fail", tuple(records), expected, f"Keep one MTA-STS record at {name}."
        )
    if not _STS_ID.match(tags(records[0]).get("id", "")):
        return CheckResult(
            "mta_sts",
            "fail",
            tuple(records),
            expected,
            "The record needs id= with 1 to 32 letters or digits; change it whenever the "
            "policy file changes.",
        )
    return CheckResult("mta_sts", "pass", tuple(records), expected)


def check_tls_rpt(domain: str, txt: Found) -> CheckResult:
    name = f"_smtp._tls.{domain}"
    expected = f"{name} TXT v=TLSRPTv1; rua=mailto:..."
    if txt is None:
        return CheckResult("tls_rpt", "warn", (), expected, _LOOKUP_FAILED)
    records = _versioned(txt, "TLSRPTv1")
    if not records:
        return CheckResult(
            "tls_rpt",
            "warn",
            (),
            expected,
            f'Optional: publish "v=TLSRPTv1; rua=mailto:tls-reports@{domain}" at {name} to get '
            "daily reports of TLS failures delivering to you (RFC 8460).",
        )
    if len(records) > 1:
        return CheckResult(
            "tls_rpt", "fail", tuple(records), expected, f"Keep one TLS-RPT record at {name}."
        )
    uris = [u.strip() for u in tags(records[0]).get("rua", "").split(",") if u.strip()]
    if not uris or any(not u.lower().startswith(("mailto:", "https:")) for u in uris):
        return CheckResult(
            "tls_rpt",
            "fail",
            tuple(records),
            expected,
            "rua= must list one or more mailto: or https: addresses (RFC 8460 3).",
        )
    return CheckResult("tls_rpt", "pass", tuple(records), expected)


# --- reverse DNS of our egress addresses ---


def check_no_egress() -> CheckResult:
    return CheckResult(
        "rdns",
        "warn",
        ("no egress sources configured",),
        "a PTR record per sending address, naming its HELO host",
        "Skipped: set MAILWRIGHT_EGRESS_SOURCES (ADDRESS=HELO_NAME, ...) to the public "
        "addresses this server sends from, so their reverse DNS can be checked.",
    )


def check_rdns(address: str, helo: str, ptr: Found, forward: Mapping[str, Found]) -> CheckResult:
    """``ptr``: the names the address's PTR records give; ``forward``: each name's addresses."""
    expected = f"PTR {address} -> {helo} -> {address}"

    def result(status: Status, found: Sequence[str], fix: str = "") -> CheckResult:
        return CheckResult("rdns", status, tuple(found), expected, fix)

    if ptr is None:
        return result("warn", (), _LOOKUP_FAILED)
    if not ptr:
        return result(
            "fail",
            (f"{address}: no PTR record",),
            f"Ask the owner of {address} (your hosting provider) to set its reverse DNS to "
            f"{helo}; many receivers reject mail from addresses without one.",
        )
    confirmed = [n for n in ptr if address in (forward.get(n) or ())]
    found = [f"{address} PTR {n}" for n in ptr]
    if not confirmed:
        return result(
            "fail",
            found,
            f"{', '.join(ptr)} does not resolve back to {address}. Add an A/AAAA record for "
            f"{helo} pointing to {address} and set the PTR to {helo}.",
        )
    if helo.lower() not in (n.lower() for n in confirmed):
        return result(
            "warn",
            found,
            f"The HELO name {helo} differs from the reverse DNS name {confirmed[0]}. Set the "
            f"PTR to {helo}, or use {address}={confirmed[0]} in MAILWRIGHT_EGRESS_SOURCES.",
        )
    return result("pass", found)


# --- BIMI ---


def check_bimi(domain: str, txt: Found, dmarc: Dmarc | None) -> CheckResult:
    """Warn only: BIMI (a logo in the inbox) is optional and needs DMARC enforcement."""
    name = f"default._bimi.{domain}"
    expected = f"{name} TXT v=BIMI1; l=https://.../logo.svg"
    if txt is None:
        return CheckResult("bimi", "warn", (), expected, _LOOKUP_FAILED)
    records = _versioned(txt, "BIMI1")
    if not records:
        return CheckResult(
            "bimi",
            "warn",
            (),
            expected,
            f'Optional: to show your logo in supporting inboxes, publish "v=BIMI1; '
            f'l=https://{domain}/logo.svg" at {name} (needs DMARC quarantine or reject).',
        )
    logo = tags(records[0]).get("l", "")
    if len(records) > 1 or not logo.lower().startswith("https://"):
        return CheckResult(
            "bimi",
            "warn",
            tuple(records),
            expected,
            "Keep one BIMI record whose l= is an https:// URL of an SVG Tiny PS logo.",
        )
    if dmarc is None or not dmarc.is_enforced:
        return CheckResult(
            "bimi",
            "warn",
            tuple(records),
            expected,
            "Mailbox providers show the logo only when DMARC is enforced: p=quarantine or "
            "p=reject with pct=100.",
        )
    return CheckResult("bimi", "pass", tuple(records), expected)
