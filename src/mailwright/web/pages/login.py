"""Signing in (password, then the TOTP code) and out; single sign-on is in ``sso.py``."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailwright.api.context import services
from mailwright.errors import LoginThrottled
from mailwright.web.session import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_SECONDS,
    current_session,
    forbidden,
    has_csrf_token,
    is_same_token,
    new_login_token,
    page,
    set_cookie,
    users,
)
from mailwright.web.templating import render, secure


def safe_next(value: object) -> str:
    """Where to go after signing in: a path on this site only (no open redirect)."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


def login_form(request: Request, *, error: str = "", status: int = 200) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_login_token()
    response = render(
        request,
        "login.html",
        {
            "title": "Sign in",
            "login_token": token,
            "next": safe_next(request.query_params.get("next")),
            "error": error,
            "has_sso": services(request).oidc is not None,
        },
        status=status,
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 3600)
    return response


async def login_page(request: Request) -> Response:
    session = await current_session(request)
    if session is not None and session.is_verified:
        return secure(RedirectResponse(safe_next(request.query_params.get("next")), 303))
    return login_form(request)


async def login(request: Request) -> Response:
    form = await request.form()
    if not is_same_token(request.cookies.get(LOGIN_CSRF_COOKIE, ""), form.get("login_token")):
        return login_form(request, error="The form expired; please try again.", status=403)
    username, password = form.get("username"), form.get("password")
    target = safe_next(form.get("next"))
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        return login_form(request, error="Enter your username and password.", status=400)
    try:
        user = await users(request).check_password(username, password)
    except LoginThrottled as exc:
        return login_form(request, error=str(exc), status=429)
    if user is None:
        return login_form(request, error="Wrong username or password.", status=401)
    token, session = await users(request).start_session(user)
    step = target if session.is_verified else "/login/totp?next=" + quote(target, safe="")
    response = secure(RedirectResponse(step, status_code=303))
    set_cookie(request, response, COOKIE, token, SESSION_SECONDS)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


async def totp_page(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return secure(RedirectResponse("/login", status_code=303))
    if session.is_verified:
        return secure(RedirectResponse(safe_next(request.query_params.get("next")), 303))
    request.state.session = session
    context = {
        "title": "Two-factor code",
        "next": safe_next(request.query_params.get("next")),
        "error": "",
    }
    return render(request, "totp.html", context)


async def totp(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return secure(RedirectResponse("/login", status_code=303))
    request.state.session = session
    if not await has_csrf_token(request, session.csrf_token):
        return forbidden(request, "The form's CSRF token is missing or wrong; reload the page.")
    form = await request.form()
    code, target = form.get("code"), safe_next(form.get("next"))
    if session.is_verified:  # past the step (or signed in by SSO): no code to check or count
        return secure(RedirectResponse(target, status_code=303))
    token = request.cookies[COOKIE]
    if isinstance(code, str) and await users(request).verify_totp(token, code.strip()):
        # A new token once the login is complete: one seen before it (say planted in the
        # browser by someone else) is worth nothing now.
        rotated = await users(request).rotate_session(token)
        response = secure(RedirectResponse(target, status_code=303))
        if rotated is not None:
            set_cookie(request, response, COOKIE, rotated[0], SESSION_SECONDS)
        return response
    if await current_session(request) is None:  # too many wrong codes ended the session
        return secure(RedirectResponse("/login", status_code=303))
    context = {"title": "Two-factor code", "next": target, "error": "That code is not valid."}
    return render(request, "totp.html", context, status=401)


@page
async def logout(request: Request) -> Response:
    await users(request).end_session(request.cookies[COOKIE])
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


ROUTES = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/login/totp", totp_page, methods=["GET"]),
    Route("/login/totp", totp, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
