"""Who is signed in: the session cookie, the ``page`` guard and CSRF checks.

The cookie holds a random token (only its hash is stored); it is ``HttpOnly``, ``SameSite=Lax``
and ``Secure`` when the public URL is HTTPS. Every POST carries the session's CSRF token
(synchronizer token, OWASP); the login form, which has no session yet, uses a double-submit
cookie instead.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mailwright.api.context import services
from mailwright.auth import DashboardSession, Users
from mailwright.web.templating import render, secure

COOKIE = "mw_session"
LOGIN_CSRF_COOKIE = "mw_login_csrf"
SESSION_SECONDS = 12 * 3600

Page = Callable[[Request], Awaitable[Response]]


def users(request: Request) -> Users:
    return services(request).users


def is_https(request: Request) -> bool:
    return services(request).public_url.startswith("https://")


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


async def current_session(request: Request) -> DashboardSession | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    return await users(request).session(token)


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return secure(RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303))


def is_same_token(expected: str, given: object) -> bool:
    return (
        bool(expected)
        and isinstance(given, str)
        and hmac.compare_digest(expected.encode(), given.encode())
    )


async def has_csrf_token(request: Request, expected: str) -> bool:
    given = request.headers.get("x-csrf-token")
    if given is None:
        form = await request.form()
        given = form.get("csrf_token")  # type: ignore[assignment]
    return is_same_token(expected, given)


def forbidden(request: Request, reason: str) -> Response:
    return render(request, "error.html", {"title": "Forbidden", "message": reason}, status=403)


def page(handler: Page) -> Page:
    """Guard a dashboard page: a verified session is required (else redirect to the login
    page), and a POST must carry the session's CSRF token (else 403)."""

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        session = await current_session(request)
        if session is None or not session.is_verified:
            return login_redirect(request)
        request.state.session = session
        if request.method not in ("GET", "HEAD") and not await has_csrf_token(
            request, session.csrf_token
        ):
            return forbidden(request, "The form's CSRF token is missing or wrong; reload the page.")
        return secure(await handler(request))

    return guarded


def new_login_token() -> str:
    return secrets.token_urlsafe(24)
