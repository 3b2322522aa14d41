"""A signed-in dashboard: a user without TOTP (the TOTP step has its own tests) and a browser-like
client that keeps cookies, plus the session's CSRF token for forms."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from mailwright.app import Runtime

USERNAME = "ada"
PASSWORD = "correct horse battery"


@dataclass
class Dashboard:
    client: httpx.AsyncClient
    csrf: str

    async def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post(path, data={"csrf_token": self.csrf, **(data or {})})


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    page = await client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token
    return await client.post(
        "/login",
        data={"login_token": token.group(1), "username": username, "password": password},
    )


@pytest.fixture
async def browser(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client with no API key."""
    transport = httpx.ASGITransport(app=runtime.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def dashboard(runtime: Runtime, browser: httpx.AsyncClient) -> Dashboard:
    await runtime.services.users.create(USERNAME, PASSWORD, totp=False)
    response = await sign_in(browser, USERNAME, PASSWORD)
    assert response.status_code == 303, response.text
    overview = await browser.get("/")
    assert overview.status_code == 200
    return Dashboard(browser, csrf_of(overview.text))
