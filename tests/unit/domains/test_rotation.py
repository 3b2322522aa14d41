import pytest

from mailwright.domains.rotation import (
    RotateRequest,
    effective_state,
    parse_rotate,
    pick_selector,
)
from mailwright.errors import InvalidInput
from mailwright.store import DkimKeyRow

DAY = 86400.0
MAY_24 = 1716508800.0  # 2024-05-24 00:00 UTC


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({}, RotateRequest("rsa", 1024, "", 7 * DAY)),
        ({"key_size": "2048", "grace_days": "0"}, RotateRequest("rsa", 2048, "", 0.0)),
        (
            {"algorithm": "ED25519", "key_size": "4096", "selector": " S2 ", "grace_days": "1.5"},
            RotateRequest("ed25519", None, "s2", 1.5 * DAY),
        ),
    ],
)
def test_parse_rotate(form: dict[str, str], expected: RotateRequest) -> None:
    assert parse_rotate(form, default_size=1024) == expected


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"algorithm": "dsa"}, "algorithm"),
        ({"key_size": "512"}, "key_size"),
        ({"grace_days": "366"}, "grace_days"),
        ({"grace_days": "-0.5"}, "grace_days"),
        ({"grace_days": "a week"}, "grace_days"),
    ],
)
def test_parse_rotate_rejects(form: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_rotate(form, default_size=2048)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("algorithm", "taken", "expected"),
    [
        ("rsa", set(), "mw20240524"),
        ("rsa", {"mw20240524"}, "mw20240524-2"),
        ("rsa", {"mw20240524", "mw20240524-2"}, "mw20240524-3"),
        ("ed25519", {"mw20240524"}, "mwe20240524"),
    ],
)
def test_pick_selector(algorithm: str, taken: set[str], expected: str) -> None:
    assert pick_selector(algorithm, MAY_24 + 3600, taken) == expected


def key(state: str, retire_at: float | None) -> DkimKeyRow:
    return DkimKeyRow(
        id=1,
        domain_id="d",
        selector="s",
        algorithm="rsa",
        key_size=1024,
        private_key="",
        public_key="",
        state=state,
        created_at=0.0,
        activated_at=None,
        retire_at=retire_at,
        grace_seconds=DAY,
    )


@pytest.mark.parametrize(
    ("state", "retire_at", "now", "expected"),
    [
        ("retiring", 100.0, 99.0, "retiring"),
        ("retiring", 100.0, 100.0, "retired"),
        ("active", None, 1e12, "active"),
        ("pending", None, 1e12, "pending"),
        ("retired", 100.0, 50.0, "retired"),
    ],
)
def test_effective_state(state: str, retire_at: float | None, now: float, expected: str) -> None:
    assert effective_state(key(state, retire_at), now) == expected
