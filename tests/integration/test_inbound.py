"""The inbound MX listener with stdlib ``smtplib`` over loopback, on SQLite and PostgreSQL: no
open relay, durable storage before the 250, routes (forward to a URL, to an address, store
with notify), and asynchronous bounces and complaints matched to their delivery."""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy import select

from mailwright.app import Runtime, build_runtime, first_start
from mailwright.config import Settings
from mailwright.store import Store, schema
from tests.conftest import API_KEY
from tests.integration.test_delivery_mx import ZONE, mx_settings
from tests.support.anymail_view import anymail_inbound
from tests.support.dns import LoopbackDNS
from tests.support.receiver import Receiver
from tests.support.smtp import SmtpSink, tls_materials
from tests.support.wait import wait_until

T = TypeVar("T")


@dataclass
class Inbound:
    runtime: Runtime
    client: httpx.AsyncClient
    domain: str
    port: int

    async def talk(self, conversation: Callable[[smtplib.SMTP], T]) -> T:
        def run() -> T:
            with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as smtp:
                smtp.ehlo("sender.example.org")
                return conversation(smtp)

        return await asyncio.to_thread(run)

    async def deliver(self, sender: str, rcpts: list[str], data: bytes) -> tuple[int, bytes]:
        def conversation(smtp: smtplib.SMTP) -> tuple[int, bytes]:
            assert smtp.mail(sender)[0] == 250
            for rcpt in rcpts:
                code, text = smtp.rcpt(rcpt)
                assert code == 250, text
            return smtp.data(data)

        return await self.talk(conversation)

    async def route(self, expression: str, *actions: str, priority: int = 0) -> str:
        created = await self.client.post(
            "/v3/routes",
            data={"priority": str(priority), "expression": expression, "action": list(actions)},
        )
        assert created.status_code == 200, created.text
        return str(created.json()["route"]["id"])

    async def events(self, **params: str) -> list[dict[str, Any]]:
        page = await self.client.get(f"/v3/{self.domain}/events", params=params)
        return list(page.json()["items"])


@contextlib.asynccontextmanager
async def serving(settings: Settings, store: Store) -> AsyncIterator[Inbound]:
    runtime = build_runtime(
        settings, frozenset({"api", "worker", "smtp"}), store=store, ssl_context=tls_materials()[2]
    )
    await first_start(settings, store)
    await runtime.start()
    assert runtime.mx is not None
    transport = httpx.ASGITransport(app=runtime.app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", auth=("api", API_KEY)
        ) as client:
            domain = (await client.get("/v4/domains")).json()["items"][0]["name"]
            yield Inbound(runtime, client, domain, runtime.mx.address[1])
    finally:
        await runtime.stop()


def inbound_settings(settings: Settings) -> Settings:
    return settings.with_changes(
        smtp_addr=("127.0.0.1", 0), submission_addr=None, allow_private_urls=True
    )


@pytest.fixture
async def mx(settings: Settings, store: Store) -> AsyncIterator[Inbound]:
    async with serving(inbound_settings(settings), store) as running:
        yield running


def mail(sender: str, to: str, subject: str = "Hello", body: str = "Hi there\n") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = "<inbound-1@example.org>"
    message.set_content(body)
    return message.as_bytes(policy=SMTP)


async def received_rows(store: Store) -> list[dict[str, Any]]:
    async with store.read() as conn:
        rows = await conn.execute(select(schema.inbound_messages))
        return [dict(r._mapping) for r in rows]


# -- the listener ---------------------------------------------------------------------------


async def test_no_open_relay(mx: Inbound) -> None:
    await mx.route("catch_all()", 'forward("https://example.org/hook")')

    def conversation(smtp: smtplib.SMTP) -> tuple[tuple[int, bytes], tuple[int, bytes]]:
        smtp.mail("spammer@example.org")
        return smtp.rcpt("victim@elsewhere.example"), smtp.rcpt(f"someone@{mx.domain}")

    foreign, ours = await mx.talk(conversation)
    assert foreign[0] == 550
    assert b"Relaying denied" in foreign[1]
    assert ours[0] == 250


async def test_recipients_without_a_route_are_refused_but_postmaster_is_not(mx: Inbound) -> None:
    await mx.route(f'match_recipient("sales@{mx.domain}")', "store()")

    def conversation(smtp: smtplib.SMTP) -> list[int]:
        smtp.mail("someone@example.org")
        return [
            smtp.rcpt(f"nobody@{mx.domain}")[0],
            smtp.rcpt(f"sales@{mx.domain}")[0],
            smtp.rcpt(f"postmaster@{mx.domain}")[0],
        ]

    assert await mx.talk(conversation) == [550, 250, 250]


async def test_message_is_stored_before_the_250(mx: Inbound, store: Store) -> None:
    await mx.route("catch_all()", "stop()")
    code, text = await mx.deliver(
        "alice@example.org", [f"sales@{mx.domain}"], mail("alice@example.org", f"sales@{mx.domain}")
    )
    assert code == 250
    assert b"queued as" in text
    [row] = await received_rows(store)
    assert row["mail_from"] == "alice@example.org"
    assert row["raw"].startswith(b"Received: from sender.example.org")
    assert b"Subject: Hello" in row["raw"]


async def test_oversize_message_gets_552(settings: Settings, store: Store) -> None:
    from mailwright.inbound import MxHandler, RouteCache, start_smtp

    handler = MxHandler(
        store,
        _AnyDomain(),
        accepts=RouteCache(store, lambda: 0.0).accepts,
        hostname="mx.test",
    )
    listener = await start_smtp(
        handler, "127.0.0.1", 0, tls_context=None, ident="t", hostname="mx.test",
        data_size_limit=1000,
    )  # fmt: skip
    try:

        def conversation() -> tuple[int, bytes]:
            with smtplib.SMTP("127.0.0.1", listener.address[1], timeout=10) as smtp:
                smtp.ehlo("client.test")
                smtp.mail("a@example.org")
                smtp.rcpt("postmaster@ours.test")
                try:
                    return smtp.data(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 100)
                except smtplib.SMTPResponseException as exc:
                    return exc.smtp_code, exc.smtp_error

        code, _ = await asyncio.to_thread(conversation)
    finally:
        await listener.stop()
    assert code == 552
    assert await received_rows(store) == []


class _AnyDomain:
    async def get(self, name: str) -> Any:
        return object()


# -- routes ---------------------------------------------------------------------------------


async def test_forward_to_url_posts_mailguns_fields_signed(mx: Inbound) -> None:
    async with Receiver() as receiver:
        await mx.route(
            rf'match_recipient("(?P<user>.*)@{mx.domain}")',
            f'forward("{receiver.url("/inbound/")}\\g<user>")',
        )
        code, _ = await mx.deliver(
            "alice@example.org",
            [f"sales@{mx.domain}"],
            mail("Alice <alice@example.org>", f"sales@{mx.domain}", body="Hi!\n\n-- \nAlice\n"),
        )
        assert code == 250

        async def posted() -> list[Any]:
            return receiver.received

        [request] = await wait_until(posted, within=20)
    assert request.path == "/inbound/sales"
    key = (await mx.client.get("/v5/accounts/http_signing_key")).json()["http_signing_key"]
    status, [event] = anymail_inbound(key, request.body, request.headers["content-type"])
    assert status == 200
    message = event.message  # type: ignore[attr-defined]
    assert message.envelope_recipient == f"sales@{mx.domain}"
    assert str(message.from_email) == "Alice <alice@example.org>"
    assert message.subject == "Hello"
    assert message.stripped_text.strip() == "Hi!"
    assert message["Authentication-Results"] is not None

    [accepted] = await wait_until(lambda: mx.events(event="accepted"))
    assert accepted["flags"]["is-routed"] is True
    assert accepted["recipient"] == f"sales@{mx.domain}"


async def test_store_keeps_the_message_and_notifies(mx: Inbound) -> None:
    async with Receiver() as receiver:
        await mx.route("catch_all()", f'store(notify="{receiver.url("/stored")}")')
        await mx.deliver(
            "bob@example.org",
            [f"support@{mx.domain}"],
            mail("bob@example.org", f"support@{mx.domain}", subject="Keep me"),
        )

        async def posted() -> list[Any]:
            return receiver.received

        [request] = await wait_until(posted, within=20)
    notified = parse_qs(request.body.decode())
    [stored] = await wait_until(lambda: mx.events(event="stored"))
    url = stored["storage"]["url"]
    assert notified["message-url"] == [url]
    fetched = await mx.client.get(url.replace("http://testserver", ""))
    assert fetched.status_code == 200, fetched.text
    body = fetched.json()
    assert body["subject"] == "Keep me"
    assert body["body-plain"].strip() == "Hi there"
    assert body["stripped-text"].strip() == "Hi there"
    assert body["recipients"] == f"support@{mx.domain}"
    assert body["sender"] == "bob@example.org"


async def test_forward_to_address_resends_through_delivery(mx: Inbound) -> None:
    await mx.route(f'match_recipient("team@{mx.domain}")', 'forward("alice@example.com")')
    await mx.deliver(
        "carol@example.org",
        [f"team@{mx.domain}"],
        mail("carol@example.org", f"team@{mx.domain}", subject="Pass it on"),
    )

    async def inbox() -> list[dict[str, Any]]:
        found = await mx.client.get("/mailwright/v1/inbox/messages")
        return [m for m in found.json()["items"] if m["recipient"] == "alice@example.com"]

    [item] = await wait_until(inbox, within=20)
    assert item["subject"] == "Pass it on"


# -- asynchronous bounces and complaints ------------------------------------------------------

DSN = """\
From: MAILER-DAEMON@mx.rcpt.test (Mail Delivery System)
To: {verp}
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.rcpt.test

Final-Recipient: rfc822; {rcpt}
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.rcpt.test
Diagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown

--B
Content-Type: text/rfc822-headers

Return-Path: <{verp}>
Message-ID: {message_id}
To: {rcpt}
Subject: Hello

--B--
"""

ARF = """\
From: feedback@fbl.rcpt.test
To: fbl@{domain}
Subject: Complaint
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

This is an abuse report.

--F
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1
Original-Rcpt-To: {rcpt}

--F
Content-Type: message/rfc822

Message-ID: {message_id}
From: App <app@{domain}>
To: {rcpt}
Subject: Hello

Hi
--F--
"""


@pytest.fixture
def loopback_dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS(ZONE) as server:
        yield server


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink(tls_cert=tls_materials()[1]) as server:
        yield server


@pytest.fixture
async def mx_delivery(
    tmp_path: Path, database_url: str, store: Store, loopback_dns: LoopbackDNS, sink: SmtpSink
) -> AsyncIterator[Inbound]:
    settings = mx_settings(tmp_path, database_url, loopback_dns, sink.port)
    async with serving(inbound_settings(settings), store) as running:
        yield running


async def _send(mx: Inbound, to: str) -> str:
    data = {"from": f"App <app@{mx.domain}>", "to": to, "subject": "Hello", "text": "Hi"}
    sent = await mx.client.post(f"/v3/{mx.domain}/messages", data=data)
    assert sent.status_code == 200, sent.text
    return str(sent.json()["id"])


async def test_dsn_to_the_verp_address_fails_the_delivery_and_suppresses(
    mx_delivery: Inbound, sink: SmtpSink
) -> None:
    mx = mx_delivery
    message_id = await _send(mx, "bob@rcpt.test")
    [received] = await sink.wait_for(1)
    verp = received.mail_from
    assert verp.startswith("bounce+")
    await wait_until(lambda: mx.events(event="delivered"))

    dsn = (
        DSN.format(verp=verp, rcpt="bob@rcpt.test", message_id=message_id)
        .replace("\n", "\r\n")
        .encode()
    )
    code, _ = await mx.deliver("", [verp], dsn)
    assert code == 250

    [failed] = await wait_until(lambda: mx.events(event="failed"), within=20)
    assert failed["severity"] == "permanent"
    assert failed["reason"] == "bounce"
    assert failed["recipient"] == "bob@rcpt.test"
    assert failed["delivery-status"]["enhanced-code"] == "5.1.1"
    assert failed["message"]["headers"]["message-id"] == message_id.strip("<>")
    bounce = await mx.client.get(f"/v3/{mx.domain}/bounces/bob@rcpt.test")
    assert bounce.status_code == 200, bounce.text
    assert "User unknown" in bounce.json()["error"]


async def test_forged_verp_address_is_refused(mx_delivery: Inbound) -> None:
    mx = mx_delivery

    def conversation(smtp: smtplib.SMTP) -> int:
        smtp.mail("")
        return smtp.rcpt(f"bounce+zz.0000000000-bob=rcpt.test@{mx.domain}")[0]

    assert await mx.talk(conversation) == 550


async def test_arf_complaint_matched_by_message_id(mx_delivery: Inbound, sink: SmtpSink) -> None:
    mx = mx_delivery
    message_id = await _send(mx, "carol@rcpt.test")
    await sink.wait_for(1)
    arf = (
        ARF.format(domain=mx.domain, rcpt="carol@rcpt.test", message_id=message_id)
        .replace("\n", "\r\n")
        .encode()
    )
    code, _ = await mx.deliver("feedback@fbl.rcpt.test", [f"fbl@{mx.domain}"], arf)
    assert code == 250

    [complained] = await wait_until(lambda: mx.events(event="complained"), within=20)
    assert complained["recipient"] == "carol@rcpt.test"
    entry = await mx.client.get(f"/v3/{mx.domain}/complaints/carol@rcpt.test")
    assert entry.status_code == 200, entry.text


async def test_forward_with_attachments_is_multipart_and_anymail_reads_them(mx: Inbound) -> None:
    message = EmailMessage()
    message["From"] = "Dave <dave@example.org>"
    message["To"] = f"files@{mx.domain}"
    message["Subject"] = "Invoice"
    message.set_content("Invoice attached.\n")
    message.add_attachment(
        b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="inv.pdf"
    )
    async with Receiver() as receiver:
        await mx.route("catch_all()", f'forward("{receiver.url("/files")}")')
        code, _ = await mx.deliver(
            "dave@example.org", [f"files@{mx.domain}"], message.as_bytes(policy=SMTP)
        )
        assert code == 250

        async def posted() -> list[Any]:
            return receiver.received

        [request] = await wait_until(posted, within=20)
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    key = (await mx.client.get("/v5/accounts/http_signing_key")).json()["http_signing_key"]
    status, [event] = anymail_inbound(key, request.body, request.headers["content-type"])
    assert status == 200
    inbound = event.message  # type: ignore[attr-defined]
    [attachment] = inbound.attachments
    assert attachment.get_filename() == "inv.pdf"
    assert attachment.get_content_bytes() == b"%PDF-1.4 fake"
    assert inbound.text.strip() == "Invoice attached."


async def test_starttls_is_offered_and_the_message_arrives(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    from tests.integration.test_submission import tls_settings

    async with serving(inbound_settings(tls_settings(settings, tmp_path)), store) as mx:
        await mx.route("catch_all()", "stop()")

        def conversation(smtp: smtplib.SMTP) -> tuple[int, bytes]:
            assert smtp.has_extn("starttls")
            smtp.starttls(context=tls_materials()[2])
            smtp.ehlo("sender.example.org")
            smtp.mail("alice@example.org")
            smtp.rcpt(f"sales@{mx.domain}")
            return smtp.data(mail("alice@example.org", f"sales@{mx.domain}"))

        code, _ = await mx.talk(conversation)
        assert code == 250
        [row] = await received_rows(store)
        assert b"with ESMTPS" in row["raw"].split(b"\r\n\r\n", 1)[0]


async def test_forward_to_a_mime_url_posts_the_raw_message(mx: Inbound) -> None:
    async with Receiver() as receiver:
        await mx.route("catch_all()", f'forward("{receiver.url("/hooks/inbound-mime")}")')
        raw = mail("Erin <erin@example.org>", f"raw@{mx.domain}", subject="As sent")
        await mx.deliver("erin@example.org", [f"raw@{mx.domain}"], raw)

        async def posted() -> list[Any]:
            return receiver.received

        [request] = await wait_until(posted, within=20)
    fields = parse_qs(request.body.decode())
    [body_mime] = fields["body-mime"]
    assert "Subject: As sent" in body_mime
    assert "Hi there" in body_mime
    assert body_mime.startswith("Authentication-Results: ")  # our trace on top of what was sent
    key = (await mx.client.get("/v5/accounts/http_signing_key")).json()["http_signing_key"]
    status, [event] = anymail_inbound(key, request.body, request.headers["content-type"])
    assert status == 200
    assert event.message.subject == "As sent"  # type: ignore[attr-defined]
