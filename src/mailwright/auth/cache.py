"""Answers about credentials remembered for a few seconds per process, so a busy client costs
no query (or signature check) per request; ``forget`` drops them all at once (a revocation,
here or announced by another process), and a lookup that began before a ``forget`` is not
remembered, since it may have read what was just revoked."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

LIMIT = 10_000  # entries; past it the cache starts again empty


class TimedCache(Generic[K, V]):
    def __init__(self, seconds: float, limit: int = LIMIT) -> None:
        self._seconds = seconds
        self._limit = limit
        self._known: dict[K, tuple[float, V]] = {}
        self._generation = 0  # bumped by forget()

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The remembered answer for ``key``, or ``load()``'s (remembered unless it raises)."""
        tick = time.monotonic()
        hit = self._known.get(key)
        if hit is not None and hit[0] >= tick:
            return hit[1]
        generation = self._generation
        value = await load()
        if generation == self._generation:
            if len(self._known) >= self._limit:
                self._known.clear()
            self._known[key] = (tick + self._seconds, value)
        return value

    def forget(self) -> None:
        self._known.clear()
        self._generation += 1
