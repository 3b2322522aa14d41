"""Adaptive throttling as a pure policy: providers by MX suffix, and the AIMD rate."""

from __future__ import annotations

import pytest

from mailwright.delivery.adaptive import (
    AdaptivePolicy,
    AdaptiveState,
    Provider,
    allowed_rate,
    provider_of,
)
from mailwright.delivery.replies import Reply

POLICY = AdaptivePolicy(ceiling=20.0, floor=0.5, decrease=0.5, increase=1.0, cooldown=1.0)
OK = Reply(250, "2.0.0", "OK")
RATE = Reply(421, "4.7.0", "Try again later, closing connection")
GMAIL = Reply(421, "4.7.28", "Our system has detected an unusual rate of unsolicited mail")
TEXT_ONLY = Reply(450, None, "Too many messages from your IP, rate limit exceeded")
GREYLIST = Reply(451, "4.7.1", "Greylisted, try again in 5 minutes")
NO_CONNECT = Reply(421, "4.4.1", "connection refused during connect")
UNKNOWN = Reply(550, "5.1.1", "No such user")


@pytest.mark.parametrize(
    ("hosts", "site", "expected"),
    [
        (("gmail-smtp-in.l.google.com", "alt1.gmail-smtp-in.l.google.com"), "s", "google"),
        (("aspmx.l.google.com.",), "s", "google"),  # trailing dot
        (("ASPMX2.GOOGLEMAIL.COM",), "s", "google"),  # case
        (("example-com.mail.protection.outlook.com",), "s", "microsoft"),
        (("mta5.am0.yahoodns.net",), "s", "yahoo"),
        (("mx.example.net", "aspmx.l.google.com"), "s", "google"),  # first that belongs
        (("mx.example.net",), "(mx1|mx2).example.net", "(mx1|mx2).example.net"),  # own site
        (("notgoogle.com",), "site", "site"),  # a suffix matches whole labels only
    ],
)
def test_provider_of_rolls_up_by_mx_suffix(
    hosts: tuple[str, ...], site: str, expected: str
) -> None:
    assert provider_of(hosts, site) == expected


def test_provider_rules_are_data() -> None:
    rules = (Provider("acme", ("acme-mx.net",)),)
    assert provider_of(["in.acme-mx.net"], "site", rules) == "acme"
    assert provider_of(["aspmx.l.google.com"], "site", rules) == "site"


@pytest.mark.parametrize(
    ("state", "reply", "now", "expected"),
    [
        (AdaptiveState(), OK, 0.0, AdaptiveState()),  # not slowed: stays so
        (AdaptiveState(), RATE, 5.0, AdaptiveState(10.0, 5.0)),  # first cut from the ceiling
        (AdaptiveState(), GMAIL, 5.0, AdaptiveState(10.0, 5.0)),
        (AdaptiveState(), TEXT_ONLY, 5.0, AdaptiveState(10.0, 5.0)),
        (AdaptiveState(10.0, 5.0), RATE, 5.5, AdaptiveState(10.0, 5.0)),  # in cooldown
        (AdaptiveState(10.0, 5.0), RATE, 6.0, AdaptiveState(5.0, 6.0)),  # after it: cut again
        (AdaptiveState(0.8, 0.0), RATE, 9.0, AdaptiveState(0.5, 9.0)),  # never below floor
        (AdaptiveState(4.0, 0.0), OK, 9.0, AdaptiveState(4.25, 0.0)),  # + increase / rate
        (AdaptiveState(19.99, 0.0), OK, 9.0, AdaptiveState()),  # back at the ceiling: released
        (AdaptiveState(4.0, 0.0), GREYLIST, 9.0, AdaptiveState(4.0, 0.0)),  # not a rate limit
        (AdaptiveState(4.0, 0.0), NO_CONNECT, 9.0, AdaptiveState(4.0, 0.0)),
        (AdaptiveState(4.0, 0.0), UNKNOWN, 9.0, AdaptiveState(4.0, 0.0)),
    ],
)
def test_on_reply_cuts_multiplicatively_and_recovers_additively(
    state: AdaptiveState, reply: Reply, now: float, expected: AdaptiveState
) -> None:
    assert POLICY.on_reply(state, reply, now) == expected


def test_recovery_takes_about_one_rate_step_per_second_of_sending() -> None:
    state = POLICY.on_reply(AdaptiveState(), RATE, 0.0)
    assert allowed_rate(state) == 10.0
    sent = 0
    while allowed_rate(state) is not None:
        state = POLICY.on_reply(state, OK, 1.0)
        sent += 1
    # From 10/s to 20/s at +1/s per second: about 10 seconds at ~15/s on average.
    assert 120 <= sent <= 180
