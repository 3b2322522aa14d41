"""A list send to 1,000 members through the real server in mx mode: every member's own copy
reaches the SMTP sink, DKIM-signed, with that member's variables substituted."""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections import Counter

import pytest

from tests.e2e.conftest import StartServer
from tests.support.dns import LoopbackDNS
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.e2e

ZONE = """
members.test. 300 IN MX 10 mx.members.test.
mx.members.test. 300 IN A 127.0.0.1
"""
MEMBERS = 1000


async def test_thousand_member_list_send_reaches_the_sink_personalised(
    start_server: StartServer,
) -> None:
    with LoopbackDNS(ZONE) as dns, SmtpSink() as sink:
        server = start_server(
            MAILWRIGHT_DELIVERY="mx",
            MAILWRIGHT_DNS_SERVER=dns.nameserver,
            MAILWRIGHT_MX_PORT=str(sink.port),
            MAILWRIGHT_TLS_VERIFY="false",
        )
        address = f"club@{server.sandbox}"
        members = [
            {"address": f"m{i:04d}@members.test", "name": f"Member {i}", "vars": {"n": i}}
            for i in range(MEMBERS)
        ]
        with server.http() as http:
            made = http.post("/v3/lists", data={"address": address, "name": "Club"})
            assert made.status_code == 200, made.text
            added = http.post(
                f"/v3/lists/{address}/members.json", data={"members": json.dumps(members)}
            )
            assert added.status_code == 200, added.text
            sent = http.post(
                f"/v3/{server.sandbox}/messages",
                data={
                    "from": f"Club <news@{server.sandbox}>",
                    "to": address,
                    "subject": "Hello %recipient.name%",
                    "text": "Your number is %recipient.n%.",
                },
                timeout=60,
            )
            assert sent.status_code == 200, sent.text
        received = await sink.wait_for(MEMBERS, within=120)

    assert Counter(r for m in received for r in m.rcpt_tos) == Counter(
        m["address"] for m in members
    )
    for copy in received:
        [rcpt] = copy.rcpt_tos
        n = int(rcpt[1:5])
        message = email.message_from_bytes(copy.data, policy=email.policy.default)
        assert message["DKIM-Signature"] is not None
        assert message["Subject"] == f"Hello Member {n}"
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        assert re.fullmatch(rf"Your number is {n}\.\s*", body.get_content())
