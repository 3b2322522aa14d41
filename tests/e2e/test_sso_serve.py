"""Dashboard single sign-on through ``mailwright serve`` configured by its environment: a user
made with ``mailwright users create`` (with TOTP) signs in at a real OpenID Connect provider on
loopback and lands on the dashboard without the TOTP step; the log says who signed in."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import Server, StartServer, run_cli
from tests.support.dns import LoopbackDNS
from tests.support.oidc_provider import PROVIDER_WARNINGS, Provider, run_provider

pytestmark = [pytest.mark.e2e, *(pytest.mark.filterwarnings(w) for w in PROVIDER_WARNINGS)]

ADA = "ada@example.com"


@pytest.fixture
def provider() -> Iterator[Provider]:
    with run_provider({"sub-ada": {"email": ADA, "email_verified": True}}) as provider:
        yield provider


@pytest.fixture
def server(dns: LoopbackDNS, start_server: StartServer, provider: Provider) -> Server:
    return start_server(
        MAILWRIGHT_DNS_SERVER=dns.nameserver,
        MAILWRIGHT_OIDC_ISSUER=provider.issuer,
        MAILWRIGHT_OIDC_CLIENT_ID="mailwright",
        MAILWRIGHT_OIDC_CLIENT_SECRET="hush",
    )


def test_sso_signs_a_cli_made_user_in(server: Server, provider: Provider) -> None:
    made = run_cli(
        "users", "create", ADA, "--password-stdin", env=server.env, stdin="a long password\n"
    )
    assert made.returncode == 0, made.stderr
    with httpx.Client(base_url=server.base_url) as browser, httpx.Client() as at_provider:
        login = browser.get("/login")
        assert "Sign in with SSO" in login.text
        start = browser.get("/login/oidc", params={"next": "/messages"})
        assert start.status_code == 303
        assert start.headers["location"].startswith(provider.issuer + "/oauth2/authorize?")
        answer = at_provider.post(start.headers["location"], data={"sub": "sub-ada"})
        assert answer.status_code == 302
        callback = answer.headers["location"]
        assert callback.startswith(server.base_url + "/login/oidc/callback?")
        done = browser.get(callback)
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/messages"
        page = browser.get("/messages")
        assert page.status_code == 200
        assert "Message log" in page.text
    signed_in = [
        json.loads(line)
        for line in server.output().splitlines()
        if line.startswith("{") and "sso_signed_in" in line
    ]
    assert [(e["username"], e["issuer"]) for e in signed_in] == [(ADA, provider.issuer)]
