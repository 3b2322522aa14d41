"""Mailgun's HTTP API: parse -> one package call -> serialise. No SQL, no policy, no SMTP."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount

from mailwright.api.bodysize import MAX_BODY_BYTES, BodyLimit
from mailwright.api.context import Services
from mailwright.api.errors import http_error, service_error, unexpected_error
from mailwright.api.metrics import Metrics
from mailwright.api.nul import RefuseNulInUrl
from mailwright.api.observe import Observe
from mailwright.api.ratelimit import RateLimitHeaders
from mailwright.api.routes import ROUTES, openapi_document
from mailwright.errors import ServiceError


def create_app(services: Services, pages: Sequence[BaseRoute] = ()) -> Starlette:
    """The API's routes, then ``pages`` (the dashboard), mounted after them so an API path
    always wins and the OpenAPI document lists the API only."""
    metrics = Metrics()
    app = Starlette(
        routes=[*ROUTES, Mount("", routes=list(pages))] if pages else ROUTES,
        middleware=[
            Middleware(Observe, metrics=metrics, endpoints=services.endpoint_counts),
            Middleware(BodyLimit, max_bytes=MAX_BODY_BYTES),
            Middleware(RefuseNulInUrl),
            Middleware(RateLimitHeaders),
        ],
        exception_handlers={
            ServiceError: service_error,
            HTTPException: http_error,
            Exception: unexpected_error,
        },
    )
    app.state.services = services
    app.state.metrics = metrics
    return app


__all__ = ["MAX_BODY_BYTES", "Services", "create_app", "openapi_document"]
