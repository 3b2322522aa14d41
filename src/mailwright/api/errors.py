"""The single mapping from our exceptions to Mailgun's HTTP statuses and ``{"message": ...}``."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mailwright.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    LoginThrottled,
    NotFound,
    OAuthError,
    PayloadTooLarge,
    RateLimited,
    ServiceError,
    Unauthorized,
)
from mailwright.logs import get_logger

log = get_logger(__name__)

STATUS: tuple[tuple[type[ServiceError], int], ...] = (
    (PayloadTooLarge, 413),
    (InvalidInput, 400),
    (Conflict, 400),  # Mailgun answers 400 when a resource already exists
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (RateLimited, 429),
    (LoginThrottled, 429),
)


def status_of(exc: ServiceError) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 500


async def service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    if isinstance(exc, OAuthError):
        return oauth_error(exc)
    status = status_of(exc)
    headers = {"WWW-Authenticate": _challenge(request)} if status == 401 else None
    if isinstance(exc, RateLimited):
        headers = rate_limit_headers(exc.limit, 0, exc.reset) | {
            "Retry-After": str(exc.retry_after)
        }
    if status >= 500:
        log.error("request_failed", path=request.url.path, error=exc.message)
    return JSONResponse({"message": exc.message}, status_code=status, headers=headers)


def _challenge(request: Request) -> str:
    """RFC 6750 3: a refused Bearer token is answered with a Bearer challenge."""
    if request.headers.get("authorization", "")[:7].lower() == "bearer ":
        return 'Bearer realm="MG API", error="invalid_token"'
    return 'Basic realm="MG API"'


def oauth_error(exc: OAuthError) -> Response:
    """RFC 6749 5.2: the token endpoint's error body; invalid_client is 401 with a challenge."""
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="mailwright oauth"'
    body = {"error": exc.error, "error_description": exc.message}
    return JSONResponse(body, status_code=exc.status, headers=headers)


def rate_limit_headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    """The headers SendGrid, GitHub and most HTTP APIs send; reset is a Unix time in seconds."""
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(reset),
    }


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, exc.detail)
    return JSONResponse({"message": message}, status_code=exc.status_code)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    # Logged by ``api/observe.py``, where the request id is still bound.
    return JSONResponse({"message": "Internal server error"}, status_code=500)
