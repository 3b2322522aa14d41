"""Secrets never reach the logs while the server works: API keys in Authorization headers,
SMTP AUTH passwords (submission and the relay's), the relay URL and DKIM private keys."""

from __future__ import annotations

import base64
import logging
import smtplib
from pathlib import Path

import pytest
from sqlalchemy import select

from mailwright.config import Secret, Settings
from mailwright.store import Store, schema
from mailwright.store.sealed import dkim_place
from tests.conftest import API_KEY
from tests.integration.test_submission import (
    PASSWORD,
    login,
    message,
    serving,
    tls_settings,
    transaction,
)
from tests.support.logs import captured_logs
from tests.support.smtp import SmtpSink

RELAY_PASSWORD = "relay-pw-5f0c1d"
WRONG_PASSWORD = "wrong-pw-77aa21"


def encodings(secret: str) -> list[str]:
    return [secret, base64.b64encode(secret.encode()).decode()]


async def test_secrets_never_reach_the_logs(
    settings: Settings,
    store: Store,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="mail.log")  # aiosmtpd logs each command at DEBUG
    with SmtpSink(auth_users={"relayuser": RELAY_PASSWORD}) as relay, captured_logs() as logged:
        relay_url = f"smtp://relayuser:{RELAY_PASSWORD}@127.0.0.1:{relay.port}"
        configured = tls_settings(settings, tmp_path).with_changes(
            delivery="relay", relay_url=Secret(relay_url)
        )
        async with serving(configured, store) as running:
            api = running.client
            created = await api.post(
                "/v1/keys", data={"role": "admin", "allowed_ips": "203.0.113.0/24"}
            )
            limited = created.json()["key"]["secret"]
            assert (await api.get("/v4/domains", auth=("api", limited))).status_code == 401
            wrong = await api.get("/v4/domains", auth=("api", API_KEY + "-wrong"))
            assert wrong.status_code == 401
            assert (await api.post("/v4/domains", data={"name": "signed.example"})).is_success
            with pytest.raises(smtplib.SMTPAuthenticationError):
                await running.talk(lambda smtp: login(smtp, running.login, WRONG_PASSWORD))
            code, _ = await running.talk(transaction(running.login, message(running.login)))
            assert code == 250
            [relayed] = await relay.wait_for(1)
            assert relayed.login == "relayuser"
            key_id = created.json()["key"]["id"]
            assert (await api.delete(f"/v1/keys/{key_id}")).status_code == 200
        async with store.read() as conn:
            D = schema.domains
            rows = await conn.execute(select(D.c.id, D.c.dkim_selector, D.c.dkim_private_key))
            dkim_keys = [
                store.keyring.open(sealed, dkim_place(domain_id, selector))
                for domain_id, selector, sealed in rows
            ]
    output = capsys.readouterr()
    text = logged.getvalue() + caplog.text + output.out + output.err
    assert "smtp_auth_failed" in text  # the operator sees the failure...
    assert "AUTH" in caplog.text  # ...and aiosmtpd's masked commands: the capture works
    secrets = [relay_url, API_KEY, limited, PASSWORD, WRONG_PASSWORD, RELAY_PASSWORD]
    secrets += [
        base64.b64encode(f"\0{user}\0{pw}".encode()).decode()
        for user, pw in ((running.login, PASSWORD), ("relayuser", RELAY_PASSWORD))
    ]
    secrets += [base64.b64encode(f"api:{key}".encode()).decode() for key in (API_KEY, limited)]
    for secret in secrets:
        for form in encodings(secret):
            assert form not in text, secret
    assert len(dkim_keys) == 2
    for pem in dkim_keys:
        body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
        assert len(body) > 10
        for line in body:
            assert line not in text
