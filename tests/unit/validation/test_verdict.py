"""``decide``: the checklist order and Mailgun's result/risk/reason vocabulary."""

from __future__ import annotations

from typing import Any

import pytest

from mailwright.validation import Domain, Facts, Mailbox, check, decide, parse


def facts(address: str, **kw: Any) -> Facts:
    parsed = parse(address)
    local, _, domain = address.rpartition("@")
    return Facts(address=address, parsed=parsed, grammar=check(local, domain), **kw)


@pytest.mark.parametrize(
    ("given", "result", "risk", "reason"),
    [
        (facts("a@b@c"), "undeliverable", "high", ["failed syntax check"]),
        (
            facts("abc@gmail.com", domain=Domain.HAS_MX),
            "undeliverable",
            "high",
            ["failed custom grammar check"],
        ),
        (facts("a@[192.0.2.1]"), "do_not_send", "high", ["domain_literal"]),
        (facts("a@example.com", domain=Domain.NO_MX), "undeliverable", "high", ["no_mx"]),
        (
            facts("a@example.com", domain=Domain.HAS_MX, mailbox=Mailbox.REJECTED),
            "undeliverable",
            "high",
            ["mailbox_does_not_exist"],
        ),
        (
            facts("a@example.com", domain=Domain.HAS_MX, history=frozenset({"bounces"})),
            "do_not_send",
            "high",
            ["previously_bounces"],
        ),
        (
            facts("a@mailinator.com", domain=Domain.HAS_MX, is_disposable=True),
            "do_not_send",
            "high",
            ["mailbox_is_disposable_address"],
        ),
        (
            facts("a@example.com", domain=Domain.HAS_MX, mailbox=Mailbox.CATCH_ALL),
            "catch_all",
            "medium",
            ["catch_all"],
        ),
        (facts("a@example.com", domain=Domain.FAILED), "unknown", "unknown", []),
        (
            facts("a@example.com", domain=Domain.HAS_MX, mailbox=Mailbox.UNKNOWN),
            "unknown",
            "unknown",
            [],
        ),
        (
            facts("a@example.com", domain=Domain.HAS_MX, mailbox=Mailbox.ACCEPTED),
            "deliverable",
            "low",
            [],
        ),
        (facts("a@example.com", domain=Domain.HAS_MX), "deliverable", "low", []),
        (
            facts("info@example.com", domain=Domain.HAS_MX, is_role=True),
            "deliverable",
            "medium",
            ["mailbox_is_role_address"],
        ),
        (
            facts("a@gmial.com", domain=Domain.HAS_MX, did_you_mean="a@gmail.com"),
            "deliverable",
            "medium",
            [],
        ),
    ],
)
def test_decide(given: Facts, result: str, risk: str, reason: list[str]) -> None:
    body = decide(given)
    assert (body["result"], body["risk"], body["reason"]) == (result, risk, reason)


def test_engagement_only_when_given() -> None:
    assert "engagement" not in decide(facts("a@example.com"))
    engagement = {"engaging": True, "behavior": "opener", "is_bot": False}
    assert decide(facts("a@example.com", engagement=engagement))["engagement"] == engagement


def test_root_address_only_when_it_differs() -> None:
    assert decide(facts("johnsmith@gmail.com"))["root_address"] is None
    assert decide(facts("John.Smith+x@gmail.com"))["root_address"] == "johnsmith@gmail.com"
