from dataclasses import dataclass

import pytest

from mailwright.domains.rotation_policy import (
    DEFAULT_INTERVAL,
    OFF,
    RotationSetting,
    RotationStep,
    format_interval,
    next_step,
    parse_interval,
    parse_rotation_form,
    rotation_due_at,
)
from mailwright.errors import InvalidInput

DAY = 86400.0
T0 = 1_780_000_000.0


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("5d", 5 * DAY),
        (" 30D ", 30 * DAY),
        ("120h", 5 * DAY),
        ("7d12h", 7.5 * DAY),
        ("4d23h59m60s", 5 * DAY),
        ("3650d", 3650 * DAY),
    ],
)
def test_parse_interval(raw: str, seconds: float) -> None:
    assert parse_interval(raw) == seconds


@pytest.mark.parametrize(
    "raw", ["", "5", "d", "5 days", "-5d", "5.5d", "4d", "119h", "3651d", "5w", "5d 1h"]
)
def test_parse_interval_rejects(raw: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_interval(raw)
    assert raised.value.field == "rotation_interval"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5 * DAY, "5d"), (7.5 * DAY, "7d12h"), (DAY + 61, "1d1m1s"), (3600.0, "1h"), (0.0, "0s")],
)
def test_format_interval(seconds: float, text: str) -> None:
    assert format_interval(seconds) == text


@pytest.mark.parametrize(
    ("form", "current", "expected"),
    [
        ({"rotation_enabled": "true"}, OFF, RotationSetting(True, DEFAULT_INTERVAL)),
        (
            {"rotation_enabled": "YES", "rotation_interval": "7d"},
            OFF,
            RotationSetting(True, 7 * DAY),
        ),
        # The interval is kept when not given, also when turning rotation off.
        (
            {"rotation_enabled": "false"},
            RotationSetting(True, 9 * DAY),
            RotationSetting(False, 9 * DAY),
        ),
        ({"rotation_enabled": "no", "rotation_interval": ""}, OFF, OFF),
    ],
)
def test_parse_rotation_form(
    form: dict[str, str], current: RotationSetting, expected: RotationSetting
) -> None:
    assert parse_rotation_form(form, current) == expected


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({}, "rotation_enabled"),
        ({"rotation_enabled": ""}, "rotation_enabled"),
        ({"rotation_enabled": "maybe"}, "rotation_enabled"),
        ({"rotation_enabled": "true", "rotation_interval": "1d"}, "rotation_interval"),
        ({"rotation_interval": "5d"}, "rotation_enabled"),
    ],
)
def test_parse_rotation_form_rejects(form: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_rotation_form(form, OFF)
    assert raised.value.field == field


@dataclass(frozen=True)
class Key:
    state: str
    algorithm: str = "rsa"
    created_at: float = T0
    activated_at: float | None = T0
    is_activated_on_publish: bool = False


ON_5D = RotationSetting(True, 5 * DAY)
ACTIVE = Key("active")
OURS = Key("pending", created_at=T0 + 5 * DAY, activated_at=None, is_activated_on_publish=True)
BY_HAND = Key("pending", created_at=T0 + DAY, activated_at=None)


@pytest.mark.parametrize(
    ("setting", "keys", "now", "step"),
    [
        (ON_5D, [ACTIVE], T0 + 5 * DAY - 1, RotationStep.NONE),
        (ON_5D, [ACTIVE], T0 + 5 * DAY, RotationStep.START),
        (ON_5D, [ACTIVE], T0 + 50 * DAY, RotationStep.START),
        # Off: an old key is left alone.
        (RotationSetting(False, 5 * DAY), [ACTIVE], T0 + 50 * DAY, RotationStep.NONE),
        # The age counts from activation, not creation.
        (ON_5D, [Key("active", created_at=T0 - 9 * DAY)], T0 + 4 * DAY, RotationStep.NONE),
        # A key created before activation existed (activated_at unknown): its creation.
        (ON_5D, [Key("active", activated_at=None)], T0 + 5 * DAY, RotationStep.START),
        # A rotation under way waits for its record, on or off.
        (ON_5D, [ACTIVE, OURS], T0 + 50 * DAY, RotationStep.ACTIVATE),
        (OFF, [ACTIVE, OURS], T0 + 50 * DAY, RotationStep.ACTIVATE),
        # A pending key made by hand is its owner's to activate; no second one is made.
        (ON_5D, [ACTIVE, BY_HAND], T0 + 50 * DAY, RotationStep.NONE),
        # Only the RSA key rotates; Ed25519 keys (and retiring ones) don't count.
        (
            ON_5D,
            [ACTIVE, Key("pending", "ed25519", is_activated_on_publish=True)],
            T0,
            RotationStep.NONE,
        ),
        (ON_5D, [Key("retiring", activated_at=T0 - 90 * DAY), ACTIVE], T0 + DAY, RotationStep.NONE),
        (ON_5D, [], T0 + 50 * DAY, RotationStep.NONE),
    ],
)
def test_next_step(
    setting: RotationSetting, keys: list[Key], now: float, step: RotationStep
) -> None:
    assert next_step(setting, keys, now) is step


@pytest.mark.parametrize(
    ("setting", "keys", "due"),
    [
        (ON_5D, [ACTIVE], T0 + 5 * DAY),
        (OFF, [ACTIVE], None),
        (ON_5D, [ACTIVE, BY_HAND], None),
        (ON_5D, [], None),
    ],
)
def test_rotation_due_at(setting: RotationSetting, keys: list[Key], due: float | None) -> None:
    assert rotation_due_at(setting, keys) == due
