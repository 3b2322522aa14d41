"""Inbound mail through ``mailwright serve`` as users run it (the MX listener in the server,
the processor in its worker child): routes made with the official SDK, mail sent with stdlib
``smtplib``, forwards POSTed to a receiver and re-sent to an address."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from tests.e2e.conftest import Server, StartServer, free_port
from tests.e2e.test_sdk import poll, sdk, wait_inbox
from tests.support.dns import LoopbackDNS

pytestmark = pytest.mark.e2e


class _Hook(BaseHTTPRequestHandler):
    posts: list[tuple[str, str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.posts.append((self.path, self.headers.get("Content-Type", ""), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    posts: list[tuple[str, str, bytes]] = []
    handler = type("Hook", (_Hook,), {"posts": posts})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", posts
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def mx_server(start_server: StartServer, dns: LoopbackDNS) -> Server:
    return start_server(
        MAILWRIGHT_DNS_SERVER=dns.nameserver,
        MAILWRIGHT_SMTP_ADDR=f"127.0.0.1:{free_port()}",
        MAILWRIGHT_ALLOW_PRIVATE_URLS="true",
    )


def test_routes_forward_received_mail_to_a_url_and_an_address(
    mx_server: Server, receiver: tuple[str, list[tuple[str, str, bytes]]]
) -> None:
    url, posts = receiver
    domain = mx_server.sandbox
    with sdk(mx_server) as client:
        created = client.routes.create(
            data={
                "priority": 1,
                "description": "support to the app and to a person",
                "expression": f'match_recipient("support@{domain}")',
                "action": [f'forward("{url}/inbound")', 'forward("dana@example.com")', "stop()"],
            }
        )
        assert created.status_code == 200, created.text

    mail = EmailMessage()
    mail["From"] = "Erin <erin@example.org>"
    mail["To"] = f"support@{domain}"
    mail["Subject"] = "Help please"
    mail.set_content("My order is late.\n\nOn Monday, Shop wrote:\n> Your order shipped.\n")
    port = int(mx_server.env["MAILWRIGHT_SMTP_ADDR"].rsplit(":", 1)[1])
    with (
        smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp,
        pytest.raises(smtplib.SMTPRecipientsRefused),
    ):
        smtp.sendmail("erin@example.org", [f"nobody@{domain}"], b"Subject: x\r\n\r\nx")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        assert (
            smtp.sendmail("erin@example.org", [f"support@{domain}"], mail.as_bytes(policy=SMTP))
            == {}
        )

    [(path, content_type, body)] = poll(lambda: list(posts), what="the forward POST")
    assert path == "/inbound"
    # No attachments: urlencoded, as Mailgun posts it.
    assert content_type == "application/x-www-form-urlencoded"
    fields = parse_qs(body.decode())
    assert fields["stripped-text"] == ["My order is late."]
    assert fields["recipient"] == [f"support@{domain}"]
    [copy] = wait_inbox(mx_server, 1, "dana@example.com")
    assert copy["subject"] == "Help please"
