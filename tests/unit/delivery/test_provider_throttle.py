"""The adaptive throttle's pacing: a provider that is not slowed never waits; a slowed one is
paced at its current rate, and released when it has recovered to the ceiling."""

from __future__ import annotations

import pytest

from mailwright.delivery.adaptive import AdaptivePolicy
from mailwright.delivery.replies import Reply
from mailwright.delivery.site_throttle import ProviderThrottle

RATE_LIMITED = Reply(421, "4.7.0", "Try again later")
OK = Reply(250, "2.0.0", "OK")


def test_slowed_provider_is_paced_and_others_are_not() -> None:
    now = [100.0]
    throttle = ProviderThrottle(AdaptivePolicy(ceiling=10.0, cooldown=1.0), lambda: now[0])
    assert [throttle.reserve("google") for _ in range(3)] == [0.0, 0.0, 0.0]
    throttle.observe("google", RATE_LIMITED)
    assert throttle.state("google").rate == 5.0
    assert throttle.reserve("google") == 0.0  # a burst of one
    assert throttle.reserve("google") == pytest.approx(0.2)  # then one per 1/5 s
    assert throttle.reserve("google") == pytest.approx(0.4)
    assert throttle.reserve("site-b") == 0.0  # another provider is not slowed
    while throttle.state("google").rate is not None:
        throttle.observe("google", OK)
    assert throttle.reserve("google") == 0.0
