from datetime import UTC, datetime, timedelta

import pytest

from mailwright.delivery.retry import RetrySchedule, format_duration, parse_duration

M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
T0 = datetime(2025, 1, 1, tzinfo=UTC)
DEFAULT = RetrySchedule()
GROWING = RetrySchedule(delays=(10 * M,), multiplier=2, max_delay=2 * H, give_up_after=D)


@pytest.mark.parametrize(
    ("schedule", "attempts", "delay"),
    [
        (DEFAULT, 0, 10 * M),  # defensive: treated as the first failure
        (DEFAULT, 1, 10 * M),
        (DEFAULT, 2, 10 * M),
        (DEFAULT, 3, 15 * M),
        (DEFAULT, 4, 30 * M),
        (DEFAULT, 5, 1 * H),
        (DEFAULT, 6, 2 * H),
        (DEFAULT, 7, 4 * H),
        (DEFAULT, 8, 4 * H),
        (DEFAULT, 500, 4 * H),
        (GROWING, 1, 10 * M),
        (GROWING, 2, 20 * M),
        (GROWING, 3, 40 * M),
        (GROWING, 4, 80 * M),
        (GROWING, 5, 2 * H),  # 160m capped
        (GROWING, 10_000, 2 * H),  # no overflow
        (RetrySchedule(delays=(5 * H,), max_delay=H), 1, H),  # the cap applies to listed steps
    ],
)
def test_delay_for(schedule: RetrySchedule, attempts: int, delay: timedelta) -> None:
    assert schedule.delay_for(attempts) == delay


@pytest.mark.parametrize(
    ("attempts", "now", "expected"),
    [
        (1, T0, T0 + 10 * M),
        (7, T0 + 2 * D, T0 + 2 * D + 4 * H),
        # The last attempt is moved to the deadline rather than skipped.
        (30, T0 + 5 * D - H, T0 + 5 * D),
        (31, T0 + 5 * D, None),  # RFC 5321 4.5.4.1: give up after 5 days -> reason "old"
        (31, T0 + 6 * D, None),
    ],
)
def test_next_attempt_at(attempts: int, now: datetime, expected: datetime | None) -> None:
    assert DEFAULT.next_attempt_at(attempts, T0, now) == expected


@pytest.mark.parametrize(("rand", "delay"), [(0.0, 9 * M), (0.5, 10 * M), (0.999999, 11 * M)])
def test_jitter_uses_passed_in_randomness(rand: float, delay: timedelta) -> None:
    schedule = RetrySchedule(delays=(10 * M,), jitter=0.1)
    got = schedule.next_attempt_at(1, T0, T0, rand=rand)
    assert got is not None
    assert abs((got - T0) - delay) < timedelta(seconds=1)


def test_default_schedule_respects_rfc_5321_give_up_time() -> None:
    now, attempts = T0, 1
    while (due := DEFAULT.next_attempt_at(attempts, T0, now)) is not None:
        now, attempts = due, attempts + 1
    assert now == T0 + 5 * D
    assert 30 <= attempts <= 40


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10m,10m,15m,30m,1h,2h,4h;max=4h;give_up=5d", DEFAULT),
        ("10m,10m,15m,30m,1h,2h,4h", DEFAULT),
        ("10m;multiplier=2;max=2h;give_up=1d", GROWING),
        (" 10m ; give_up = 1d ; max = 2h ; multiplier = 2 ", GROWING),
        ("90s,1h30m;jitter=0.1", RetrySchedule(delays=(90 * M / 60, 90 * M), jitter=0.1)),
    ],
)
def test_parse(text: str, expected: RetrySchedule) -> None:
    assert RetrySchedule.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "10",  # no unit
        "10m,,1h",
        "10x",
        "-5m",
        "0s",  # delays must be positive
        "10m;max",
        "10m;max=",
        "10m;retries=3",  # unknown option
        "10m;max=1h;max=2h",
        "10m;multiplier=0.5",
        "10m;multiplier=abc",
        "10m;multiplier=nan",
        "10m;jitter=1",
        "10m;give_up=0s",
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - every message is specific
        RetrySchedule.parse(text)


@pytest.mark.parametrize(
    "schedule", [DEFAULT, GROWING, RetrySchedule(delays=(90 * M / 60,), jitter=0.25)]
)
def test_str_round_trips(schedule: RetrySchedule) -> None:
    assert RetrySchedule.parse(str(schedule)) == schedule


@pytest.mark.parametrize(
    ("text", "value"), [("90s", timedelta(seconds=90)), ("1w", 7 * D), ("1.5h", 90 * M)]
)
def test_durations(text: str, value: timedelta) -> None:
    assert parse_duration(text) == value
    assert parse_duration(format_duration(value)) == value
