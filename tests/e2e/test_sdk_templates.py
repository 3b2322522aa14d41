"""Templates through the official Mailgun Python SDK (``mailgun`` 1.10.0), unmodified, against
``mailwright serve``: create, versions, copy, send with a template and recipient-variables."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_sdk import fetch, inbox, sdk, send_ok, wait_inbox

pytestmark = pytest.mark.e2e


def test_templates_through_the_sdk(server: Server) -> None:
    domain = server.sandbox
    with sdk(server) as client:
        created = client.templates.create(
            data={
                "name": "order.shipped",
                "description": "shipping notice",
                "template": "<p>Hi {{name}}, order {{order.id}} shipped</p>",
                "engine": "handlebars",
                "comment": "first",
            },
            domain=domain,
        )
        assert created.status_code == 200, created.text
        assert created.json()["template"]["version"]["tag"] == "initial"

        listed = client.templates.get(domain=domain, filters={"limit": 1})
        assert [t["name"] for t in listed.json()["items"]] == ["order.shipped"]

        version = client.templates.create(
            data={
                "tag": "v2",
                "template": "<p>{{name}}: {{order.id}} is on its way</p>",
                "active": "yes",
            },
            domain=domain,
            template_name="order.shipped",
            versions=True,
        )
        assert version.status_code == 200, version.text

        active = client.templates.get(
            domain=domain, template_name="order.shipped", filters={"active": "yes"}
        )
        assert active.json()["template"]["version"]["tag"] == "v2"

        copied = client.templates.put(
            domain=domain,
            filters={"comment": "copied"},
            template_name="order.shipped",
            versions=True,
            tag="v2",
            copy=True,
            new_tag="v3",
        )
        assert copied.status_code == 200, copied.text
        assert copied.json()["version"]["comment"] == "copied"

        versions = client.templates.get(domain=domain, template_name="order.shipped", versions=True)
        assert [v["tag"] for v in versions.json()["template"]["versions"]] == [
            "initial",
            "v2",
            "v3",
        ]

        people = {"ann@example.com": {"name": "Ann"}, "bob@example.net": {"name": "Bob"}}
        response = client.messages.create(
            data={
                "from": f"shop@{domain}",
                "to": list(people),
                "subject": "Shipped, %recipient.name%",
                "template": "order.shipped",
                "t:variables": json.dumps({"order": {"id": "A-17"}}),
                "t:text": "yes",
                "recipient-variables": json.dumps(people),
            },
            domain=domain,
        )
        send_ok(response)

        missing = client.messages.create(
            data={"from": f"shop@{domain}", "to": "x@example.com", "template": "nope"},
            domain=domain,
        )
        assert missing.status_code == 400
        assert missing.json() == {"message": "template 'nope' not found"}

        deleted = client.templates.delete(domain=domain, template_name="order.shipped")
        assert deleted.json()["message"] == "template has been deleted"

    assert len(wait_inbox(server, 2)) == 2
    for address, values in people.items():
        [item] = inbox(server, address)
        parsed = fetch(server, item["url"]).json()
        assert f"<p>{values['name']}: A-17 is on its way</p>" in parsed["body-html"]
        assert parsed["body-plain"].strip() == f"{values['name']}: A-17 is on its way"
        assert parsed["subject"] == f"Shipped, {values['name']}"
