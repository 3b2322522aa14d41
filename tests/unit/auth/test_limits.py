"""The request limiter counting in one process (SQLite, one API process): exact fixed windows."""

from __future__ import annotations

import pytest

from mailwright.auth import RequestLimit, RequestLimiter, RequestLimits
from mailwright.errors import RateLimited


@pytest.mark.parametrize(("limit", "chunk"), [(1, 1), (20, 1), (21, 2), (100, 5), (6000, 300)])
def test_chunk_is_a_twentieth_of_the_window(limit: int, chunk: int) -> None:
    assert RequestLimit(limit=limit, period=60).chunk == chunk


async def test_a_window_admits_its_limit_then_the_next_window_opens() -> None:
    clock = [120.0]
    limiter = RequestLimiter(None, RequestLimit(limit=2, period=60), lambda: clock[0])
    first, second, third = [await limiter.take("key:k") for _ in range(3)]
    assert (first.is_allowed, first.remaining, first.reset) == (True, 1, 180)
    assert (second.is_allowed, second.remaining) == (True, 0)
    assert (third.is_allowed, third.remaining, third.retry_after) == (False, 0, 60)
    clock[0] = 179.5
    assert (await limiter.take("key:k")).retry_after == 1  # rounded up, never 0
    clock[0] = 180.0
    assert (await limiter.take("key:k")).is_allowed


async def test_the_tighter_limit_is_reported_and_a_refusal_names_it() -> None:
    limits = RequestLimits(
        key=RequestLimiter(None, RequestLimit(limit=10, period=60), lambda: 0.0),
        domain=RequestLimiter(None, RequestLimit(limit=1, period=60), lambda: 0.0),
    )
    verdict = await limits.check("k", "a.test")
    assert verdict is not None
    assert (verdict.limit, verdict.remaining) == (1, 0)
    with pytest.raises(RateLimited, match="for this domain") as refused:
        await limits.check("k", "a.test")
    assert (refused.value.limit, refused.value.retry_after, refused.value.reset) == (1, 60, 60)
    key_only = await limits.check("k", None)  # no domain: only the key counts
    assert key_only is not None
    assert key_only.limit == 10
    assert await RequestLimits().check("k", "a.test") is None
