"""The egress choice as a pure policy: which sources are eligible, and which one is picked."""

from __future__ import annotations

import pytest

from mailwright.delivery.sources import eligible, pick
from mailwright.egress import Assignments, Pool

SOURCES = ("10.0.0.1", "10.0.0.2", "10.0.0.3")
ASSIGNED = Assignments(
    pools={
        "p1": Pool("p1", "one", "", ("10.0.0.2",)),
        "p2": Pool("p2", "two", "", ("10.0.0.3", "10.0.0.1")),
        "gone": Pool("gone", "unconfigured", "", ("192.0.2.1",)),
    },
    domain_ips={"direct.test": ("10.0.0.1",), "both.test": ("10.0.0.1",)},
    domain_pools={"pooled.test": "p1", "both.test": "p1", "stale.test": "gone"},
)


@pytest.mark.parametrize(
    ("domain", "sending_ip", "sending_pool", "expected"),
    [
        ("plain.test", None, None, SOURCES),  # nothing assigned: every source
        ("direct.test", None, None, ("10.0.0.1",)),
        ("pooled.test", None, None, ("10.0.0.2",)),
        ("both.test", None, None, ("10.0.0.1", "10.0.0.2")),  # own addresses and pool's
        ("direct.test", "10.0.0.3", None, ("10.0.0.3",)),  # the option wins
        ("direct.test", None, "p2", ("10.0.0.1", "10.0.0.3")),  # in configured order
        ("direct.test", "10.0.0.2", "p2", ("10.0.0.2",)),  # the IP over the pool
        ("direct.test", "192.0.2.9", None, ("10.0.0.1",)),  # unknown IP: next rule
        ("direct.test", None, "missing", ("10.0.0.1",)),  # unknown pool: next rule
        ("stale.test", None, None, SOURCES),  # a pool of unconfigured addresses: all
    ],
)
def test_eligible_sources_follow_the_choice_order(
    domain: str, sending_ip: str | None, sending_pool: str | None, expected: tuple[str, ...]
) -> None:
    found = eligible(
        SOURCES, ASSIGNED, domain=domain, sending_ip=sending_ip, sending_pool=sending_pool
    )
    assert found == expected


@pytest.mark.parametrize(
    ("candidates", "load", "allowance", "turn", "expected"),
    [
        (SOURCES, {}, {}, 0, "10.0.0.1"),  # all idle: round-robin by turn
        (SOURCES, {}, {}, 1, "10.0.0.2"),
        (SOURCES, {}, {}, 5, "10.0.0.3"),
        (SOURCES, {"10.0.0.1": 2, "10.0.0.2": 1, "10.0.0.3": 2}, {}, 0, "10.0.0.2"),  # least
        (SOURCES, {"10.0.0.1": 1}, {}, 0, "10.0.0.2"),  # ties among the least loaded
        (SOURCES, {"10.0.0.1": 1}, {}, 1, "10.0.0.3"),
        (SOURCES, {}, {"10.0.0.1": 0}, 0, "10.0.0.2"),  # warm-up used up: skipped
        (SOURCES, {}, {"10.0.0.1": 5}, 0, "10.0.0.1"),  # warming with room: eligible
        (("10.0.0.1",), {}, {"10.0.0.1": 0, "10.0.0.2": 3}, 0, "10.0.0.3"),  # spill: warm first
        (("10.0.0.1",), {}, {"10.0.0.1": 0, "10.0.0.3": 0}, 0, "10.0.0.2"),  # else warming
        (SOURCES, {}, dict.fromkeys(SOURCES, 0), 0, None),  # nothing left today
    ],
)
def test_pick_least_loaded_with_warm_up_room(
    candidates: tuple[str, ...],
    load: dict[str, int],
    allowance: dict[str, int],
    turn: int,
    expected: str | None,
) -> None:
    assert pick(candidates, SOURCES, load=load, allowance=allowance, turn=turn) == expected
