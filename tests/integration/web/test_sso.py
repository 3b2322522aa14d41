"""Dashboard single sign-on against a real OpenID Connect provider on loopback: the browser is
an httpx client following the redirects by hand, from our /login/oidc to the provider's
authorization form and back to our callback."""

from __future__ import annotations

import base64
import hashlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from mailwright.app import Runtime
from mailwright.auth import OidcClient
from mailwright.config import Secret, Settings
from tests.integration.web.conftest import PASSWORD, csrf_of
from tests.integration.web.conftest import sign_in as password_sign_in
from tests.support.oidc_provider import PROVIDER_WARNINGS, Provider, run_provider

pytestmark = [pytest.mark.filterwarnings(w) for w in PROVIDER_WARNINGS]

CLIENT_ID = "mailwright-dashboard"
CLIENT_SECRET = "s3cret/with+odd=chars"
ADA = "ada@example.com"
PROVIDER_USERS: dict[str, dict[str, object]] = {
    "sub-ada": {"email": ADA, "email_verified": True},
    "sub-eve": {"email": "eve@example.com", "email_verified": True},
    "sub-unverified": {"email": ADA, "email_verified": False},
    "sub-impostor": {"email": ADA, "email_verified": True},
}


@pytest.fixture
def provider() -> Iterator[Provider]:
    with run_provider(PROVIDER_USERS) as provider:
        yield provider


@pytest.fixture
def create_users() -> bool:
    return False


@pytest.fixture
def settings(settings: Settings, provider: Provider, create_users: bool) -> Settings:
    return settings.with_changes(
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=Secret(CLIENT_SECRET),
        oidc_create_users=create_users,
    )


@pytest.fixture
async def at_provider() -> AsyncIterator[httpx.AsyncClient]:
    """The browser's requests to the provider: real HTTP on loopback."""
    async with httpx.AsyncClient() as client:
        yield client


async def to_callback(
    browser: httpx.AsyncClient, at_provider: httpx.AsyncClient, sub: str, next_path: str = "/"
) -> str:
    """Start a sign-in at our site and sign in at the provider as ``sub``; returns the callback
    URL the provider redirects the browser to."""
    start = await browser.get("/login/oidc", params={"next": next_path})
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    form = await at_provider.get(authorize)
    assert form.status_code == 200
    answer = await at_provider.post(authorize, data={"sub": sub})
    assert answer.status_code == 302, answer.text
    callback: str = answer.headers["location"]
    assert callback.startswith("http://testserver/login/oidc/callback?")
    return callback


async def sign_in(
    browser: httpx.AsyncClient, at_provider: httpx.AsyncClient, sub: str, next_path: str = "/"
) -> httpx.Response:
    return await browser.get(await to_callback(browser, at_provider, sub, next_path))


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def test_a_known_user_signs_in_without_the_totp_step(
    runtime: Runtime, browser: httpx.AsyncClient, at_provider: httpx.AsyncClient, provider: Provider
) -> None:
    await runtime.services.users.create(ADA, PASSWORD, totp=True)
    login = await browser.get("/login?next=/domains")
    assert "Sign in with SSO" in login.text
    assert 'href="/login/oidc?next=/domains"' in login.text

    done = await sign_in(browser, at_provider, "sub-ada", "/?period=7d")

    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/?period=7d"
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("mw_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "mw_sso_state" not in browser.cookies
    overview = await browser.get("/?period=7d")
    assert overview.status_code == 200
    assert ADA in overview.text
    # What our client sent: the authorization request ...
    [authorize, *_] = provider.received("/oauth2/authorize")
    query = {k: v[0] for k, v in authorize.query.items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["scope"] == "openid email profile"
    assert query["code_challenge_method"] == "S256"
    assert query["nonce"]
    # ... and a token request with the PKCE verifier of that challenge and Basic client auth.
    [token] = provider.received("/oauth2/token")
    assert token.form["grant_type"] == ["authorization_code"]
    assert s256(token.form["code_verifier"][0]) == query["code_challenge"]
    assert token.form["redirect_uri"] == ["http://testserver/login/oidc/callback"]
    basic = base64.b64decode(token.headers["authorization"].removeprefix("Basic ")).decode()
    assert basic == "mailwright-dashboard:s3cret%2Fwith%2Bodd%3Dchars"


async def test_a_linked_identity_maps_by_subject_not_by_email(
    runtime: Runtime, browser: httpx.AsyncClient, at_provider: httpx.AsyncClient, provider: Provider
) -> None:
    await runtime.services.users.create(ADA, PASSWORD, totp=False)
    assert (await sign_in(browser, at_provider, "sub-ada")).status_code == 303
    browser.cookies.clear()
    # The provider's email for sub-ada changes: the link by (issuer, sub) still holds.
    changed = await at_provider.put(
        f"{provider.issuer}/users/sub-ada",
        json={"email": "ada.lovelace@example.net", "email_verified": True},
    )
    assert changed.status_code == 204
    again = await sign_in(browser, at_provider, "sub-ada")
    assert again.status_code == 303
    assert ADA in (await browser.get("/")).text
    # Another subject claiming the same verified email cannot take the account over.
    browser.cookies.clear()
    impostor = await sign_in(browser, at_provider, "sub-impostor")
    assert impostor.status_code == 401
    assert "linked to another single sign-on account" in impostor.text
    assert "mw_session" not in browser.cookies


async def test_an_unknown_user_is_refused(
    runtime: Runtime, browser: httpx.AsyncClient, at_provider: httpx.AsyncClient
) -> None:
    refused = await sign_in(browser, at_provider, "sub-eve")
    assert refused.status_code == 401
    assert "No dashboard user eve@example.com exists" in refused.text
    assert "mw_session" not in browser.cookies
    assert (await browser.get("/")).status_code == 303
    assert await runtime.services.users.list_users() == []


@pytest.mark.parametrize("create_users", [True])
async def test_create_users_makes_the_unknown_user(
    runtime: Runtime, browser: httpx.AsyncClient, at_provider: httpx.AsyncClient
) -> None:
    done = await sign_in(browser, at_provider, "sub-eve")
    assert done.status_code == 303
    [user] = await runtime.services.users.list_users()
    assert (user.username, user.has_totp) == ("eve@example.com", False)
    assert (await browser.get("/")).status_code == 200


async def test_an_unverified_email_links_no_one(
    runtime: Runtime, browser: httpx.AsyncClient, at_provider: httpx.AsyncClient
) -> None:
    await runtime.services.users.create(ADA, PASSWORD, totp=False)
    refused = await sign_in(browser, at_provider, "sub-unverified")
    assert refused.status_code == 401
    assert "has not verified this email address" in refused.text
    assert "mw_session" not in browser.cookies


async def test_a_tampered_or_foreign_state_is_refused(
    runtime: Runtime, browser: httpx.AsyncClient, at_provider: httpx.AsyncClient
) -> None:
    await runtime.services.users.create(ADA, PASSWORD, totp=False)
    callback = await to_callback(browser, at_provider, "sub-ada")
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    tampered = await browser.get(
        "/login/oidc/callback?" + urlencode({**params, "state": params["state"] + "x"})
    )
    assert tampered.status_code == 400
    assert "not started in this browser" in tampered.text
    assert "mw_session" not in browser.cookies
    # The right URL opened in a browser that did not start the sign-in (no state cookie).
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=runtime.app), base_url="http://testserver"
    ) as other:
        foreign = await other.get(callback)
    assert foreign.status_code == 400
    assert "mw_session" not in foreign.cookies


async def test_a_replayed_callback_or_reused_code_is_refused(
    runtime: Runtime, browser: httpx.AsyncClient, at_provider: httpx.AsyncClient
) -> None:
    await runtime.services.users.create(ADA, PASSWORD, totp=False)
    callback = await to_callback(browser, at_provider, "sub-ada")
    state = parse_qs(urlsplit(callback).query)["state"][0]
    assert (await browser.get(callback)).status_code == 303
    # Replayed with the state cookie put back: the login was used up.
    browser.cookies.clear()
    browser.cookies.set("mw_sso_state", state)
    replayed = await browser.get(callback)
    assert replayed.status_code == 401
    assert "expired or was already used" in replayed.text
    assert "mw_session" not in browser.cookies
    # The old code with a fresh login's state: the provider refuses the used code.
    start = await browser.get("/login/oidc")
    fresh = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    reused = await browser.get("/login/oidc/callback?" + urlencode({"code": code, "state": fresh}))
    assert reused.status_code == 401
    assert "refused the sign-in code (invalid_grant)" in reused.text
    assert "mw_session" not in browser.cookies


async def test_a_denied_sign_in_at_the_provider_is_shown(
    runtime: Runtime, browser: httpx.AsyncClient, at_provider: httpx.AsyncClient
) -> None:
    start = await browser.get("/login/oidc")
    answer = await at_provider.post(start.headers["location"], data={"action": "deny"})
    assert answer.status_code == 302
    assert "error=access_denied" in answer.headers["location"]
    denied = await browser.get(answer.headers["location"])
    assert denied.status_code == 401
    assert "did not sign you in (access_denied)" in denied.text
    assert "mw_session" not in browser.cookies


async def test_an_unreachable_provider_is_a_clear_error(
    runtime: Runtime, browser: httpx.AsyncClient
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    configured = runtime.services.oidc
    assert configured is not None
    closed_issuer = replace(configured.config, issuer=f"http://127.0.0.1:{port}")
    runtime.services.oidc = OidcClient(closed_issuer, runtime.services.store)
    answer = await browser.get("/login/oidc")
    assert answer.status_code == 502
    assert "discovery document could not be read" in answer.text


async def test_deleting_a_user_drops_its_link(
    runtime: Runtime, browser: httpx.AsyncClient, at_provider: httpx.AsyncClient
) -> None:
    users = runtime.services.users
    await users.create(ADA, PASSWORD, totp=False)
    assert (await sign_in(browser, at_provider, "sub-ada")).status_code == 303
    assert await users.delete(ADA)
    assert (await browser.get("/")).status_code == 303  # its session ended with it
    browser.cookies.clear()
    refused = await sign_in(browser, at_provider, "sub-ada")
    assert refused.status_code == 401
    assert "No dashboard user" in refused.text
    # A new user of that name is linked afresh, by the other subject first to claim it.
    await users.create(ADA, PASSWORD, totp=False)
    browser.cookies.clear()
    assert (await sign_in(browser, at_provider, "sub-impostor")).status_code == 303
    browser.cookies.clear()
    assert (await sign_in(browser, at_provider, "sub-ada")).status_code == 401


async def test_an_sso_session_is_past_the_totp_step(
    runtime: Runtime, browser: httpx.AsyncClient, at_provider: httpx.AsyncClient
) -> None:
    await runtime.services.users.create(ADA, PASSWORD, totp=True)
    assert (await sign_in(browser, at_provider, "sub-ada")).status_code == 303
    step = await browser.get("/login/totp", params={"next": "/domains"})
    assert step.status_code == 303
    assert step.headers["location"] == "/domains"
    # A code posted anyway is neither checked nor counted against the session.
    csrf = csrf_of((await browser.get("/")).text)
    for _ in range(6):
        posted = await browser.post(
            "/login/totp", data={"csrf_token": csrf, "code": "000000", "next": "/queues"}
        )
        assert posted.status_code == 303, posted.text
        assert posted.headers["location"] == "/queues"
    assert (await browser.get("/")).status_code == 200


async def test_sso_replaces_a_half_open_password_login(
    runtime: Runtime, browser: httpx.AsyncClient, at_provider: httpx.AsyncClient
) -> None:
    users = runtime.services.users
    await users.create(ADA, PASSWORD, totp=True)
    half_open = await password_sign_in(browser, ADA, PASSWORD)
    assert half_open.headers["location"].startswith("/login/totp")
    waiting = browser.cookies["mw_session"]
    assert await users.session(waiting) is not None

    assert (await sign_in(browser, at_provider, "sub-ada")).status_code == 303
    assert browser.cookies["mw_session"] != waiting
    assert await users.session(waiting) is None
    assert (await browser.get("/")).status_code == 200
