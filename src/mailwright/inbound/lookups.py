"""Blocking DNS lookups for the sync libraries (pyspf, dkimpy), answered by our async ``Resolver``.

pyspf and dkimpy run in a worker thread (``asyncio.to_thread``); each lookup they make is handed
back to the event loop with ``run_coroutine_threadsafe`` and waited for, never longer than what
is left of the whole check's time budget. A failed lookup or a spent budget raises
``LookupFailed``, which each caller turns into its temperror.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from mailwright.resolver import DnsLookupFailed, Resolver

T = TypeVar("T")


class LookupFailed(Exception):
    """A DNS lookup failed or the time budget ran out."""


class ThreadLookups:
    """Call from a worker thread only: each method blocks until the event loop answers."""

    def __init__(
        self, resolver: Resolver, loop: asyncio.AbstractEventLoop, *, deadline: float
    ) -> None:
        self._resolver = resolver
        self._loop = loop
        self._deadline = deadline  # time.monotonic() value
        self.count = 0

    def txt(self, name: str) -> list[str]:
        return self._run(name, self._resolver.txt)

    def a(self, name: str) -> list[str]:
        return self._run(name, self._resolver.a)

    def aaaa(self, name: str) -> list[str]:
        return self._run(name, self._resolver.aaaa)

    def mx(self, name: str) -> list[tuple[int, str]]:
        return self._run(name, self._resolver.mx)

    def ptr(self, name: str) -> list[str]:
        return self._run(name, self._resolver.ptr)

    def _run(self, name: str, lookup: Callable[[str], Awaitable[T]]) -> T:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise LookupFailed(f"time budget spent before looking up {name}")
        self.count += 1

        async def guarded() -> T:
            return await lookup(name)

        future = asyncio.run_coroutine_threadsafe(guarded(), self._loop)
        try:
            return future.result(timeout=remaining)
        except FutureTimeout:
            future.cancel()
            raise LookupFailed(f"time budget spent looking up {name}") from None
        except DnsLookupFailed as exc:
            raise LookupFailed(str(exc)) from exc
