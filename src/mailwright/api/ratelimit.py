"""Adds the X-RateLimit-* headers of a counted request to its response (a 429 carries its
own, from ``api/errors.py``). ``principal()`` leaves the verdict in the request state."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailwright.api.errors import rate_limit_headers
from mailwright.auth import Verdict


class RateLimitHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            verdict = scope.get("state", {}).get("rate_limit")
            if message["type"] == "http.response.start" and isinstance(verdict, Verdict):
                headers = MutableHeaders(scope=message)
                if "x-ratelimit-limit" not in headers:
                    for name, value in rate_limit_headers(
                        verdict.limit, verdict.remaining, verdict.reset
                    ).items():
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
