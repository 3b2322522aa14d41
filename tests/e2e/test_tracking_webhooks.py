"""The whole loop on loopback: ``mailwright serve`` (mx mode, DKIM on, its worker child) delivers
a tracked HTML message to an SMTP sink; the test reads the delivered HTML, fetches the open pixel
and a link as a mail client would, and the ``delivered``, ``opened`` and ``clicked`` webhooks
arrive at a local receiver, signed so that our verifier and django-anymail's Mailgun view both
accept them."""

from __future__ import annotations

import email
import email.policy
import re
import time
from email.message import EmailMessage

import httpx
import pytest

from mailwright.webhooks import verify
from tests.e2e.conftest import StartServer
from tests.support.anymail_view import anymail_status
from tests.support.dns import LoopbackDNS
from tests.support.receiver import Receiver
from tests.support.smtp import SmtpSink
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e

ZONE = """
rcpt.test. 300 IN MX 10 mx.rcpt.test.
mx.rcpt.test. 300 IN A 127.0.0.1
"""
HTML = "<html><body><p>See <a href='https://example.org/offer'>the offer</a>.</p></body></html>"
AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:102.0) Gecko/20100101 Thunderbird/102.0"


async def test_tracked_message_opens_and_clicks_reach_signed_webhooks(
    start_server: StartServer,
) -> None:
    with LoopbackDNS(ZONE) as dns, SmtpSink() as sink:
        server = start_server(
            MAILWRIGHT_DELIVERY="mx",
            MAILWRIGHT_DNS_SERVER=dns.nameserver,
            MAILWRIGHT_MX_PORT=str(sink.port),
            MAILWRIGHT_TLS_VERIFY="false",
            MAILWRIGHT_ALLOW_PRIVATE_URLS="true",
        )
        async with Receiver() as receiver:
            with server.http() as http:
                for kind in ("delivered", "opened", "clicked"):
                    made = http.post(
                        f"/v3/domains/{server.sandbox}/webhooks",
                        data={"id": kind, "url": receiver.url()},
                    )
                    assert made.status_code == 200, made.text
                key = http.get("/v5/accounts/http_signing_key").json()["http_signing_key"]
                sent = http.post(
                    f"/v3/{server.sandbox}/messages",
                    data={
                        "from": f"News <news@{server.sandbox}>",
                        "to": "reader@rcpt.test",
                        "subject": "Offer",
                        "html": HTML,
                        "o:tracking": "yes",
                    },
                )
                assert sent.status_code == 200, sent.text

            [received] = await sink.wait_for(1, within=20)
            message = email.message_from_bytes(received.data, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            assert message["DKIM-Signature"] is not None
            body = message.get_body(preferencelist=("html",))
            assert body is not None
            html = body.get_content()
            [pixel] = re.findall(r"src=\"(http://[^\"]+/o/[^\"]+)\"", html)
            [link] = re.findall(r"href=[\"'](http://[^\"']+/c/[^\"']+)[\"']", html)
            assert "example.org" not in link  # the destination is inside the signed token

            async with httpx.AsyncClient(headers={"User-Agent": AGENT}) as browser:
                opened = await browser.get(pixel)
                assert opened.status_code == 200
                assert opened.headers["content-type"] == "image/gif"
                clicked = await browser.get(link)
                assert clicked.status_code == 302
                assert clicked.headers["location"] == "https://example.org/offer"

            async def all_three() -> set[str]:
                kinds = {r.json()["event-data"]["event"] for r in receiver.received}
                return kinds if kinds >= {"delivered", "opened", "clicked"} else set()

            await wait_until(all_three, within=30)

    for hook in receiver.received:
        payload = hook.json()
        assert verify(key, payload["signature"], now=time.time())
        status, normalised = anymail_status(key, hook.body)
        assert status == 200, hook.body
        assert len(normalised) == 1
        data = payload["event-data"]
        assert data["recipient"] == "reader@rcpt.test"
        if data["event"] == "opened":
            assert data["client-info"]["client-name"] == "Thunderbird"
        if data["event"] == "clicked":
            assert data["url"] == "https://example.org/offer"
