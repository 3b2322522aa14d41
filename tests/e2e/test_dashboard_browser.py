"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright, against
``mailwright serve`` as users start it. A user made with ``mailwright users create`` signs in with
a password and a TOTP code, sends a message through the official Mailgun SDK, and finds it in the
message log, the message page (attempts and SMTP transcript) and the capture inbox; the overview
chart renders. Screenshots go to ``test-artifacts/dashboard/`` (kept after the run)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import Server, run_cli
from tests.e2e.test_sdk import sdk, wait_inbox
from tests.support.browser import launch_chromium, shot

pytestmark = pytest.mark.e2e

PASSWORD = "browser test password"
SECRET_LINE = re.compile(r"^totp secret \(shown once[^)]*\): ([A-Z2-7]{32})$", re.MULTILINE)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    yield from launch_chromium()


@pytest.fixture
def page(chromium: Browser, sqlite_server: Server) -> Iterator[Page]:
    context = chromium.new_context(base_url=sqlite_server.base_url)
    opened = context.new_page()
    yield opened
    context.close()


def create_user(server: Server, name: str) -> str:
    result = run_cli(
        "users", "create", name, "--password-stdin", env=server.env, stdin=PASSWORD + "\n"
    )
    assert result.returncode == 0, result.stderr
    found = SECRET_LINE.search(result.stdout)
    assert found, result.stdout
    return found.group(1)


def sign_in(page: Page, name: str, secret: str) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    shot(page, "01-login")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/login/totp"))
    page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
    shot(page, "02-totp")
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def test_sign_in_send_and_find_the_message(page: Page, sqlite_server: Server) -> None:
    secret = create_user(sqlite_server, "ada")
    sign_in(page, "ada", secret)

    domain = sqlite_server.sandbox
    with sdk(sqlite_server) as client:
        response = client.messages.create(
            data={
                "from": f"Shop <shop@{domain}>",
                "to": "reader@example.com",
                "subject": "Your browser-tested order",
                "text": "Plain words",
                "html": "<p>Hello <b>reader</b></p>",
            },
            domain=domain,
        )
        assert response.status_code == 200, response.text
    wait_inbox(sqlite_server, 1)

    # The overview counts it and draws the chart.
    page.goto("/?period=24h")
    expect(page.locator('[data-stat="sent"] .value')).to_have_text("1")
    chart = page.locator("svg#overview-chart")
    expect(chart).to_be_visible()
    expect(chart.locator('g[data-series="sent"] polyline')).to_have_count(1)
    assert chart.bounding_box() is not None
    assert chart.bounding_box()["width"] > 300  # type: ignore[index]
    expect(chart.locator('g[data-series="delivered"]')).to_have_attribute("data-total", "1")
    shot(page, "03-overview")

    # The message log lists it; its page shows the delivery, the attempt and the HTML part.
    page.goto("/messages")
    expect(page.get_by_role("heading", name="Message log")).to_be_visible()
    link = page.get_by_role("link", name="Your browser-tested order").first
    expect(link).to_be_visible()
    shot(page, "04-message-log")
    link.click()
    expect(page).to_have_url(re.compile(r"/messages/[^/]+$"))
    expect(page.locator("#attempts")).to_contain_text("reader@example.com")
    expect(page.locator("#attempts")).to_contain_text("delivered")
    preview = page.frame_locator("iframe.preview")
    expect(preview.locator("b")).to_have_text("reader")
    shot(page, "05-message")

    # The capture inbox has the copy, with its rendered HTML (sandboxed) and headers.
    page.goto("/inbox")
    page.get_by_role("link", name="Your browser-tested order").first.click()
    expect(page).to_have_url(re.compile(r"/inbox/[^/]+$"))
    expect(page.locator("#headers")).to_contain_text("reader@example.com")
    expect(page.frame_locator("iframe.preview").locator("p")).to_contain_text("Hello")
    shot(page, "06-inbox")
