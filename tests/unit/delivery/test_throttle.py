"""Throttle specs and the token bucket, as tables."""

from __future__ import annotations

import pytest

from mailwright.delivery.throttle import Lease, LeasedTokens, ThrottleSpec, TokenBucket, lease_size


@pytest.mark.parametrize(
    ("text", "per_second", "burst"),
    [
        ("100/s", 100.0, 100.0),
        ("600/min", 10.0, 10.0),
        ("3600/h", 1.0, 1.0),
        ("60/hr", 1 / 60, 1.0),
        ("86400/day", 1.0, 1.0),
        (" 2 / sec ", 2.0, 2.0),
    ],
)
def test_parse(text: str, per_second: float, burst: float) -> None:
    spec = ThrottleSpec.parse(text)
    assert spec.per_second == pytest.approx(per_second)
    assert spec.burst == pytest.approx(burst)


@pytest.mark.parametrize("text", ["", "100", "100/week", "0/s", "-1/s", "fast"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expected a rate"):
        ThrottleSpec.parse(text)


def test_bucket_allows_a_burst_then_spaces_sends() -> None:
    bucket = TokenBucket.full(ThrottleSpec.parse("2/s"), now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [0.0, 0.0, 0.5, 1.0]
    assert bucket.take(10.0) == 0.0  # refilled, capped at the burst
    assert bucket.take(10.0) == 0.0
    assert bucket.take(10.0) == 0.5


@pytest.mark.parametrize(
    ("text", "size"),
    [("600/min", 2), ("100/s", 25), ("1000/s", 250), ("1/s", 1), ("60/hr", 1), ("4/s", 1)],
)
def test_lease_size(text: str, size: int) -> None:
    assert lease_size(ThrottleSpec.parse(text)) == size


@pytest.mark.parametrize(
    ("balance", "count", "valid_at"),
    [
        (8.0, 2, (0.0, 0.0)),  # the bucket had 10: both now
        (-1.0, 2, (0.0, 0.5)),  # it had 1: the second is reserved half a second ahead
        (-4.0, 2, (1.5, 2.0)),  # it was already 2 in debt
    ],
)
def test_lease_reserves_like_the_bucket(
    balance: float, count: int, valid_at: tuple[float, ...]
) -> None:
    lease = Lease.reserved(ThrottleSpec.parse("2/s"), balance, count, now=0.0)
    assert lease.valid_at == pytest.approx(valid_at)


def test_leased_tokens_wait_for_their_time_then_run_out() -> None:
    tokens = LeasedTokens(ttl=0.25)
    assert tokens.take(0.0) is None
    tokens.add(Lease((0.0, 0.5)))
    assert tokens.take(0.0) == 0.0
    assert tokens.take(0.1) == pytest.approx(0.4)
    assert tokens.take(0.1) is None


def test_leased_tokens_unused_past_their_ttl_are_dropped() -> None:
    tokens = LeasedTokens(ttl=0.25)
    tokens.add(Lease((0.0, 0.0, 1.0)))
    # At 0.3 the two tokens of time 0 are stale: a quiet worker cannot save them up for a burst.
    assert tokens.take(0.3) == pytest.approx(0.7)
    assert tokens.take(0.3) is None


def test_lease_sizes_start_slow_and_follow_what_was_used() -> None:
    tokens = LeasedTokens(ttl=0.25)
    assert tokens.next_size(most=25) == 1
    sizes = []
    for _ in range(6):  # a busy worker uses every token: 1, 2, 4, 8, 16, 25
        size = tokens.next_size(most=25)
        sizes.append(size)
        tokens.add(Lease((0.0,) * size))
        while tokens.take(0.0) is not None:
            pass
    assert sizes == [1, 2, 4, 8, 16, 25]
    tokens.add(Lease((0.0,) * 25))
    for _ in range(3):  # then it sends 3 and the rest go stale
        tokens.take(0.0)
    assert tokens.take(1.0) is None
    assert tokens.next_size(most=25) == 3
