"""When each recipient's copy is due: ``o:deliverytime``, ``o:time-zone-localize`` and
``o:deliverytime-optimize-period``; pure (time and the recipient's open history are inputs).

* ``base`` is ``o:deliverytime`` when given, else the time the send was accepted.
* Time-zone localisation: Mailgun knows recipients' time zones from their past activity; we keep
  none, so a recipient's zone is guessed from the country-code TLD of its domain
  (``alice@example.de`` -> Europe/Berlin, table ``CCTLD_ZONES``), and is UTC for generic TLDs
  (``.com``, ``.org``...). The copy is due at the first moment at or after ``base`` when the
  recipient's local clock shows the given time (so at most 24 hours after ``base``).
* Send-time optimisation over a period of P hours: when the recipient opened earlier messages
  of the domain (``opened`` events), the copy is due at the first moment in ``[base, base+P)``
  whose UTC hour is the hour in which that recipient opened most often; otherwise (no history,
  or that hour does not occur in the window) it is due at ``base + h`` where ``h`` is
  ``sha256(recipient) mod P*3600`` seconds: spread evenly and deterministically over the period.
* When both are given, localisation wins (Mailgun documents them as alternatives).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_LOCAL_TIME = re.compile(r"\s*(\d{1,2}):(\d{2})\s*([AaPp][Mm])?\s*")

# One representative zone per country-code TLD (the most populous one for large countries).
CCTLD_ZONES = {
    "uk": "Europe/London", "ie": "Europe/Dublin", "pt": "Europe/Lisbon",
    "de": "Europe/Berlin", "fr": "Europe/Paris", "es": "Europe/Madrid", "it": "Europe/Rome",
    "nl": "Europe/Amsterdam", "be": "Europe/Brussels", "ch": "Europe/Zurich",
    "at": "Europe/Vienna", "se": "Europe/Stockholm", "no": "Europe/Oslo",
    "dk": "Europe/Copenhagen", "pl": "Europe/Warsaw", "cz": "Europe/Prague",
    "fi": "Europe/Helsinki", "gr": "Europe/Athens", "ro": "Europe/Bucharest",
    "ua": "Europe/Kyiv", "tr": "Europe/Istanbul", "ru": "Europe/Moscow",
    "il": "Asia/Jerusalem", "ae": "Asia/Dubai", "in": "Asia/Kolkata", "cn": "Asia/Shanghai",
    "hk": "Asia/Hong_Kong", "sg": "Asia/Singapore", "jp": "Asia/Tokyo", "kr": "Asia/Seoul",
    "au": "Australia/Sydney", "nz": "Pacific/Auckland", "za": "Africa/Johannesburg",
    "ng": "Africa/Lagos", "eg": "Africa/Cairo", "br": "America/Sao_Paulo",
    "ar": "America/Argentina/Buenos_Aires", "cl": "America/Santiago", "mx": "America/Mexico_City",
    "ca": "America/Toronto", "us": "America/New_York",
}  # fmt: skip


def parse_local_time(value: str) -> tuple[int, int] | None:
    """``"09:00"``, ``"9:00AM"``, ``"9:00 pm"`` -> (hour, minute) on a 24-hour clock."""
    match = _LOCAL_TIME.fullmatch(value)
    if match is None:
        return None
    hour, minute, half = int(match.group(1)), int(match.group(2)), match.group(3)
    if minute > 59:
        return None
    if half is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half.lower() == "pm" else 0)
    return (hour, minute) if hour <= 23 else None


def parse_period(value: str) -> int:
    """``"24h"`` -> 24 (hours)."""
    return int(value.rstrip("hH"))


def zone_of(recipient: str) -> ZoneInfo | None:
    tld = recipient.rpartition(".")[2].lower()
    name = CCTLD_ZONES.get(tld)
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        return None


def localized(base: float, local_time: tuple[int, int], recipient: str) -> float:
    zone = zone_of(recipient) or UTC
    start = datetime.fromtimestamp(base, zone)
    hour, minute = local_time
    due = start.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if due < start:
        due = (due + timedelta(days=1)).replace(hour=hour, minute=minute)
    return due.timestamp()


def favourite_hour(open_times: Iterable[float]) -> int | None:
    """The UTC hour in which most opens happened (the earliest hour on a tie)."""
    counts = Counter(datetime.fromtimestamp(t, UTC).hour for t in open_times)
    if not counts:
        return None
    return min(counts, key=lambda h: (-counts[h], h))


def optimized(base: float, period_hours: int, recipient: str, hour: int | None) -> float:
    period = period_hours * 3600
    if hour is not None:
        start = datetime.fromtimestamp(base, UTC)
        candidate = start.replace(hour=hour, minute=0, second=0, microsecond=0)
        if candidate < start:
            candidate = start if candidate.hour == start.hour else candidate + timedelta(days=1)
        if candidate.timestamp() < base + period:
            return candidate.timestamp()
    digest = hashlib.sha256(recipient.lower().encode()).digest()
    return base + int.from_bytes(digest[:8], "big") % max(period, 1)


def due_at(
    recipient: str, base: float, options: dict[str, object], open_hour: int | None = None
) -> float:
    """The recipient's due time from the stored ``o:`` options (see the module docstring)."""
    local = options.get("time-zone-localize")
    if isinstance(local, str):
        parsed = parse_local_time(local)
        if parsed is not None:
            return localized(base, parsed, recipient)
    period = options.get("deliverytime-optimize-period")
    if isinstance(period, str):
        return optimized(base, parse_period(period), recipient, open_hour)
    return base


def is_scheduled_per_recipient(options: dict[str, object]) -> bool:
    return "time-zone-localize" in options or "deliverytime-optimize-period" in options
