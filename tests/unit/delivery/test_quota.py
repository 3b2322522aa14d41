from __future__ import annotations

import pytest

from mailwright.delivery.quota import DAY, HOUR, split_by_quota, windows

NOW = 1_764_000_000.0 + 1234.5  # inside an hour and a day
HOUR_START = NOW // HOUR * HOUR
DAY_START = NOW // DAY * DAY


def test_windows_start_at_the_utc_hour_and_day() -> None:
    assert windows(NOW) == {"hour": int(HOUR_START), "day": int(DAY_START)}


@pytest.mark.parametrize(
    ("quota", "usage", "sent", "held_until"),
    [
        ((None, None), {}, 5, None),  # no quota: everything goes
        ((3, None), {}, 3, HOUR_START + HOUR),
        ((3, None), {"hour": 2}, 1, HOUR_START + HOUR),
        ((3, None), {"hour": 7}, 0, HOUR_START + HOUR),  # overshoot earlier: nothing goes
        ((None, 4), {"day": 2}, 2, DAY_START + DAY),
        ((10, 4), {"hour": 1, "day": 1}, 3, DAY_START + DAY),  # the day runs out first
        ((2, 100), {}, 2, HOUR_START + HOUR),
        ((2, 2), {}, 2, DAY_START + DAY),  # both out: the later window
        ((10, 10), {}, 5, None),
    ],
)
def test_split_by_quota(
    quota: tuple[int | None, int | None],
    usage: dict[str, int],
    sent: int,
    held_until: float | None,
) -> None:
    claimed = [(i, "a.test") for i in range(5)]
    used = {("a.test", period): n for period, n in usage.items()}
    split = split_by_quota(claimed, {"a.test": quota}, used, NOW)
    assert split.sent["a.test"] == sent
    assert sorted(split.held) == list(range(sent, 5))  # the first claimed go first
    assert set(split.held.values()) == (set() if held_until is None else {held_until})


def test_domains_have_their_own_quota() -> None:
    claimed = [(1, "a.test"), (2, "b.test"), (3, "a.test"), (4, "b.test")]
    split = split_by_quota(claimed, {"a.test": (1, None)}, {}, NOW)
    assert split.sent == {"a.test": 1, "b.test": 2}
    assert split.held == {3: HOUR_START + HOUR}
