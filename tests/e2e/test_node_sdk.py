"""The official Mailgun Node SDK (``mailgun.js`` 14.0.1), unmodified, against ``mailwright serve``.

Each test drives the SDK through ``tests/node/call.js`` (see ``tests.support.node_sdk``) and
checks what the SDK hands its caller, then what really happened: the capture inbox (ours, read
with httpx), events and stored messages.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

import pytest

from mailwright.webhooks import verify
from tests.e2e.conftest import Server, StartServer
from tests.e2e.test_sdk import fetch, inbox, poll, wait_inbox
from tests.support.dns import LoopbackDNS
from tests.support.node_sdk import NodeSDK, call, node_buffer, node_date
from tests.support.receiver import Receiver
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e

QUEUED = "Queued. Thank you."


def node(server: Server, key: str | None = None) -> NodeSDK:
    return NodeSDK(server.base_url, key or server.api_key)


def queued(result: Any) -> str:
    assert result["status"] == 200, result
    assert result["message"] == QUEUED, result
    message_id: str = result["id"]
    assert message_id.startswith("<"), result
    assert message_id.endswith(">"), result
    return message_id


def raw_message(server: Server, item: dict[str, Any]) -> EmailMessage:
    message = message_from_bytes(fetch(server, item["raw_url"]).content, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def wait_events(sdk: NodeSDK, domain: str, query: dict[str, Any], count: int) -> list[Any]:
    def probe() -> list[Any]:
        items: list[Any] = sdk.one("events.get", domain, query)["items"]
        assert len(items) <= count, items
        return items if len(items) == count else []

    return poll(probe, what=f"{count} event(s) matching {query}")


def test_send_with_attachment_inline_tags_and_headers(server: Server) -> None:
    sdk = node(server)
    sent = sdk.one(
        "messages.create",
        server.sandbox,
        {
            "from": f"Excited User <me@{server.sandbox}>",
            "to": ["alice@example.com", "Bob <bob@example.com>"],
            "subject": "Hello from Node",
            "text": "Testing some Mailgun awesomeness!",
            "html": '<h1>Hi</h1><img src="cid:logo.png">',
            "o:tag": ["welcome", "node"],
            "v:order": "42",
            "h:X-Campaign": "spring",
            "attachment": [{"filename": "notes.txt", "data": node_buffer(b"attached text\n")}],
            "inline": [{"filename": "logo.png", "data": node_buffer(b"\x89PNG\r\n\x1a\nfake")}],
        },
    )
    message_id = queued(sent)

    [alice] = wait_inbox(server, 1, "alice@example.com")
    wait_inbox(server, 1, "bob@example.com")
    assert alice["subject"] == "Hello from Node"
    parsed = fetch(server, alice["url"]).json()
    assert parsed["body-plain"].strip() == "Testing some Mailgun awesomeness!"
    by_name = {a["name"]: a for a in parsed["attachments"]}
    attachment = by_name["notes.txt"]
    assert fetch(server, attachment["url"]).content == b"attached text\n"

    raw = raw_message(server, alice)
    assert raw["Message-Id"] == message_id
    assert raw["X-Campaign"] == "spring"
    assert json.loads(str(raw["X-Mailgun-Variables"])) == {"order": "42"}
    assert [a for _, a in getaddresses([str(raw["To"])])] == [
        "alice@example.com",
        "bob@example.com",
    ]
    inline = [part for part in raw.walk() if part.get_filename() == "logo.png"]
    assert len(inline) == 1
    assert inline[0].get_content_disposition() == "inline"
    assert inline[0]["Content-ID"] == "<logo.png>"
    assert inline[0].get_content() == b"\x89PNG\r\n\x1a\nfake"

    events = wait_events(sdk, server.sandbox, {"event": "accepted"}, 2)
    assert {e["recipient"] for e in events} == {"alice@example.com", "bob@example.com"}
    for event in events:
        assert event["tags"] == ["welcome", "node"]
        assert event["user-variables"] == {"order": "42"}
        assert event["message"]["headers"]["message-id"] == message_id.strip("<>")

    # the stored message, by the key the event names, and a resend of it
    key = events[0]["storage"]["key"]
    stored = sdk.one("messages.retrieveStoredEmail", server.sandbox, key)
    assert stored["Subject"] == "Hello from Node"
    assert stored["body-plain"].strip() == "Testing some Mailgun awesomeness!"
    queued(sdk.one("messages.resendEmail", server.sandbox, key, "again@example.com"))
    [again] = wait_inbox(server, 1, "again@example.com")
    assert again["subject"] == "Hello from Node"


def test_batch_template_and_mime_sends(server: Server) -> None:
    sdk = node(server)
    people = {
        "ann@example.com": {"name": "Ann", "code": "A-1"},
        "ben@example.net": {"name": "Ben", "code": "B-2"},
    }
    mime = (
        f"From: Mime Sender <mime@{server.sandbox}>\r\n"
        "To: mime-rcpt@example.com\r\n"
        "Subject: Sent as MIME from Node\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Body of the MIME message.\r\n"
    ).encode()
    outcomes = sdk.run(
        call(
            "messages.create",
            server.sandbox,
            {
                "from": f"news@{server.sandbox}",
                "to": list(people),
                "subject": "Code for %recipient.name%",
                "text": "Hi %recipient.name%, your code is %recipient.code%.",
                "recipient-variables": json.dumps(people),
            },
        ),
        call(
            "domains.domainTemplates.create",
            server.sandbox,
            {"name": "welcome", "description": "d", "template": "<p>Hi {{name}}</p>", "tag": "v1"},
        ),
        call(
            "messages.create",
            server.sandbox,
            {
                "from": f"tpl@{server.sandbox}",
                "to": "tpl@example.com",
                "subject": "Templated",
                "template": "welcome",
                "t:variables": json.dumps({"name": "Tia"}),
            },
        ),
        call(
            "messages.create",
            server.sandbox,
            {"to": "mime-rcpt@example.com", "message": node_buffer(mime)},
        ),
    )
    batch, template, templated, mimed = (o.value() for o in outcomes)
    queued(batch)
    assert template["name"] == "welcome"
    assert template["version"]["tag"] == "v1"
    queued(templated)
    queued(mimed)

    for address, values in people.items():
        [item] = wait_inbox(server, 1, address)
        assert item["subject"] == f"Code for {values['name']}"
        body = fetch(server, item["url"]).json()["body-plain"].strip()
        assert body == f"Hi {values['name']}, your code is {values['code']}."
        assert [a for _, a in getaddresses([str(raw_message(server, item)["To"])])] == [address]
    [tpl] = wait_inbox(server, 1, "tpl@example.com")
    assert "<p>Hi Tia</p>" in fetch(server, tpl["url"]).json()["body-html"]
    [mime_item] = wait_inbox(server, 1, "mime-rcpt@example.com")
    assert mime_item["subject"] == "Sent as MIME from Node"


def test_events_and_logs_page_to_the_end(server: Server) -> None:
    sdk = node(server)
    for n in range(3):
        queued(
            sdk.one(
                "messages.create",
                server.sandbox,
                {"from": f"ev@{server.sandbox}", "to": f"p{n}@example.com", "text": str(n)},
            )
        )
    wait_inbox(server, 3)
    wait_events(sdk, server.sandbox, {"event": "delivered"}, 3)

    # events: follow pages.next.page, as the SDK's README says, until a page is empty
    page = sdk.one("events.get", server.sandbox, {"limit": 2})
    sizes, ids = [], set()
    while page["items"]:
        sizes.append(len(page["items"]))
        ids |= {e["id"] for e in page["items"]}
        assert len(sizes) < 10, "paging did not end"
        page = sdk.one("events.get", server.sandbox, {"page": page["pages"]["next"]["page"]})
    assert sizes == [2, 2, 2]
    assert len(ids) == 6

    # the Logs API, with Date bounds and the pagination token the SDK returns
    now = datetime.now(UTC)
    query: dict[str, Any] = {
        "start": node_date(now - timedelta(hours=1)),
        "end": node_date(now + timedelta(minutes=5)),
        "events": ["delivered"],
        "pagination": {"limit": 2},
    }
    first = sdk.one("logs.list", query)
    assert first["status"] == 200
    assert len(first["items"]) == 2
    assert {item["event"] for item in first["items"]} == {"delivered"}
    second = sdk.one(
        "logs.list", {**query, "pagination": {"limit": 2, "token": first["pagination"]["next"]}}
    )
    assert len(second["items"]) == 1
    recipients = {item["recipient"] for item in first["items"] + second["items"]}
    assert recipients == {"p0@example.com", "p1@example.com", "p2@example.com"}


def test_suppressions_and_a_suppressed_send(server: Server) -> None:
    sdk = node(server)
    d = server.sandbox
    outcomes = sdk.run(
        call(
            "suppressions.create",
            d,
            "bounces",
            [{"address": "b1@example.com", "code": 550, "error": "gone"}],
        ),
        call(
            "suppressions.create",
            d,
            "bounces",
            {"address": "b2@example.com", "code": 554, "error": "no"},
        ),
        call("suppressions.list", d, "bounces", {"limit": 1}),
        call("suppressions.get", d, "bounces", "b1@example.com"),
        call(
            "suppressions.create",
            d,
            "unsubscribes",
            [{"address": "u1@example.com", "tags": ["news"]}],
        ),
        call(
            "suppressions.create", d, "unsubscribes", {"address": "u2@example.com", "tag": "news"}
        ),
        call("suppressions.list", d, "unsubscribes"),
        call("suppressions.create", d, "complaints", [{"address": "c1@example.com"}]),
        call("suppressions.list", d, "complaints"),
        call("suppressions.create", d, "whitelists", {"address": "w1@example.com"}),
        call("suppressions.get", d, "whitelists", "w1@example.com"),
        call("suppressions.destroy", d, "bounces", "b2@example.com"),
        call("suppressions.get", d, "bounces", "b2@example.com"),
        call("messages.create", d, {"from": f"s@{d}", "to": "b1@example.com", "text": "x"}),
    )
    (
        bounce_many, bounce_one, bounce_page, bounce, unsub_many, unsub_one, unsubs, _, complaints,
        allow, allowed, removed, gone, sent,
    ) = outcomes  # fmt: skip
    assert bounce_many.value()["message"] == "1 addresses have been added to the bounces table"
    assert bounce_one.value()["message"] == "1 addresses have been added to the bounces table"
    assert unsub_many.value()["message"] == "1 addresses have been added to the unsubscribes table"
    assert unsub_one.value()["message"] == "Address has been added to the unsubscribes table"
    assert allow.value()["type"] == "address"
    page = bounce_page.value()
    assert len(page["items"]) == 1
    assert page["pages"]["next"]["page"], page["pages"]
    assert bounce.value()["code"] == 550
    assert bounce.value()["error"] == "gone"
    assert {u["address"]: u["tags"] for u in unsubs.value()["items"]} == {
        "u1@example.com": ["news"],
        "u2@example.com": ["news"],
    }
    assert [c["address"] for c in complaints.value()["items"]] == ["c1@example.com"]
    assert allowed.value()["value"] == "w1@example.com"
    assert removed.value()["address"] == "b2@example.com"
    assert not gone.ok
    assert gone.status == 404
    queued(sent.value())

    [failed] = wait_events(sdk, d, {"event": "failed", "recipient": "b1@example.com"}, 1)
    assert failed["severity"] == "permanent"
    assert failed["reason"] == "suppress-bounce"
    assert inbox(server, "b1@example.com") == []

    cleared = sdk.one("suppressions.destroyAll", d, "bounces")
    assert cleared["message"] == "Bounced addresses for this domain have been removed"
    assert sdk.one("suppressions.list", d, "bounces")["items"] == []


def test_domain_settings_credentials_webhooks_and_routes(server: Server, dns: LoopbackDNS) -> None:
    dns.add("hooks.example.com. 300 IN A 93.184.215.14")  # public, never contacted here
    sdk = node(server)
    name = "node-e2e.example.org"
    outcomes = sdk.run(
        call("domains.create", {"name": name}),
        call("domains.get", name),
        call("domains.update", name, {"spam_action": "tag", "wildcard": "true"}),
        call("domains.updateConnection", name, {"require_tls": True, "skip_verification": False}),
        call("domains.getConnection", name),
        call("domains.domainTracking.updateTracking", name, "open", {"active": "yes"}),
        call("domains.domainTracking.getTracking", name),
        call("domains.domainKeys.list", name),
        call(
            "domains.domainCredentials.create",
            name,
            {"login": "bob", "password": "secret-password-1"},
        ),
        call("domains.domainCredentials.list", name),
        call("webhooks.create", name, "delivered", "https://hooks.example.com/delivered"),
        call(
            "webhooks.update",
            name,
            "delivered",
            ["https://hooks.example.com/a", "https://hooks.example.com/b"],
        ),
        call("webhooks.list", name, {}),
        call("webhooks.destroy", name, "delivered"),
        call("webhooks.list", name, {}),
        call(
            "routes.create",
            {
                "priority": 1,
                "description": "to the app",
                "expression": f'match_recipient(".*@{name}")',
                "action": ['forward("https://app.example.com/in")', "stop()"],
            },
        ),
        call("routes.matchAddress", f"anyone@{name}"),
        call("domains.destroy", name),
        call("domains.get", name),
    )
    (
        created, got, updated, connection_set, connection, tracking_set, tracking, keys,
        credential, credentials, hook, hooks_updated, hooks, hook_removed, no_hooks, route,
        matched, destroyed, after,
    ) = outcomes  # fmt: skip
    assert created.value()["name"] == name
    assert created.value()["state"] == "unverified"
    assert {r["record_type"] for r in created.value()["sending_dns_records"]} >= {"TXT", "CNAME"}
    assert got.value()["name"] == name
    assert updated.value()["spam_action"] == "tag"
    assert updated.value()["wildcard"] is True
    assert connection_set.value()["require_tls"] is True
    assert connection.value() == {"connection": {"require_tls": True, "skip_verification": False}}
    assert tracking_set.value()["open"]["active"] is True
    assert tracking.value()["open"]["active"] is True
    [key] = keys.value()["items"]
    assert key["signing_domain"] == name
    assert key["dns_record"]["name"].endswith(f"._domainkey.{name}")
    assert credential.value()["message"] == "Created 1 credentials pair(s)"
    logins = {item["login"] for item in credentials.value()["items"]}
    assert f"bob@{name}" in logins
    assert hook.value()["urls"] == ["https://hooks.example.com/delivered"]
    assert hooks_updated.value()["urls"] == [
        "https://hooks.example.com/a",
        "https://hooks.example.com/b",
    ]
    assert hooks.value()["delivered"]["urls"] == [
        "https://hooks.example.com/a",
        "https://hooks.example.com/b",
    ]
    assert hook_removed.ok
    assert "delivered" not in no_hooks.value()
    assert route.value()["actions"] == ['forward("https://app.example.com/in")', "stop()"]
    assert matched.value()["id"] == route.value()["id"]
    assert destroyed.value()["message"] == "Domain has been deleted"
    assert not after.ok
    assert after.status == 404


def test_lists_members_and_templates(server: Server) -> None:
    sdk = node(server)
    address = f"devs@{server.sandbox}"
    outcomes = sdk.run(
        call("lists.create", {"address": address, "name": "Devs", "access_level": "readonly"}),
        call(
            "lists.members.createMember",
            address,
            {
                "address": "m1@example.com",
                "name": "M1",
                "vars": json.dumps({"n": 1}),
                "subscribed": "yes",
            },
        ),
        call(
            "lists.members.createMembers",
            address,
            {
                "members": [
                    {
                        "address": "m2@example.com",
                        "name": "M2",
                        "vars": {"n": 2},
                        "subscribed": True,
                    },
                    {"address": "m3@example.com"},
                ],
                "upsert": "yes",
            },
        ),
        call("lists.members.listMembers", address, {"limit": 2}),
        call("lists.members.updateMember", address, "m3@example.com", {"subscribed": "no"}),
        call("lists.get", address),
        call(
            "messages.create",
            server.sandbox,
            {
                "from": f"x@{server.sandbox}",
                "to": address,
                "subject": "To the list",
                "text": "n=%recipient.n%",
            },
        ),
        call(
            "domains.domainTemplates.create",
            server.sandbox,
            {"name": "t1", "template": "<b>{{x}}</b>", "tag": "v1"},
        ),
        call(
            "domains.domainTemplates.createVersion",
            server.sandbox,
            "t1",
            {"template": "<i>{{x}}</i>", "tag": "v2", "active": "yes"},
        ),
        call("domains.domainTemplates.listVersions", server.sandbox, "t1"),
        call("domains.domainTemplates.get", server.sandbox, "t1", {"active": "yes"}),
        call("domains.domainTemplates.destroy", server.sandbox, "t1"),
        call("lists.validate", address),
    )
    (
        created, member, members_added, first_page, unsubscribed, got, sent, template, version,
        versions, active, template_gone, validating,
    ) = outcomes  # fmt: skip
    assert created.value()["address"] == address
    assert member.value() == {
        "address": "m1@example.com",
        "name": "M1",
        "subscribed": True,
        "vars": {"n": 1},
    }
    assert members_added.value()["list"]["members_count"] == 3
    assert [m["address"] for m in first_page.value()["items"]] == [
        "m1@example.com",
        "m2@example.com",
    ]
    assert first_page.value()["pages"]["next"]["page"]
    assert unsubscribed.value()["subscribed"] is False
    assert got.value()["members_count"] == 3
    queued(sent.value())
    assert template.value()["version"]["tag"] == "v1"
    assert version.value()["template"]["version"]["tag"] == "v2"
    assert sorted(v["tag"] for v in versions.value()["template"]["versions"]) == ["v1", "v2"]
    assert active.value()["version"]["tag"] == "v2"
    assert template_gone.value()["templateName"] == "t1"
    assert validating.value() == {
        "status": 200,
        "id": address,
        "message": "The validation job was submitted.",
    }

    # the list's validation job covers every member, subscribed or not
    def validated() -> Any:
        got = sdk.one("lists.validationResult", address)["validationResult"]
        return got if got["status"] == "completed" else None

    result = poll(validated, what="the list validation to complete")
    assert result["id"] == address
    assert result["quantity"] == 3
    assert result["records_processed"] == 3
    assert sum(result["summary"]["result"].values()) == 3
    assert fetch(server, result["download_url"]["csv"]).text.count("\n") == 4
    canceled = sdk.one("lists.cancelValidation", address)
    assert canceled == {"status": 200, "message": "Validation job canceled."}
    assert sdk.one("lists.destroy", address)["address"] == address

    # the list send went to the two subscribed members, each with their own vars
    for address_, n in (("m1@example.com", 1), ("m2@example.com", 2)):
        [item] = wait_inbox(server, 1, address_)
        assert fetch(server, item["url"]).json()["body-plain"].strip() == f"n={n}"
    assert inbox(server, "m3@example.com") == []


def test_reports_validation_and_keys(server: Server, dns: LoopbackDNS) -> None:
    sdk = node(server)
    d = server.sandbox
    queued(
        sdk.one(
            "messages.create",
            d,
            {"from": f"r@{d}", "to": "r1@example.com", "text": "x", "o:tag": "report"},
        )
    )
    wait_inbox(server, 1, "r1@example.com")
    wait_events(sdk, d, {"event": "delivered"}, 1)
    now = datetime.now(UTC)
    outcomes = sdk.run(
        call(
            "stats.getDomain",
            d,
            {"event": ["accepted", "delivered"], "duration": "1d", "resolution": "hour"},
        ),
        call(
            "stats.getAccount",
            {"event": ["accepted", "delivered"], "duration": "1d", "resolution": "hour"},
        ),
        call(
            "metrics.getAccount",
            {
                "start": node_date(now - timedelta(hours=2)),
                "end": node_date(now + timedelta(hours=1)),
                "resolution": "hour",
                "metrics": ["accepted_count", "delivered_count"],
                "include_aggregates": True,
            },
        ),
        call("tags.list", {}),
        call("domains.domainTags.get", d, "report"),
        call(
            "apiKeys.create",
            {"role": "sending", "kind": "domain", "domain_name": d, "description": "node"},
        ),
        call("apiKeys.list", {}),
    )
    domain_stats, account_stats, metrics, tags, tag, created_key, keys = (
        o.value() for o in outcomes
    )
    for stats in (domain_stats, account_stats):
        assert sum(s["accepted"]["total"] for s in stats["stats"]) == 1
        assert sum(s["delivered"]["total"] for s in stats["stats"]) == 1
    assert metrics["aggregates"]["metrics"] == {"accepted_count": 1, "delivered_count": 1}
    assert [t["tag"] for t in tags["items"]] == ["report"]
    assert tag["tag"] == "report"
    secret = created_key["key"]["secret"]
    assert created_key["key"]["role"] == "sending"
    assert created_key["key"]["id"] in {k["id"] for k in keys["items"]}

    # the domain sending key sends for its domain and nothing else
    sender = node(server, key=secret)
    queued(
        sender.one("messages.create", d, {"from": f"k@{d}", "to": "k1@example.com", "text": "k"})
    )
    [forbidden] = sender.run(call("domains.list"))
    assert not forbidden.ok
    assert forbidden.status == 403
    assert sdk.one("apiKeys.destroy", created_key["key"]["id"])["status"] == 200
    [revoked] = sender.run(
        call("messages.create", d, {"from": f"k@{d}", "to": "k2@example.com", "text": "k"})
    )
    assert revoked.status == 401

    # address validation, one address (with the public key, as a browser would) and a bulk job
    dns.add("example.com. 300 IN MX 10 mx.example.com.")
    dns.add("mx.example.com. 300 IN A 127.0.0.1")
    public = sdk.one("apiKeys.regeneratePublicKey")
    assert public["status"] == 200
    assert public["message"] == "The public key has been regenerated"
    assert public["key"].startswith("pubkey-")
    browser = node(server, key=public["key"])
    one_outcome, listed = browser.run(
        call("validate.get", "alice.smith@example.com"), call("domains.list")
    )
    one = one_outcome.value()
    assert (listed.ok, listed.status) == (False, 403)
    assert one["address"] == "alice.smith@example.com"
    assert (one["result"], one["risk"], one["reason"]) == ("deliverable", "low", [])
    bad = sdk.one("validate.get", "not-an-address")
    assert bad["result"] == "undeliverable"
    csv = b"email\nalice.smith@example.com\nnot-an-address\n"
    job = sdk.one(
        "validate.multipleValidation.create",
        "node-job",
        {"file": {"data": node_buffer(csv), "filename": "list.csv"}},
    )
    assert job["id"] == "node-job"

    def completed() -> Any:
        got = sdk.one("validate.multipleValidation.get", "node-job")
        return got if got["status"] == "completed" else None

    done = poll(completed, what="the bulk validation job to complete")
    assert done["quantity"] == 2
    assert done["recordsProcessed"] == 2
    assert done["summary"] == {  # as the SDK renames Mailgun's keys
        "result": {
            "catchAll": 0,
            "deliverable": 1,
            "doNotSend": 0,
            "undeliverable": 1,
            "unknown": 0,
        },
        "risk": {"high": 1, "low": 1, "medium": 0, "unknown": 0},
    }
    assert fetch(server, done["downloadUrl"]["csv"]).text.count("\n") == 3
    now = datetime.now(UTC)
    window = {
        "start": node_date(now - timedelta(hours=2)),
        "end": node_date(now + timedelta(hours=1)),
    }
    usage, bounces = (
        o.value()
        for o in sdk.run(
            call(
                "metrics.getAccountUsage",
                {
                    **window,
                    "resolution": "hour",
                    "metrics": ["email_validation_bulk_count"],
                    "include_aggregates": True,
                },
            ),
            call("bounceClassification.list", {**window, "dimensions": ["domain.name"]}),
        )
    )
    assert usage["aggregates"]["metrics"] == {"email_validation_bulk_count": 2}
    assert bounces["items"] == []  # captured mail has no SMTP failures to classify
    assert (
        sdk.one("validate.multipleValidation.destroy", "node-job")["message"]
        == "Validation job canceled."
    )


def test_errors_reach_the_caller(server: Server) -> None:
    sdk = node(server)
    missing_to, bad_from, unknown_domain = sdk.run(
        call(
            "messages.create",
            server.sandbox,
            {"from": f"x@{server.sandbox}", "subject": "s", "text": "t"},
        ),
        call(
            "messages.create",
            server.sandbox,
            {"from": "not an address", "to": "a@example.com", "text": "t"},
        ),
        call(
            "messages.create",
            "nope.example.org",
            {"from": "x@nope.example.org", "to": "a@example.com", "text": "t"},
        ),
    )
    assert (missing_to.ok, missing_to.status) == (False, 400)
    assert "to" in str(missing_to.details)
    assert (bad_from.ok, bad_from.status) == (False, 400)
    assert "from" in str(bad_from.details)
    assert (unknown_domain.ok, unknown_domain.status) == (False, 404)
    [unauthorized] = node(server, key="not-the-key").run(call("domains.list"))
    assert (unauthorized.ok, unauthorized.status) == (False, 401)
    assert inbox(server) == []


async def test_webhook_url_test_and_signed_posts(
    dns: LoopbackDNS, start_server: StartServer
) -> None:
    """``webhooks.create(domain, id, url, true)`` tests a URL; a real webhook's POSTs verify with
    the account's signing key. The SDK runs in a thread: the receiver answers on this loop."""
    server = start_server(
        MAILWRIGHT_ALLOW_PRIVATE_URLS="true", MAILWRIGHT_DNS_SERVER=dns.nameserver
    )
    sdk = node(server)
    async with Receiver(answer=b"Hi!") as receiver:
        tested = await asyncio.to_thread(
            sdk.one, "webhooks.create", server.sandbox, "opened", receiver.url("/test"), True
        )
        assert tested == {"code": "200", "message": "Hi!"}
        [probe] = receiver.received
        assert probe.json()["event-data"]["flags"]["is-system-test"] is True

        hook = await asyncio.to_thread(
            sdk.one, "webhooks.create", server.sandbox, "delivered", receiver.url("/delivered")
        )
        assert hook == {
            "id": "delivered",
            "url": receiver.url("/delivered"),
            "urls": [receiver.url("/delivered")],
        }
        sent = await asyncio.to_thread(
            sdk.one,
            "messages.create",
            server.sandbox,
            {"from": f"w@{server.sandbox}", "to": "hooked@example.com", "text": "x"},
        )
        queued(sent)

        async def delivered_posted() -> bool:
            return any(r.path == "/delivered" for r in receiver.received)

        await wait_until(delivered_posted, within=30)
    with server.http() as http:
        key = http.get("/v5/accounts/http_signing_key").json()["http_signing_key"]
    [post] = [r for r in receiver.received if r.path == "/delivered"]
    data = post.json()
    assert verify(key, data["signature"], now=time.time())
    assert data["event-data"]["event"] == "delivered"
    assert data["event-data"]["recipient"] == "hooked@example.com"
    assert data["event-data"]["message"]["headers"]["message-id"] == sent["id"].strip("<>")
