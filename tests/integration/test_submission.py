"""SMTP submission with stdlib ``smtplib`` over loopback, on SQLite and PostgreSQL: AUTH,
STARTTLS, sender ownership, ``X-Mailgun-*`` headers, and the same accept path as the API."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import json
import logging
import smtplib
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any, TypeVar

import dkim
import httpx
import pytest
from cryptography import x509

from mailwright.app import Runtime, build_runtime, first_start, start_submission, submission_handler
from mailwright.config import Settings
from mailwright.errors import ConfigError
from mailwright.inbound import (
    Listener,
    SubmissionConfig,
    SubmissionHandler,
    server_tls_context,
    start_smtp,
)
from mailwright.store import Store
from tests.conftest import API_KEY
from tests.integration.test_delivery_mx import ZONE, dkim_lookup, mx_settings
from tests.support.dns import LoopbackDNS
from tests.support.smtp import SmtpSink, tls_materials
from tests.support.wait import wait_until

T = TypeVar("T")
PASSWORD = "submission-pw"


@dataclass
class Submission:
    runtime: Runtime
    client: httpx.AsyncClient
    domain: str
    login: str
    port: int

    async def talk(self, conversation: Callable[[smtplib.SMTP], T], port: int | None = None) -> T:
        """Run a blocking smtplib conversation in a thread (the server runs on this loop)."""

        def run() -> T:
            with smtplib.SMTP("127.0.0.1", port or self.port, timeout=10) as smtp:
                smtp.ehlo("client.test")
                return conversation(smtp)

        return await asyncio.to_thread(run)

    async def events(self, **params: str) -> list[dict[str, Any]]:
        page = await self.client.get(f"/v3/{self.domain}/events", params=params)
        return list(page.json()["items"])


def tls_settings(settings: Settings, tmp_path: Path) -> Settings:
    """Submission on a free port with the trustme leaf as its certificate."""
    _, leaf, _ = tls_materials()
    pem = tmp_path / "leaf.pem"
    leaf.private_key_and_cert_chain_pem.write_to_path(str(pem))
    return settings.with_changes(
        submission_addr=("127.0.0.1", 0), smtp_addr=None, tls_cert_file=pem, tls_key_file=pem
    )


@contextlib.asynccontextmanager
async def serving(
    settings: Settings, store: Store, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[Submission]:
    runtime = build_runtime(
        settings, frozenset({"api", "worker", "smtp"}), store=store, ssl_context=ssl_context
    )
    await first_start(settings, store)
    await runtime.start()
    assert runtime.submission is not None
    transport = httpx.ASGITransport(app=runtime.app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", auth=("api", API_KEY)
        ) as client:
            domain = (await client.get("/v4/domains")).json()["items"][0]["name"]
            created = await client.post(
                f"/v3/domains/{domain}/credentials", data={"login": "app", "password": PASSWORD}
            )
            assert created.status_code == 200, created.text
            yield Submission(
                runtime, client, domain, f"app@{domain}", runtime.submission.address[1]
            )
    finally:
        await runtime.stop()


@pytest.fixture
async def submission(settings: Settings, store: Store, tmp_path: Path) -> AsyncIterator[Submission]:
    async with serving(tls_settings(settings, tmp_path), store) as running:
        yield running


def message(sender: str, to: str = "alice@example.com", **headers: str | list[str]) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = "Over SMTP"
    for name, value in headers.items():
        for item in value if isinstance(value, list) else [value]:
            mail[name.replace("_", "-")] = item
    mail.set_content("Hello from smtplib\n")
    return mail.as_bytes(policy=SMTP)


def login(smtp: smtplib.SMTP, user: str, password: str, mechanism: str = "PLAIN") -> None:
    smtp.user, smtp.password = user, password
    smtp.auth(mechanism, getattr(smtp, f"auth_{mechanism.lower()}"), initial_response_ok=True)


def transaction(user: str, data: bytes, rcpts: tuple[str, ...] = ("alice@example.com",)):
    """AUTH, MAIL, RCPT..., DATA; returns DATA's reply."""
    sender = user

    def conversation(smtp: smtplib.SMTP) -> tuple[int, bytes]:
        login(smtp, user, PASSWORD)
        assert smtp.mail(sender)[0] == 250
        for rcpt in rcpts:
            assert smtp.rcpt(rcpt)[0] == 250
        return smtp.data(data)

    return conversation


async def inbox(client: httpx.AsyncClient, expected: int) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        items = (await client.get("/mailwright/v1/inbox/messages")).json()["items"]
        return items if len(items) >= expected else None

    return await wait_until(probe)


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_submitted_message_is_accepted_like_the_api(
    submission: Submission, mechanism: str
) -> None:
    domain = submission.domain

    def conversation(smtp: smtplib.SMTP) -> tuple[int, bytes]:
        assert "auth" in smtp.esmtp_features  # loopback: AUTH offered before STARTTLS
        assert "starttls" in smtp.esmtp_features
        login(smtp, submission.login, PASSWORD, mechanism)
        smtp.mail(f"app@{domain}")
        smtp.rcpt("alice@example.com")
        smtp.rcpt("bob@example.com")
        return smtp.data(message(f"App <app@{domain}>", "alice@example.com, bob@example.com"))

    code, text = await submission.talk(conversation)
    assert code == 250
    assert text.startswith(b"2.0.0 Ok: queued as <")
    message_id = text.decode().rsplit(" ", 1)[1]
    assert message_id.endswith(f"@{domain}>")

    items = await inbox(submission.client, 2)
    assert sorted(item["recipient"] for item in items) == ["alice@example.com", "bob@example.com"]
    raw = (await submission.client.get(f"/mailwright/v1/inbox/messages/{items[0]['id']}/raw")).text
    assert f"Message-Id: {message_id}" in raw
    assert "Received: from client.test ([127.0.0.1]) by testserver with ESMTPA;" in raw
    assert "Hello from smtplib" in raw

    accepted = await submission.events(event="accepted")
    assert len(accepted) == 2
    assert {e["method"] for e in accepted} == {"smtp"}
    assert {e["message"]["headers"]["message-id"] for e in accepted} == {message_id[1:-1]}
    delivered = await wait_until(lambda: submission.events(event="delivered"))
    assert delivered[0]["flags"]["is-test-mode"] is False


async def test_wrong_password_is_535(submission: Submission) -> None:
    def conversation(smtp: smtplib.SMTP) -> None:
        login(smtp, submission.login, "not-the-password")

    with pytest.raises(smtplib.SMTPAuthenticationError) as failed:
        await submission.talk(conversation)
    assert failed.value.smtp_code == 535
    assert failed.value.smtp_error == b"5.7.8 Authentication credentials invalid"

    def unknown(smtp: smtplib.SMTP) -> None:
        login(smtp, f"nobody@{submission.domain}", PASSWORD, "LOGIN")

    with pytest.raises(smtplib.SMTPAuthenticationError) as failed:
        await submission.talk(unknown)
    assert failed.value.smtp_code == 535


async def test_mail_without_auth_is_530(submission: Submission) -> None:
    def conversation(smtp: smtplib.SMTP) -> tuple[tuple[int, bytes], tuple[int, bytes]]:
        return smtp.mail(f"app@{submission.domain}"), smtp.docmd("DATA")

    mail, data = await submission.talk(conversation)
    assert mail == (530, b"5.7.0 Authentication required")
    assert data[0] in (503, 530)  # no transaction, and no AUTH either
    assert await submission.events() == []


async def test_changed_password_stops_working_at_once(submission: Submission) -> None:
    code, _ = await submission.talk(transaction(submission.login, message(submission.login)))
    assert code == 250  # the check is now cached
    changed = await submission.client.put(
        f"/v3/domains/{submission.domain}/credentials/app", data={"password": "new-password"}
    )
    assert changed.status_code == 200

    with pytest.raises(smtplib.SMTPAuthenticationError):
        await submission.talk(lambda smtp: login(smtp, submission.login, PASSWORD))


async def test_foreign_sender_domain_is_550(submission: Submission) -> None:
    domain = submission.domain

    def envelope(smtp: smtplib.SMTP) -> tuple[int, bytes]:
        login(smtp, submission.login, PASSWORD)
        return smtp.mail("ceo@other.example")

    code, text = await submission.talk(envelope)
    assert code == 550
    assert (
        text
        == f"5.7.1 Envelope sender ceo@other.example is not a sender of domain {domain}".encode()
    )

    def header(smtp: smtplib.SMTP) -> tuple[int, bytes]:
        login(smtp, submission.login, PASSWORD)
        smtp.mail(f"app@{domain}")
        smtp.rcpt("alice@example.com")
        return smtp.data(message("CEO <ceo@other.example>"))

    code, text = await submission.talk(header)
    assert code == 550
    assert b"5.7.1 From header address ceo@other.example is not a sender of domain" in text
    assert await submission.events() == []


async def test_mailgun_headers_become_send_options(submission: Submission) -> None:
    data = message(
        submission.login,
        X_Mailgun_Tag=["welcome", "smtp"],
        X_Mailgun_Variables=json.dumps({"order": 42}),
        X_Mailgun_Track_Clicks="no",
    )
    code, _ = await submission.talk(transaction(submission.login, data))
    assert code == 250

    [event] = await wait_until(lambda: submission.events(event="accepted"))
    assert event["tags"] == ["welcome", "smtp"]
    assert event["user-variables"] == {"order": 42}
    [item] = await inbox(submission.client, 1)
    raw = (await submission.client.get(f"/mailwright/v1/inbox/messages/{item['id']}/raw")).text
    assert "X-Mailgun-Track-Clicks" not in raw  # control headers do not reach the recipient
    assert json.loads(raw.split("X-Mailgun-Variables: ", 1)[1].split("\r\n", 1)[0]) == {"order": 42}


async def test_drop_message_header_is_test_mode(submission: Submission) -> None:
    data = message(submission.login, X_Mailgun_Drop_Message="yes")
    code, _ = await submission.talk(transaction(submission.login, data))
    assert code == 250
    [event] = await wait_until(lambda: submission.events(event="delivered"))
    assert event["flags"]["is-test-mode"] is True
    items = (await submission.client.get("/mailwright/v1/inbox/messages")).json()["items"]
    assert items == []


async def test_message_without_from_is_554(submission: Submission) -> None:
    data = b"Subject: no sender\r\n\r\nbody\r\n"
    code, text = await submission.talk(transaction(submission.login, data))
    assert code == 554
    assert text == b"5.6.0 The message has no valid From header"


async def test_bad_option_header_is_refused_with_its_name(submission: Submission) -> None:
    data = message(submission.login, X_Mailgun_Deliver_By="next tuesday")
    code, text = await submission.talk(transaction(submission.login, data))
    assert code == 554
    assert text.startswith(b"5.6.0 X-Mailgun-Deliver-By: ")
    assert await submission.events() == []


async def test_starttls_then_auth_when_the_client_is_not_trusted(
    submission: Submission,
) -> None:
    runtime = submission.runtime
    handler = submission_handler(runtime.settings, runtime.services, is_loopback_trusted=False)
    listener = await start_submission(runtime.settings, runtime.services, handler)
    try:

        def conversation(smtp: smtplib.SMTP) -> tuple[int, bytes]:
            assert "auth" not in smtp.esmtp_features  # RFC 4954: no AUTH before TLS
            refused = smtp.docmd("AUTH", "PLAIN AGFwcABwYXNzd29yZA==")
            assert refused[0] == 538
            smtp.starttls(context=tls_materials()[2])
            smtp.ehlo("client.test")
            assert "PLAIN" in smtp.esmtp_features["auth"].split()
            login(smtp, submission.login, PASSWORD)
            smtp.mail(submission.login)
            smtp.rcpt("alice@example.com")
            return smtp.data(message(submission.login))

        code, _ = await submission.talk(conversation, port=listener.address[1])
        assert code == 250
        await inbox(submission.client, 1)
    finally:
        await listener.stop()


async def test_oversize_message_is_552(submission: Submission) -> None:
    runtime = submission.runtime
    listener = await _small_listener(runtime)
    try:
        data = message(submission.login) + (b"x" * 70 + b"\r\n") * 60
        code, _ = await submission.talk(transaction(submission.login, data), listener.address[1])
        assert code == 552
    finally:
        await listener.stop()
    assert await submission.events() == []


async def _small_listener(runtime: Runtime) -> Listener:
    return await start_smtp(
        submission_handler(runtime.settings, runtime.services),
        "127.0.0.1",
        0,
        tls_context=None,
        ident="test",
        hostname="localhost",
        data_size_limit=1024,
        auth_require_tls=False,
    )


async def test_store_error_is_451_and_nothing_is_accepted(
    submission: Submission, tmp_path: Path
) -> None:
    # A real store that cannot open its database (the path is a directory).
    broken = Store.from_url(f"sqlite:///{tmp_path}")
    services = submission.runtime.services
    handler = SubmissionHandler(
        broken,
        SubmissionConfig(public_url=services.public_url, retention=services.retention),
        credentials=services.credentials,
        domains=services.domains,
        webhooks=services.webhooks,
        lists=services.lists,
        on_accepted=lambda: None,
        clock=services.clock,
    )
    listener = await start_submission(submission.runtime.settings, services, handler)
    try:
        code, text = await submission.talk(
            transaction(submission.login, message(submission.login)), listener.address[1]
        )
    finally:
        await listener.stop()
        await broken.close()
    assert code == 451
    assert text.startswith(b"4.3.0 ")
    assert await submission.events() == []


async def test_credentials_of_a_deleted_domain_stop_working(submission: Submission) -> None:
    await submission.client.post(
        "/v4/domains", data={"name": "gone.example", "smtp_password": PASSWORD}
    )
    code, _ = await submission.talk(
        transaction("postmaster@gone.example", message("postmaster@gone.example"))
    )
    assert code == 250
    assert (await submission.client.delete("/v3/domains/gone.example")).status_code == 200
    with pytest.raises(smtplib.SMTPAuthenticationError):
        await submission.talk(lambda smtp: login(smtp, "postmaster@gone.example", PASSWORD))


@pytest.fixture
def loopback_dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS(ZONE) as server:
        yield server


async def test_submitted_message_is_delivered_over_mx_with_dkim(
    tmp_path: Path, database_url: str, store: Store, loopback_dns: LoopbackDNS
) -> None:
    _, leaf, client_context = tls_materials()
    with SmtpSink(tls_cert=leaf) as sink:
        settings = mx_settings(tmp_path, database_url, loopback_dns, sink.port)
        async with serving(tls_settings(settings, tmp_path), store, client_context) as running:
            records = (await running.client.get(f"/v4/domains/{running.domain}")).json()
            for record in records["sending_dns_records"]:
                if record["record_type"] == "TXT":
                    loopback_dns.add(f'{record["name"]}. 300 IN TXT "{record["value"]}"')
            data = message(running.login, "alice@rcpt.test", X_Mailgun_Tag="mx")
            code, _ = await running.talk(transaction(running.login, data, ("alice@rcpt.test",)))
            assert code == 250

            [received] = await sink.wait_for(1)
            assert received.rcpt_tos == ("alice@rcpt.test",)
            assert b"Hello from smtplib" in received.data
            assert dkim.verify(received.data, dnsfunc=dkim_lookup(loopback_dns))
            [event] = await wait_until(lambda: running.events(event="delivered"))
            assert event["tags"] == ["mx"]


def test_self_signed_certificate_is_generated_once(tmp_path: Path) -> None:
    first = server_tls_context(None, None, tmp_path, "mail.example.test")
    cert = (tmp_path / "tls" / "self-signed-cert.pem").read_bytes()
    key = tmp_path / "tls" / "self-signed-key.pem"
    assert key.stat().st_mode & 0o077 == 0  # the private key is the owner's only
    second = server_tls_context(None, None, tmp_path, "mail.example.test")
    assert (tmp_path / "tls" / "self-signed-cert.pem").read_bytes() == cert
    assert first is not second
    parsed = x509.load_pem_x509_certificate(cert)
    names = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "mail.example.test" in names.get_values_for_type(x509.DNSName)


def test_certificate_and_key_go_together(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        server_tls_context(tmp_path / "cert.pem", None, tmp_path, "localhost")
    with pytest.raises(ConfigError):
        server_tls_context(tmp_path / "missing.pem", tmp_path / "missing.pem", tmp_path, "x")


async def test_mail_to_a_list_address_reaches_its_members(submission: Submission) -> None:
    address = f"news@{submission.domain}"
    created = await submission.client.post("/v3/lists", data={"address": address})
    assert created.status_code == 200, created.text
    for member in ("ann@example.com", "bob@example.com"):
        await submission.client.post(f"/v3/lists/{address}/members", data={"address": member})
    data = message(submission.login, address)
    code, _ = await submission.talk(transaction(submission.login, data, (address,)))
    assert code == 250
    items = await inbox(submission.client, 2)
    assert sorted(i["recipient"] for i in items) == ["ann@example.com", "bob@example.com"]


async def test_too_many_auth_attempts_end_the_connection(submission: Submission) -> None:
    def conversation(smtp: smtplib.SMTP) -> tuple[int, bytes]:
        for _ in range(5):
            assert smtp.docmd("AUTH", "PLAIN AGFwcABndWVzcw==")[0] == 535
        return smtp.docmd("AUTH", "PLAIN AGFwcABndWVzcw==")

    code, text = await submission.talk(conversation)
    assert (code, text) == (421, b"4.7.0 AUTH sent too many times")


async def test_passwords_never_reach_the_logs(
    submission: Submission, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-secret-guess"
    with pytest.raises(smtplib.SMTPAuthenticationError):
        await submission.talk(lambda smtp: login(smtp, submission.login, wrong, "LOGIN"))
    code, _ = await submission.talk(transaction(submission.login, message(submission.login)))
    assert code == 250
    logged = capsys.readouterr().out + caplog.text
    assert "smtp_auth_failed" in logged  # the operator sees the failure and the login
    assert "AUTH" in caplog.text  # aiosmtpd logged the commands, masked
    secrets_ = [PASSWORD, wrong]
    secrets_ += [base64.b64encode(s.encode()).decode() for s in (PASSWORD, wrong)]
    plain = base64.b64encode(f"\0{submission.login}\0{PASSWORD}".encode()).decode()
    for secret in [*secrets_, plain]:
        assert secret not in logged


async def test_trusted_network_submits_without_auth_for_our_domains_only(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    trusted = tls_settings(settings, tmp_path).with_changes(
        submission_trusted_networks=(ipaddress.ip_network("127.0.0.0/8"),)
    )
    async with serving(trusted, store) as running:
        domain = running.domain

        def conversation(smtp: smtplib.SMTP) -> tuple[int, int, tuple[int, bytes]]:
            foreign = smtp.mail("someone@elsewhere.example")[0]
            smtp.rset()
            ours = smtp.mail(f"printer@{domain}")[0]
            smtp.rcpt("alice@example.com")
            return foreign, ours, smtp.data(message(f"printer@{domain}"))

        foreign, ours, (code, _) = await running.talk(conversation)
        assert (foreign, ours, code) == (530, 250, 250)
        [item] = await inbox(running.client, 1)
        assert item["recipient"] == "alice@example.com"


async def test_untrusted_client_still_needs_auth(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    elsewhere = tls_settings(settings, tmp_path).with_changes(
        submission_trusted_networks=(ipaddress.ip_network("192.0.2.0/24"),)
    )
    async with serving(elsewhere, store) as running:

        def conversation(smtp: smtplib.SMTP) -> int:
            return smtp.mail(f"printer@{running.domain}")[0]

        assert await running.talk(conversation) == 530
