"""The Mailgun v4 answer for one address, decided from facts gathered elsewhere (pure).

``decide`` reads the facts in a fixed order, the first decisive one wins (postal's checklist):

1. syntax fails -> undeliverable / high, ``failed syntax check``
2. provider grammar fails -> undeliverable / high, ``failed custom grammar check``
3. null MX, or no MX and no A/AAAA -> undeliverable / high, ``no_mx``
4. the probe's RCPT got a permanent refusal -> undeliverable / high, ``mailbox_does_not_exist``
5. our own hard bounce or complaint for the address -> do_not_send / high
6. disposable domain -> do_not_send / high, ``mailbox_is_disposable_address``
7. the probe found a catch-all -> catch_all / medium, ``catch_all``
8. the probe accepted -> deliverable; otherwise (no probe, DNS failed) -> unknown when the DNS
   lookup failed, else deliverable.

Risk after step 4: high for history and disposable, medium for catch-all, role addresses and
an unprobed unknown provider, low otherwise. A domain literal is do_not_send / high.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from mailwright.validation.grammar import Verdict as GrammarVerdict
from mailwright.validation.syntax import Address, SyntaxProblem

SYNTAX_REASON = "failed syntax check"
GRAMMAR_REASON = "failed custom grammar check"


class Domain(enum.StrEnum):
    HAS_MX = "has_mx"  # MX records, or an implicit MX (A/AAAA)
    NO_MX = "no_mx"  # null MX (RFC 7505) or neither MX nor address records
    FAILED = "failed"  # timeout / SERVFAIL: we cannot tell
    NOT_CHECKED = "not_checked"


class Mailbox(enum.StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # a 5xx reply to RCPT TO
    CATCH_ALL = "catch_all"  # a random local part was accepted too
    UNKNOWN = "unknown"  # no connection, a 4xx (greylisting), or the probe was rate-limited
    NOT_PROBED = "not_probed"


@dataclass(frozen=True, slots=True)
class Facts:
    address: str
    parsed: Address | SyntaxProblem
    grammar: GrammarVerdict | None = None
    domain: Domain = Domain.NOT_CHECKED
    mailbox: Mailbox = Mailbox.NOT_PROBED
    is_disposable: bool = False
    is_role: bool = False
    is_free: bool = False
    did_you_mean: str | None = None
    history: frozenset[str] = frozenset()  # suppression kinds: bounces, complaints
    engagement: dict[str, Any] | None = None
    extra_reasons: tuple[str, ...] = field(default=())


def decide(facts: Facts) -> dict[str, Any]:
    result, risk, reasons = _verdict(facts)
    body: dict[str, Any] = {
        "address": facts.address,
        "did_you_mean": facts.did_you_mean,
        "is_disposable_address": facts.is_disposable,
        "is_role_address": facts.is_role,
        "reason": reasons,
        "result": result,
        "risk": risk,
        "root_address": _root(facts),
    }
    if facts.engagement is not None:
        body["engagement"] = facts.engagement
    return body


def _root(facts: Facts) -> str | None:
    if facts.grammar is None or not isinstance(facts.parsed, Address):
        return None
    return (
        None
        if facts.grammar.root_address == facts.parsed.text.lower()
        else facts.grammar.root_address
    )


def _verdict(facts: Facts) -> tuple[str, str, list[str]]:
    parsed = facts.parsed
    if isinstance(parsed, SyntaxProblem):
        return "undeliverable", "high", [SYNTAX_REASON]
    flags = _flags(facts)
    failure = _failure(facts, parsed)
    if failure is not None:
        return failure[0], "high", [*failure[1:], *flags]
    if facts.history or facts.is_disposable:
        return "do_not_send", "high", flags
    if facts.mailbox is Mailbox.CATCH_ALL:
        return "catch_all", "medium", ["catch_all", *flags]
    if facts.domain is Domain.FAILED or facts.mailbox is Mailbox.UNKNOWN:
        return "unknown", "unknown", flags
    return "deliverable", _risk(facts), flags


def _failure(facts: Facts, parsed: Address) -> tuple[str, str] | None:
    """(result, reason) when the address cannot receive mail at all."""
    if facts.grammar is not None and facts.grammar.problem is not None:
        return "undeliverable", GRAMMAR_REASON
    if parsed.is_literal:
        return "do_not_send", "domain_literal"
    if facts.domain is Domain.NO_MX:
        return "undeliverable", "no_mx"
    if facts.mailbox is Mailbox.REJECTED:
        return "undeliverable", "mailbox_does_not_exist"
    return None


def _risk(facts: Facts) -> str:
    if facts.is_role or facts.did_you_mean is not None:
        return "medium"
    if facts.mailbox is Mailbox.NOT_PROBED and facts.grammar is None and not facts.is_free:
        return "medium" if facts.domain is Domain.NOT_CHECKED else "low"
    return "low"


def _flags(facts: Facts) -> list[str]:
    reasons = list(facts.extra_reasons)
    if facts.is_disposable:
        reasons.append("mailbox_is_disposable_address")
    if facts.is_role:
        reasons.append("mailbox_is_role_address")
    reasons.extend(f"previously_{kind}" for kind in sorted(facts.history))
    return reasons
