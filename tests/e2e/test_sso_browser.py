"""Single sign-on in headless Chromium against ``mailwright serve`` and a real OpenID Connect
provider on loopback: "Sign in with SSO" on the login page, the provider's own authorization
form filled in, back on the overview signed in (no TOTP step) and signed out again; an identity
that names no dashboard user ends on the login page with the reason. Screenshots go to
``test-artifacts/dashboard/``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import SSO_ADA, Server, run_cli
from tests.support.browser import launch_chromium, shot
from tests.support.oidc_provider import PROVIDER_WARNINGS, Provider

pytestmark = [pytest.mark.e2e, *(pytest.mark.filterwarnings(w) for w in PROVIDER_WARNINGS)]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    yield from launch_chromium()


@pytest.fixture
def tab(chromium: Browser, sso_server: Server) -> Iterator[Page]:
    context = chromium.new_context(base_url=sso_server.base_url)
    opened = context.new_page()
    yield opened
    context.close()


def authorize_at_provider(tab: Page, provider: Provider, sub: str) -> None:
    """From the login page, through "Sign in with SSO" to the provider's form, signed in as
    ``sub`` there."""
    tab.get_by_role("link", name="Sign in with SSO").click()
    expect(tab).to_have_url(re.compile("^" + re.escape(provider.issuer + "/oauth2/authorize?")))
    expect(tab.get_by_role("heading", name="Authorize Client")).to_be_visible()
    tab.get_by_placeholder("sub").fill(sub)
    shot(tab, f"sso-provider-{sub}")
    tab.get_by_role("button", name="Authorize").click()


def test_sso_sign_in_and_out(tab: Page, sso_server: Server, oidc_provider: Provider) -> None:
    made = run_cli(
        "users",
        "create",
        SSO_ADA,
        "--password-stdin",
        env=sso_server.env,
        stdin="a long password\n",
    )
    assert made.returncode == 0, made.stderr

    tab.goto("/messages")
    expect(tab).to_have_url(re.compile(r"/login\?next=%2Fmessages$"))
    shot(tab, "sso-01-login")
    authorize_at_provider(tab, oidc_provider, "sub-ada")

    # Straight to the page asked for first: the provider did the second factor.
    expect(tab).to_have_url(sso_server.base_url + "/messages")
    expect(tab.get_by_role("heading", name="Message log")).to_be_visible()
    tab.get_by_role("link", name="Overview").click()
    expect(tab).to_have_url(sso_server.base_url + "/")
    expect(tab.get_by_role("heading", name="Overview")).to_be_visible()
    expect(tab.locator("header .who")).to_have_text(SSO_ADA)
    shot(tab, "sso-02-overview")

    tab.get_by_role("button", name="Sign out").click()
    expect(tab).to_have_url(re.compile(r"/login"))
    expect(tab.get_by_role("link", name="Sign in with SSO")).to_be_visible()
    tab.goto("/")
    expect(tab).to_have_url(re.compile(r"/login\?next=%2F$"))
    expect(tab.locator("header .who")).to_have_count(0)


def test_sso_identity_of_no_user_is_refused(
    tab: Page, sso_server: Server, oidc_provider: Provider
) -> None:
    tab.goto("/login")
    authorize_at_provider(tab, oidc_provider, "sub-eve")

    expect(tab).to_have_url(re.compile(r"/login/oidc/callback\?"))
    expect(tab.get_by_role("alert")).to_have_text(
        "No dashboard user eve@example.com exists; ask an administrator."
    )
    expect(tab.get_by_role("heading", name="Sign in to mailwright")).to_be_visible()
    expect(tab.locator("header .who")).to_have_count(0)
    shot(tab, "sso-03-refused")
    tab.goto("/")
    expect(tab).to_have_url(re.compile(r"/login\?next=%2F$"))
