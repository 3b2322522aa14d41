"""Dashboard single sign-on through ``mailwright serve`` configured by its environment: a user
made with ``mailwright users create`` (with TOTP) signs in at a real OpenID Connect provider on
loopback and lands on the dashboard without the TOTP step; the log says who signed in."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.conftest import SSO_ADA, Server, run_cli
from tests.support.oidc_provider import PROVIDER_WARNINGS, Provider

pytestmark = [pytest.mark.e2e, *(pytest.mark.filterwarnings(w) for w in PROVIDER_WARNINGS)]


def test_sso_signs_a_cli_made_user_in(sso_server: Server, oidc_provider: Provider) -> None:
    server, provider = sso_server, oidc_provider
    made = run_cli(
        "users", "create", SSO_ADA, "--password-stdin", env=server.env, stdin="a long password\n"
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
    assert [(e["username"], e["issuer"]) for e in signed_in] == [(SSO_ADA, provider.issuer)]
