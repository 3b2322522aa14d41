"""The Events API's scalar query values: ``begin``/``end`` times and ``yes``/``no`` flags."""

from __future__ import annotations

import math
import re
from datetime import UTC
from email.utils import parsedate_to_datetime

from mailwright.errors import InvalidInput

_EPOCH = re.compile(r"\d+(?:\.\d+)?")
_BOOLS = {"yes": True, "true": True, "no": False, "false": False}


def parse_time(value: str, *, field: str) -> float:
    """Epoch seconds (``1700000000`` or ``1700000000.5``) or an RFC 2822 date, as epoch seconds.

    A date without a zone, or with ``-0000`` (RFC 2822 3.3: "no information about the local
    time zone"), is taken as UTC.
    """
    text = value.strip()
    if _EPOCH.fullmatch(text):
        seconds = float(text)
        if math.isfinite(seconds):
            return seconds
    else:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            pass
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.timestamp()
    raise InvalidInput(
        f"Invalid value for '{field}': expected epoch seconds or an RFC 2822 date", field=field
    )


def parse_bool(value: str, *, field: str) -> bool:
    try:
        return _BOOLS[value.strip().lower()]
    except KeyError:
        raise InvalidInput(
            f"Invalid value for '{field}': expected yes or no", field=field
        ) from None
