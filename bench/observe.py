"""Cost of ``api/observe.py`` per request: a trivial Starlette route called in-process through
ASGI, with and without the middleware, logs rendered as in production (JSON, here into
/dev/null). The accept benchmark's msgs/s move more with the machine's load than with a few
microseconds, so this is the figure that shows what the middleware costs.

    .venv/bin/python bench/observe.py [--requests 20000] [--rounds 5] [--no-access-log]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import time
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from mailwright.api.metrics import Metrics
from mailwright.api.observe import Observe
from mailwright.logs import configure

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/v3/example.com/messages",
    "raw_path": b"/v3/example.com/messages",
    "root_path": "",
    "query_string": b"",
    "server": ("127.0.0.1", 80),
    "client": ("127.0.0.1", 50000),
    "headers": [
        (b"host", b"localhost"),
        (b"content-type", b"multipart/form-data; boundary=x"),
        (b"authorization", b"Basic YXBpOmtleQ=="),
        (b"user-agent", b"bench"),
        (b"accept", b"*/*"),
        (b"content-length", b"0"),
    ],
}


async def ok(request: Request) -> Response:
    return PlainTextResponse("ok")


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: Any) -> None:
    return None


async def run(app: Any, requests: int) -> float:
    """Microseconds per request."""
    started = time.perf_counter()
    for _ in range(requests):
        await app(dict(SCOPE), receive, send)
    return (time.perf_counter() - started) / requests * 1e6


async def measure(requests: int, rounds: int) -> None:
    routes = [Route("/v3/{domain}/messages", ok, methods=["POST"])]
    apps = {
        "plain": Starlette(routes=routes),
        "observed": Starlette(routes=routes, middleware=[Middleware(Observe, metrics=Metrics())]),
    }
    for app in apps.values():
        await run(app, requests // 10)  # warm up
    best = {
        name: min([await run(app, requests) for _ in range(rounds)]) for name, app in apps.items()
    }
    print(
        f"plain {best['plain']:.1f} us/request, observed {best['observed']:.1f} us/request: "
        f"the middleware costs {best['observed'] - best['plain']:.1f} us per request"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-access-log", action="store_true", help="log at WARNING only")
    args = parser.parse_args()
    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
        configure("json")
        if args.no_access_log:
            structlog.configure(
                wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING)
            )
        asyncio.run(measure(args.requests, args.rounds))


if __name__ == "__main__":
    main()
