"""SMTP credentials through the official Mailgun SDK, then mail submitted with stdlib
``smtplib`` (STARTTLS with the self-signed certificate) to ``mailwright serve``."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

import pytest

from tests.e2e.conftest import Server, free_port
from tests.e2e.test_sdk import poll, sdk, wait_inbox
from tests.support.dns import LoopbackDNS

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", "postgresql"])
def smtp_server(request: pytest.FixtureRequest, dns: LoopbackDNS) -> Server:
    settings = {
        "MAILWRIGHT_DNS_SERVER": dns.nameserver,
        "MAILWRIGHT_SUBMISSION_ADDR": f"127.0.0.1:{free_port()}",
    }
    if request.param == "postgresql":
        # Before start_server: teardown runs in reverse, so the server stops first.
        settings["database_url"] = request.getfixturevalue("fresh_postgres_url")
    start = request.getfixturevalue("start_server")
    server: Server = start(**settings)
    return server


def submission_port(server: Server) -> int:
    return int(server.env["MAILWRIGHT_SUBMISSION_ADDR"].rsplit(":", 1)[1])


def test_sdk_manages_credentials_and_smtp_submission_delivers(smtp_server: Server) -> None:
    domain = smtp_server.sandbox
    login = f"alice_bob@{domain}"
    with sdk(smtp_server) as client:
        created = client.domains_credentials.create(
            domain=domain, data={"login": login, "password": "first-password"}
        )
        assert created.status_code == 200, created.text
        assert created.json() == {"message": "Created 1 credentials pair(s)"}
        listed = client.domains_credentials.get(domain=domain).json()
        assert [item["login"] for item in listed["items"]] == [login]
        changed = client.domains_credentials.put(
            domain=domain, login=login, data={"password": "second-password"}
        )
        assert changed.json() == {"message": "Password changed"}

    mail = EmailMessage()
    mail["From"] = f"Alice <{login}>"
    mail["To"] = "carol@example.com"
    mail["Subject"] = "Submitted"
    mail["X-Mailgun-Tag"] = "smtp"
    mail.set_content("Sent through submission\n")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the generated certificate is self-signed
    with smtplib.SMTP("127.0.0.1", submission_port(smtp_server), timeout=10) as smtp:
        smtp.starttls(context=context)
        smtp.login(login, "second-password")
        refused = smtp.send_message(mail)
    assert refused == {}
    [item] = wait_inbox(smtp_server, 1, "carol@example.com")
    assert item["subject"] == "Submitted"

    def tagged() -> list[dict]:
        with smtp_server.http() as http:
            page = http.get(f"/v3/{domain}/events", params={"event": "accepted", "tags": "smtp"})
        return list(page.json()["items"])

    [event] = poll(tagged, what="accepted event tagged smtp")
    assert event["method"] == "smtp"

    with sdk(smtp_server) as client:
        deleted = client.domains_credentials.delete(domain=domain, login=login)
        assert deleted.json() == {"message": "Credentials have been deleted", "spec": login}
    with (
        smtplib.SMTP("127.0.0.1", submission_port(smtp_server), timeout=10) as smtp,
        pytest.raises(smtplib.SMTPAuthenticationError),
    ):
        smtp.login(login, "second-password")
