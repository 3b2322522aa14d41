"""Throttle specs and the token bucket, as tables."""

from __future__ import annotations

import pytest

from mailwright.delivery.throttle import ThrottleSpec, TokenBucket


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
