"""Signing in to the dashboard: password, TOTP, CSRF, cookies, redirects and the overview."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pyotp
import pytest

from mailwright.app import build_runtime, first_start
from mailwright.config import Settings
from mailwright.store import Store
from tests.integration.web.conftest import PASSWORD, USERNAME, Dashboard, csrf_of, sign_in
from tests.support.wait import wait_until


async def test_pages_redirect_to_login_without_a_session(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/?period=7d")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2F%3Fperiod%3D7d"
    login = await browser.get("/login")
    assert login.status_code == 200
    assert 'name="password"' in login.text
    assert "default-src 'self'" in login.headers["content-security-policy"]


async def test_wrong_password_is_refused_without_a_session(
    runtime: object, browser: httpx.AsyncClient
) -> None:
    await runtime.services.users.create(USERNAME, PASSWORD, totp=False)  # type: ignore[attr-defined]
    response = await sign_in(browser, USERNAME, "not the password")
    assert response.status_code == 401
    assert "Wrong username or password." in response.text
    assert "mw_session" not in browser.cookies
    assert (await browser.get("/")).status_code == 303


async def test_login_form_needs_its_token(runtime: object, browser: httpx.AsyncClient) -> None:
    await runtime.services.users.create(USERNAME, PASSWORD, totp=False)  # type: ignore[attr-defined]
    response = await browser.post("/login", data={"username": USERNAME, "password": PASSWORD})
    assert response.status_code == 403
    assert "mw_session" not in browser.cookies


async def test_sign_in_sets_a_locked_down_cookie_and_follows_next(
    runtime: object, browser: httpx.AsyncClient
) -> None:
    await runtime.services.users.create(USERNAME, PASSWORD, totp=False)  # type: ignore[attr-defined]
    page = await browser.get("/login?next=/?period=30d")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token
    response = await browser.post(
        "/login",
        data={
            "login_token": token.group(1),
            "username": USERNAME,
            "password": PASSWORD,
            "next": "/?period=30d",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/?period=30d"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("mw_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain-HTTP public URL; see the HTTPS test below
    overview = await browser.get("/?period=30d")
    assert overview.status_code == 200
    assert "Overview" in overview.text
    assert overview.headers["cache-control"] == "no-store"


async def test_next_cannot_leave_the_site(runtime: object, browser: httpx.AsyncClient) -> None:
    await runtime.services.users.create(USERNAME, PASSWORD, totp=False)  # type: ignore[attr-defined]
    page = await browser.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token
    response = await browser.post(
        "/login",
        data={
            "login_token": token.group(1),
            "username": USERNAME,
            "password": PASSWORD,
            "next": "//evil.example/",
        },
    )
    assert response.headers["location"] == "/"


async def test_totp_is_required_before_any_page(
    runtime: object, browser: httpx.AsyncClient
) -> None:
    _, secret = await runtime.services.users.create(USERNAME, PASSWORD)  # type: ignore[attr-defined]
    assert secret
    response = await sign_in(browser, USERNAME, PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login/totp")
    assert (await browser.get("/")).status_code == 303  # password alone is not enough
    step = await browser.get("/login/totp")
    csrf = csrf_of(step.text)
    wrong = await browser.post("/login/totp", data={"csrf_token": csrf, "code": "000000"})
    if pyotp.TOTP(secret).verify("000000", valid_window=1):  # one chance in ~300,000
        pytest.fail("000000 happened to be valid; rerun")
    assert wrong.status_code == 401
    assert "That code is not valid." in wrong.text
    no_csrf = await browser.post("/login/totp", data={"code": pyotp.TOTP(secret).now()})
    assert no_csrf.status_code == 403
    half_open = browser.cookies["mw_session"]
    right = await browser.post(
        "/login/totp", data={"csrf_token": csrf, "code": pyotp.TOTP(secret).now()}
    )
    assert right.status_code == 303
    assert (await browser.get("/")).status_code == 200
    # The completed login has a new token: the one from before the code step is worthless.
    assert browser.cookies["mw_session"] != half_open
    stale = httpx.AsyncClient(
        transport=browser._transport, base_url=browser.base_url, cookies={"mw_session": half_open}
    )
    async with stale:
        assert (await stale.get("/")).status_code == 303


async def test_wrong_codes_end_the_half_open_session(
    runtime: object, browser: httpx.AsyncClient
) -> None:
    _, secret = await runtime.services.users.create(USERNAME, PASSWORD)  # type: ignore[attr-defined]
    assert secret
    await sign_in(browser, USERNAME, PASSWORD)
    csrf = csrf_of((await browser.get("/login/totp")).text)
    now = time.time()
    valid = {pyotp.TOTP(secret).at(now + 30 * step) for step in (-2, -1, 0, 1, 2)}
    wrong = next(f"{n:06d}" for n in range(10) if f"{n:06d}" not in valid)
    last = None
    for _ in range(5):
        last = await browser.post("/login/totp", data={"csrf_token": csrf, "code": wrong})
    assert last is not None
    assert last.status_code == 303
    assert last.headers["location"] == "/login"
    step = await browser.get("/login/totp")
    assert step.headers["location"] == "/login"


async def test_logout_needs_csrf_and_ends_the_session(dashboard: Dashboard) -> None:
    refused = await dashboard.client.post("/logout")
    assert refused.status_code == 403
    assert (await dashboard.client.get("/")).status_code == 200  # still signed in
    response = await dashboard.post("/logout")
    assert response.status_code == 303
    assert (await dashboard.client.get("/")).status_code == 303


async def test_repeated_wrong_passwords_are_throttled(
    runtime: object, browser: httpx.AsyncClient
) -> None:
    await runtime.services.users.create(USERNAME, PASSWORD, totp=False)  # type: ignore[attr-defined]
    statuses = [(await sign_in(browser, USERNAME, "wrong password")).status_code for _ in range(6)]
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    locked = await sign_in(browser, USERNAME, PASSWORD)  # even the right password, for a while
    assert locked.status_code == 429


async def test_overview_counts_and_charts_sent_messages(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    for n in range(3):
        response = await client.post(
            f"/v3/{sandbox}/messages",
            data={"from": f"a@{sandbox}", "to": f"u{n}@example.com", "subject": "s", "text": "t"},
        )
        assert response.status_code == 200

    async def delivered() -> bool:
        page = await dashboard.client.get("/")
        return (
            'data-stat="delivered"><span class="label">Delivered</span><span class="value">3<'
            in (page.text)
        )

    await wait_until(delivered)
    page = await dashboard.client.get("/")
    assert 'data-stat="sent"><span class="label">Sent</span><span class="value">3<' in page.text
    assert 'Delivery rate</span><span class="value">100.0 %' in page.text
    assert '<svg id="overview-chart"' in page.text
    assert 'data-series="delivered" data-total="3"' in page.text
    for period in ("7d", "30d", "bogus"):
        other = await dashboard.client.get(f"/?period={period}")
        assert other.status_code == 200
        assert 'data-series="sent" data-total="3"' in other.text


@pytest.fixture
async def https_browser(
    tmp_path: Path, database_url: str, store: Store
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings.from_env(
        environ={
            "MAILWRIGHT_DATA_DIR": str(tmp_path),
            "MAILWRIGHT_DATABASE_URL": database_url,
            "MAILWRIGHT_PUBLIC_URL": "https://mail.example.com",
        }
    )
    runtime = build_runtime(settings, frozenset({"api"}), store=store)
    await first_start(settings, store)
    await runtime.start()
    await runtime.services.users.create("grace", PASSWORD, totp=False)
    transport = httpx.ASGITransport(app=runtime.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client
    await runtime.stop()


async def test_cookies_are_secure_behind_an_https_public_url(
    https_browser: httpx.AsyncClient,
) -> None:
    response = await sign_in(https_browser, "grace", PASSWORD)
    assert response.status_code == 303
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("mw_session="))
    assert "Secure" in cookie
