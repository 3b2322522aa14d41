"""Every HTTP request observed once: a request id (bound into the logs and echoed in
``X-Request-Id``), one access log line, its count and latency in ``/metrics``, and its
endpoint's count for the uptime history (in memory; the uptime loop stores it).

A pure ASGI middleware, since it runs on the accept path: no request object is built, the
route template is read from the scope the router filled in, and the metric children for each
(method, route, status) are looked up once and kept.
"""

from __future__ import annotations

import re
import secrets
import time

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailwright.api.metrics import Metrics
from mailwright.logs import bind, get_logger, unbind
from mailwright.uptime import EndpointCounts

log = get_logger(__name__)

REQUEST_ID = b"x-request-id"
_SANE_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
# Anything else is one label value, so a client cannot grow the metrics without bound.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


def request_id(scope: Scope) -> str:
    """The client's ``X-Request-Id`` when it is a plain token of at most 64 characters
    (``[A-Za-z0-9._-]``), else a new one."""
    for name, value in scope["headers"]:
        if name == REQUEST_ID:
            if _SANE_ID.fullmatch(value):
                return str(value.decode("ascii"))
            break
    return secrets.token_hex(12)


def route_template(scope: Scope) -> str:
    """The path of the route that answered (``/v3/{domain}/messages``), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None) if isinstance(route, BaseRoute) else None
    # The dashboard's Mount("") matches every path: its "" means no page matched.
    return path if isinstance(path, str) and path else UNMATCHED


class Observe:
    def __init__(self, app: ASGIApp, metrics: Metrics, endpoints: EndpointCounts) -> None:
        self.app = app
        self.metrics = metrics
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope)
        header = (b"x-request-id", rid.encode("ascii"))
        status = 500  # what the client sees when the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        bound = bind(request_id=rid)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("request_crashed", path=scope["path"])
            raise
        finally:
            self._finish(scope, status, time.perf_counter() - started)
            unbind(bound)

    def _finish(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        route = route_template(scope)
        self.metrics.observe_request(method, route, status, seconds)
        self.endpoints.add(method, route, status, time.time())
        log.info(
            "http_request",
            method=method,
            route=route,
            status=status,
            duration_ms=round(seconds * 1000, 2),
        )
