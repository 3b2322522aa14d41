"""Compact JSON text for stored columns and event payloads: orjson, with the stdlib's encoder
for what orjson refuses (integers beyond 64 bits in user-supplied variables, NaN)."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    """Like ``json.dumps(value, separators=(",", ":"), ensure_ascii=False)``, about 10x faster."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError: int over 64 bits, non-str keys, ...
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


__all__ = ["dumps"]
