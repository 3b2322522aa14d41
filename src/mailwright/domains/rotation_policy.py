"""Automatic DKIM rotation, the pure part: the interval (Mailgun's ``rotation_interval``,
``"5d"``) and what the rotation worker does next for one domain (``next_step``).

A rotation never makes a domain sign with a key whose record is not published: it starts with
a *pending* key, and only a verified record activates it (``rotation.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from mailwright.errors import InvalidInput

DAY = 86400.0
# Mailgun: "The minimum allowed interval for rotation is 5 days".
MIN_INTERVAL = 5 * DAY
MAX_INTERVAL = 3650 * DAY
# Mailgun documents no default; its DKIM guide says to rotate "at least every 6 months".
DEFAULT_INTERVAL = 180 * DAY
UNITS = {"d": DAY, "h": 3600.0, "m": 60.0, "s": 1.0}
_PART = re.compile(r"(\d{1,7})([dhms])")
_DURATION = re.compile(r"(?:\d{1,7}[dhms])+")
_BOOL = {"true": True, "yes": True, "false": False, "no": False}


@dataclass(frozen=True, slots=True)
class RotationSetting:
    is_enabled: bool
    interval: float  # seconds


OFF = RotationSetting(is_enabled=False, interval=DEFAULT_INTERVAL)


class RotationStep(StrEnum):
    NONE = "none"  # nothing to do now
    START = "start"  # the active RSA key is older than the interval: make a pending key
    ACTIVATE = "activate"  # a rotation's pending key waits: activate it once its record verifies


class KeyView(Protocol):
    """What ``next_step`` reads of a key (``DkimKeyRow`` has it)."""

    @property
    def algorithm(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def created_at(self) -> float: ...
    @property
    def activated_at(self) -> float | None: ...
    @property
    def is_activated_on_publish(self) -> bool: ...


def parse_interval(raw: str) -> float:
    """Seconds in a duration of days, hours, minutes and seconds; at least 5 days.

    >>> parse_interval("7d12h")
    648000.0
    """
    text = raw.strip().lower()
    if not _DURATION.fullmatch(text):
        raise InvalidInput(
            f"rotation_interval must be a duration such as 5d, 30d or 720h, not {raw!r}",
            field="rotation_interval",
        )
    seconds = sum(int(n) * UNITS[unit] for n, unit in _PART.findall(text))
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise InvalidInput(
            "rotation_interval must be from 5d (Mailgun's minimum) to 3650d",
            field="rotation_interval",
        )
    return seconds


def format_interval(seconds: float) -> str:
    """``seconds`` as days, hours, minutes and seconds: 648000.0 is ``"7d12h"``."""
    left = round(seconds)
    parts = []
    for unit, size in UNITS.items():
        count, left = divmod(left, int(size))
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def parse_rotation_form(form: dict[str, str], current: RotationSetting) -> RotationSetting:
    """``rotation_enabled`` (required: true or false) and ``rotation_interval`` (kept when
    not given)."""
    raw = (form.get("rotation_enabled") or "").strip().lower()
    if not raw:
        raise InvalidInput("'rotation_enabled' parameter is missing", field="rotation_enabled")
    if raw not in _BOOL:
        raise InvalidInput("rotation_enabled must be true or false", field="rotation_enabled")
    interval = form.get("rotation_interval") or ""
    return RotationSetting(
        is_enabled=_BOOL[raw],
        interval=parse_interval(interval) if interval.strip() else current.interval,
    )


def _since(key: KeyView) -> float:
    return key.activated_at if key.activated_at is not None else key.created_at


def next_step(setting: RotationSetting, keys: Sequence[KeyView], now: float) -> RotationStep:
    """What the worker does for one domain, from its RSA keys:

    * a pending key a rotation made: ACTIVATE (even with rotation since turned off: the
      rotation under way finishes once its record is published);
    * rotation off, or a pending key made by hand (its owner activates it): NONE;
    * the active key signing for ``interval`` or longer (since its activation): START;
    * otherwise NONE.
    """
    rsa = [k for k in keys if k.algorithm == "rsa"]
    pending = [k for k in rsa if k.state == "pending"]
    if any(k.is_activated_on_publish for k in pending):
        return RotationStep.ACTIVATE
    if not setting.is_enabled or pending:
        return RotationStep.NONE
    active = [k for k in rsa if k.state == "active"]
    if active and now - _since(active[0]) >= setting.interval:
        return RotationStep.START
    return RotationStep.NONE


def rotation_due_at(setting: RotationSetting, keys: Sequence[KeyView]) -> float | None:
    """When the next automatic rotation starts: ``None`` when rotation is off or one is
    under way (a pending RSA key)."""
    rsa = [k for k in keys if k.algorithm == "rsa"]
    if not setting.is_enabled or any(k.state == "pending" for k in rsa):
        return None
    active = [k for k in rsa if k.state == "active"]
    return _since(active[0]) + setting.interval if active else None
