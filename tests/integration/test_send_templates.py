"""Sending with stored templates (both stores): pinned versions, per-recipient rendering in
batch sends, ``t:text``, variables from every source, and 400s that store nothing."""

from __future__ import annotations

import email
import email.policy
import json
from email.message import EmailMessage

import httpx
import pytest
from sqlalchemy import func, select

from mailwright.store import Store, schema
from tests.support.wait import wait_until

HTML = (
    "<html><body><p>Hello {{name}}!</p>"
    "{{#if vip}}<p>VIP {{{badge}}}</p>{{else}}<p>regular</p>{{/if}}"
    "<ul>{{#each items}}<li>{{@index}}:{{this.title}}</li>{{/each}}</ul>"
    '<p>{{#equal plan "gold"}}gold plan{{else}}plan {{plan}}{{/equal}}'
    " %recipient.code% {{order.id}}</p></body></html>"
)


async def count(store: Store, table: schema.Table) -> int:  # type: ignore[name-defined]
    async with store.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def inbox(client: httpx.AsyncClient, expected: int) -> list[dict]:
    async def probe() -> list[dict] | None:
        items = (await client.get("/mailwright/v1/inbox/messages")).json()["items"]
        return items if len(items) >= expected else None

    return await wait_until(probe)


async def raw_of(client: httpx.AsyncClient, item: dict) -> EmailMessage:
    response = await client.get(f"/mailwright/v1/inbox/messages/{item['id']}/raw")
    assert response.status_code == 200
    return email.message_from_bytes(response.content, policy=email.policy.default)  # type: ignore[return-value]


def parts(message: EmailMessage) -> dict[str, str]:
    return {
        part.get_content_subtype(): part.get_content().replace("\r\n", "\n")
        for part in message.walk()
        if part.get_content_maintype() == "text"
    }


async def _template(client: httpx.AsyncClient, domain: str, **data: str) -> None:
    response = await client.post(f"/v3/{domain}/templates", data=data)
    assert response.status_code == 200, response.text


async def test_batch_send_renders_each_recipient(client: httpx.AsyncClient, sandbox: str) -> None:
    await _template(client, sandbox, name="welcome", template=HTML)
    recipient_variables = {
        "a@example.com": {"name": "Ann <A>", "vip": True, "badge": "<b>★</b>", "code": "A1"},
        "b@example.com": {"name": "Bob", "plan": "gold", "code": "B2"},
    }
    response = await client.post(
        f"/v3/{sandbox}/messages",
        data={
            "from": f"me@{sandbox}",
            "to": ["a@example.com", "b@example.com"],
            "subject": "Hi %recipient.name%",
            "template": "welcome",
            "t:text": "yes",
            "t:variables": json.dumps({"items": [{"title": "Tea"}, {"title": "Cake"}]}),
            "h:X-Mailgun-Variables": json.dumps({"order": {"id": "o-7"}, "plan": "silver"}),
            "v:name": "Nobody",
            "recipient-variables": json.dumps(recipient_variables),
        },
    )
    assert response.status_code == 200, response.text
    items = await inbox(client, 2)
    by_rcpt = {i["recipient"]: await raw_of(client, i) for i in items}

    ann = parts(by_rcpt["a@example.com"])
    assert "<p>Hello Ann &lt;A&gt;!</p>" in ann["html"]
    assert "<p>VIP <b>★</b></p>" in ann["html"]
    assert "<li>0:Tea</li><li>1:Cake</li>" in ann["html"]
    assert "plan silver A1 o-7" in ann["html"]
    assert ann["plain"] == "Hello Ann <A>!\n\nVIP ★\n\n- 0:Tea\n- 1:Cake\n\nplan silver A1 o-7\n"
    assert by_rcpt["a@example.com"]["Subject"] == "Hi Ann <A>"

    bob = parts(by_rcpt["b@example.com"])
    assert "<p>Hello Bob!</p><p>regular</p>" in bob["html"]
    assert "gold plan B2 o-7" in bob["html"]
    assert "Ann" not in bob["html"] + bob["plain"]


async def test_variables_and_defaults_without_batch(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    await _template(client, sandbox, name="plain", template="<p>{{name}} {{missing}}|{{plan}}</p>")
    response = await client.post(
        f"/v3/{sandbox}/messages",
        data={
            "from": f"me@{sandbox}",
            "to": "a@example.com",
            "subject": "s",
            "template": "PLAIN",
            "v:name": "Vee",
            "h:X-Mailgun-Variables": json.dumps({"plan": "from-header"}),
        },
    )
    assert response.status_code == 200, response.text
    [item] = await inbox(client, 1)
    message = await raw_of(client, item)
    found = parts(message)
    assert found == {"html": "<p>Vee |from-header</p>\n"}  # no t:text: HTML only
    assert json.loads(message["X-Mailgun-Variables"]) == {"plan": "from-header", "name": "Vee"}


async def test_pinned_version_survives_template_changes(
    client: httpx.AsyncClient, sandbox: str, store: Store
) -> None:
    await _template(client, sandbox, name="pin", template="<p>v1 {{x}}</p>", tag="v1")
    await client.post(
        f"/v3/{sandbox}/templates/pin/versions", data={"template": "<p>v2 {{x}}</p>", "tag": "v2"}
    )
    send = {
        "from": f"me@{sandbox}",
        "to": "a@example.com",
        "template": "pin",
        "t:variables": '{"x": "X"}',
    }
    first = await client.post(f"/v3/{sandbox}/messages", data=send)
    explicit = await client.post(f"/v3/{sandbox}/messages", data={**send, "t:version": "v2"})
    assert first.status_code == explicit.status_code == 200
    items = await inbox(client, 2)
    before = sorted([parts(await raw_of(client, i))["html"] for i in items])
    assert before == ["<p>v1 X</p>\n", "<p>v2 X</p>\n"]

    stored = (await client.get(f"/v3/{sandbox}/events", params={"event": "accepted"})).json()
    urls = [e["storage"]["url"] for e in stored["items"]]
    renders = [
        (await client.get(u, headers={"Accept": "message/rfc2822"})).json()["body-mime"]
        for u in urls
    ]

    await client.put(
        f"/v3/{sandbox}/templates/pin/versions/v1", data={"template": "<p>changed</p>"}
    )
    await client.delete(f"/v3/{sandbox}/templates/pin")
    again = [
        (await client.get(u, headers={"Accept": "message/rfc2822"})).json()["body-mime"]
        for u in urls
    ]
    assert again == renders  # the same bytes, though the template is gone
    assert any("v1 X" in r for r in again)
    assert any("v2 X" in r for r in again)


async def test_subject_from_version_headers(client: httpx.AsyncClient, sandbox: str) -> None:
    await _template(
        client, sandbox, name="subj", template="<p>x</p>", headers='{"Subject": "From template"}'
    )
    base = {"from": f"me@{sandbox}", "to": "a@example.com", "template": "subj"}
    await client.post(f"/v3/{sandbox}/messages", data=base)
    [item] = await inbox(client, 1)
    assert (await raw_of(client, item))["Subject"] == "From template"
    await client.post(f"/v3/{sandbox}/messages", data={**base, "subject": "Given"})
    items = await inbox(client, 2)
    subjects = sorted([(await raw_of(client, i))["Subject"] for i in items])
    assert subjects == ["From template", "Given"]


async def test_text_given_wins_over_t_text(client: httpx.AsyncClient, sandbox: str) -> None:
    await _template(client, sandbox, name="tt", template="<p>Hi {{n}}</p>")
    await client.post(
        f"/v3/{sandbox}/messages",
        data={
            "from": f"me@{sandbox}",
            "to": "a@example.com",
            "template": "tt",
            "t:text": "yes",
            "text": "my own text",
            "t:variables": '{"n": "N"}',
        },
    )
    [item] = await inbox(client, 1)
    assert parts(await raw_of(client, item)) == {"plain": "my own text\n", "html": "<p>Hi N</p>\n"}


BAD = [
    ({"template": "nope"}, "template 'nope' not found"),
    ({"template": "ok", "t:version": "v9"}, "template 'ok' has no version 'v9'"),
    ({"template": "bare"}, "template 'bare' has no active version"),
    ({"template": "ok", "t:variables": "{nope"}, "'t:variables' parameter is not a valid JSON"),
    ({"template": "ok", "t:variables": "[1, 2]"}, "'t:variables' parameter is not a valid JSON"),
    ({"template": "ok", "t:text": "maybe"}, "'t:text' parameter must be one of"),
]


@pytest.mark.parametrize(("data", "message"), BAD)
async def test_bad_template_sends_are_400_and_store_nothing(
    client: httpx.AsyncClient, sandbox: str, store: Store, data: dict[str, str], message: str
) -> None:
    await _template(client, sandbox, name="ok", template="<p>{{a}}</p>", tag="v1")
    await _template(client, sandbox, name="bare")
    response = await client.post(
        f"/v3/{sandbox}/messages", data={"from": f"me@{sandbox}", "to": "a@example.com", **data}
    )
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(message)
    assert await count(store, schema.messages) == 0
    assert await count(store, schema.events) == 0
