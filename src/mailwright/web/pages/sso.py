"""Single sign-on with OpenID Connect: ``/login/oidc`` sends the browser to the identity
provider, ``/login/oidc/callback`` brings it back signed in.

The login's state goes to the provider and into a short-lived ``HttpOnly`` cookie; the
callback needs both to match, so a callback URL opened in another browser signs no one in.
Every refusal (the provider's ``error=``, a wrong or used state, an unknown user) is logged and
shown on the login page; the session made is the password login's, already past the TOTP step,
and replaces any session the browser had.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailwright.api.context import services
from mailwright.auth import OidcClient
from mailwright.errors import SsoRefused, SsoUnavailable
from mailwright.logs import get_logger
from mailwright.web.pages.login import login_form, safe_next
from mailwright.web.session import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_SECONDS,
    is_same_token,
    set_cookie,
    users,
)
from mailwright.web.templating import render, secure

log = get_logger(__name__)

STATE_COOKIE = "mw_sso_state"
STATE_COOKIE_SECONDS = 600  # as long as a login under way lives (auth.oidc.LOGIN_SECONDS)


def _refused(request: Request, message: str, status: int) -> Response:
    response = login_form(request, error=message, status=status)
    response.delete_cookie(STATE_COOKIE, path="/")
    return response


def _not_configured(request: Request) -> Response:
    message = "Single sign-on is not configured (MAILWRIGHT_OIDC_ISSUER)."
    return render(request, "error.html", {"title": "Not found", "message": message}, status=404)


def _client(request: Request) -> OidcClient | None:
    return services(request).oidc


async def start(request: Request) -> Response:
    client = _client(request)
    if client is None:
        return _not_configured(request)
    try:
        state, url = await client.begin(safe_next(request.query_params.get("next")))
    except SsoUnavailable as exc:
        return _refused(request, exc.message, 502)
    response = secure(RedirectResponse(url, status_code=303))
    set_cookie(request, response, STATE_COOKIE, state, STATE_COOKIE_SECONDS)
    return response


async def callback(request: Request) -> Response:
    client = _client(request)
    if client is None:
        return _not_configured(request)
    params = request.query_params
    state, code = params.get("state", ""), params.get("code", "")
    is_ours = is_same_token(request.cookies.get(STATE_COOKIE, ""), state)
    if "error" in params or (is_ours and not code):
        # Signs no one in, so shown even when the provider left the state out.
        if is_ours:
            await client.abandon(state)
        error = params.get("error", "no code")[:64]
        log.warning("sso_refused", reason="provider", error=error)
        return _refused(request, f"The identity provider did not sign you in ({error}).", 401)
    if not is_ours:
        log.warning("sso_refused", reason="state")
        message = "This sign-in was not started in this browser or has expired; please try again."
        return _refused(request, message, 400)
    try:
        identity, target = await client.finish(state, code)
        user = await users(request).sso_user(
            identity,
            claim=services(request).oidc_user_claim,
            create=services(request).oidc_create_users,
        )
    except SsoRefused as exc:
        log.warning("sso_refused", reason=type(exc).__name__, message=exc.message)
        return _refused(request, exc.message, 502 if isinstance(exc, SsoUnavailable) else 401)
    previous = request.cookies.get(COOKIE)
    if previous:  # say a password login left waiting for its TOTP code: this one replaces it
        await users(request).end_session(previous)
    token, _session = await users(request).start_session(user, via_sso=True)
    log.info("sso_signed_in", username=user.username, issuer=identity.issuer)
    response = secure(RedirectResponse(target, status_code=303))
    set_cookie(request, response, COOKIE, token, SESSION_SECONDS)
    response.delete_cookie(STATE_COOKIE, path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


ROUTES = [
    Route("/login/oidc", start, methods=["GET"]),
    Route("/login/oidc/callback", callback, methods=["GET"]),
]
