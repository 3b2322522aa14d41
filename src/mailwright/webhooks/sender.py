"""POST one signed webhook: where it may go, and the HTTP exchange as a value.

``Poster`` is the one-method port the worker sends through (httpx's transport habit);
``HttpPoster`` is the real one. Every httpx error becomes a ``PostResult`` here, in one place
(``_map_httpx_errors``), so the worker never catches httpx types.

Before each POST the destination is vetted (``vet``): unless private URLs are allowed, the host
is resolved through our resolver and refused when any address is not public. The connection
then goes to the vetted address (``_PinnedBackend``), so a DNS answer that changes between the
check and the connect (DNS rebinding) cannot redirect it; TLS still verifies the host name.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import httpcore
import httpx

from mailwright.resolver import DnsLookupFailed, Resolver
from mailwright.webhooks.urls import host_of, is_ip_literal, refusal

USER_AGENT = "mailwright-webhooks/0.1"
ANSWER_BYTES = 1024  # how much of a receiver's response body is kept (the rest is not read)


@dataclass(frozen=True, slots=True)
class PostResult:
    """What one POST came to: the HTTP status, or why there was none."""

    status: int | None
    error: str | None = None
    seconds: float = 0.0
    answer: str = ""  # the start of the response body, for people reading the deliveries list


@dataclass(frozen=True, slots=True)
class Destination:
    """A vetted URL: the address to connect to (None: resolve normally), or why not to."""

    address: str | None = None
    refused: str | None = None


class Poster(Protocol):
    async def post(
        self,
        url: str,
        body: bytes,
        destination: Destination,
        content_type: str = "application/json",
    ) -> PostResult: ...

    async def close(self) -> None: ...


async def vet(url: str, resolver: Resolver, *, allow_private: bool) -> Destination:
    """Check where ``url`` leads: refused when its host resolves to a non-public address."""
    if allow_private:
        return Destination()
    host = host_of(url)
    if is_ip_literal(host):
        return Destination(address=host, refused=refusal(host, [host]))
    try:
        addresses = await resolver.addresses(host)
    except DnsLookupFailed as exc:
        return Destination(refused=exc.message)
    reason = refusal(host, addresses)
    return Destination(address=None if reason else addresses[0], refused=reason)


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the vetted address of a host instead of resolving it again."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()
        self.pins: dict[str, str] = {}

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_tcp(
            self.pins.get(host.lower(), host),
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@contextlib.contextmanager
def _map_httpx_errors(result: list[PostResult], started: float) -> Iterator[None]:
    def failed(error: str) -> None:
        result.append(PostResult(None, error, time.monotonic() - started))

    try:
        yield
    except httpx.TimeoutException as exc:
        failed(f"timeout ({type(exc).__name__})")
    except httpx.ConnectError as exc:
        failed(f"connection failed: {exc}"[:500])
    except httpx.HTTPError as exc:
        failed(f"{type(exc).__name__}: {exc}"[:500])


async def _read_start(response: httpx.Response) -> str:
    """The first ``ANSWER_BYTES`` of the body as text; a huge or endless body is not read."""
    kept = b""
    async for chunk in response.aiter_raw():
        kept += chunk
        if len(kept) >= ANSWER_BYTES:
            break
    return kept[:ANSWER_BYTES].decode("utf-8", "replace")


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """Loading the CA bundle takes milliseconds: one context serves every poster."""
    return httpx.create_ssl_context()


class HttpPoster:
    """POSTs with httpx: JSON bodies, no redirects followed, no proxies from the environment."""

    def __init__(self, *, timeout: float = 10.0, connections: int = 100) -> None:
        self._backend = _PinnedBackend()
        transport = httpx.AsyncHTTPTransport(verify=_ssl_context())
        # The pool httpx would build, with our backend: httpx takes no backend argument.
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=5.0,
            network_backend=self._backend,
        )
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )

    async def post(
        self,
        url: str,
        body: bytes,
        destination: Destination,
        content_type: str = "application/json",
    ) -> PostResult:
        if destination.refused is not None:
            return PostResult(None, f"refused: {destination.refused}")
        if destination.address is not None:
            if len(self._backend.pins) > 10_000:
                self._backend.pins.clear()
            self._backend.pins[host_of(url)] = destination.address
        started = time.monotonic()
        outcome: list[PostResult] = []
        with _map_httpx_errors(outcome, started):
            request = self._client.build_request(
                "POST", url, content=body, headers={"Content-Type": content_type}
            )
            response = await self._client.send(request, stream=True)
            try:
                answer = await _read_start(response)
            finally:
                await response.aclose()
            outcome.append(
                PostResult(response.status_code, None, time.monotonic() - started, answer)
            )
        return outcome[0]

    async def close(self) -> None:
        await self._client.aclose()
