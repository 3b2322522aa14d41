"""The templates pages on SQLite and PostgreSQL: list and create, a template's versions, editing
a version, and the preview (the send renderer, in a sandboxed frame; bad input is 400)."""

from __future__ import annotations

import html

import httpx

from tests.integration.web.conftest import Dashboard
from tests.integration.web.markup import attribute_of, row

BODY = "<p>Hello {{name}}</p>"


async def create(dashboard: Dashboard, domain: str, name: str = "welcome") -> httpx.Response:
    return await dashboard.post(
        f"/templates/{domain}", {"name": name, "description": "First mail", "template": BODY}
    )


def frame_of(page: str) -> str:
    """What the preview frame shows (its ``srcdoc``), checking that it is sandboxed."""
    start = page.index("<iframe")
    tag = page[start : page.index(">", start) + 1]
    assert " sandbox " in tag
    return attribute_of(tag, "srcdoc")


async def test_create_and_list(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    created = await create(dashboard, sandbox)
    assert created.status_code == 303
    assert created.headers["location"] == f"/templates/{sandbox}/welcome"
    stored = await client.get(f"/v3/{sandbox}/templates/welcome", params={"active": "yes"})
    assert stored.json()["template"]["version"]["template"] == BODY

    listed = await dashboard.client.get("/templates", params={"domain": sandbox})
    assert listed.status_code == 200
    assert "First mail" in row(listed.text, "data-template", "welcome")
    detail = await dashboard.client.get(created.headers["location"])
    assert detail.status_code == 200
    assert '<span class="badge ok">active</span>' in row(detail.text, "data-version", "initial")
    assert html.escape(BODY) in detail.text


async def test_create_refused_is_400_with_the_message(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    bad_name = await dashboard.post(f"/templates/{sandbox}", {"name": "no spaces"})
    assert bad_name.status_code == 400
    assert "may only contain letters" in html.unescape(bad_name.text)
    bad_body = await dashboard.post(
        f"/templates/{sandbox}", {"name": "broken", "template": "{{#if x}}open"}
    )
    assert bad_body.status_code == 400
    assert "is not a valid handlebars template" in html.unescape(bad_body.text)
    assert (await client.get(f"/v3/{sandbox}/templates/broken")).status_code == 404
    assert (await create(dashboard, sandbox)).status_code == 303
    again = await create(dashboard, sandbox)
    assert again.status_code == 400
    assert "already exists" in again.text


async def test_preview_renders_the_variables_in_a_sandboxed_frame(
    dashboard: Dashboard, sandbox: str
) -> None:
    await create(dashboard, sandbox)
    shown = await dashboard.post(
        f"/templates/{sandbox}/welcome/preview",
        {
            "template": "<h1>Hi {{name}}</h1>{{#each items}}<li>{{this}}</li>{{/each}}",
            "variables": '{"name": "Ada <b>", "items": ["tea", "cake"]}',
            "tag": "initial",
        },
    )
    assert shown.status_code == 200
    assert frame_of(shown.text) == "<h1>Hi Ada &lt;b&gt;</h1><li>tea</li><li>cake</li>"
    assert "<h1>Hi Ada" not in shown.text  # only inside the escaped srcdoc


async def test_preview_of_bad_input_is_400_with_the_message(
    dashboard: Dashboard, sandbox: str
) -> None:
    await create(dashboard, sandbox)
    url = f"/templates/{sandbox}/welcome/preview"
    unclosed = await dashboard.post(url, {"template": "{{#if x}}open", "variables": "{}"})
    assert unclosed.status_code == 400
    assert "is not a valid handlebars template" in html.unescape(unclosed.text)
    assert "<iframe" not in unclosed.text
    assert "{{#if x}}open" in html.unescape(unclosed.text)  # what was typed is kept
    bad_json = await dashboard.post(url, {"template": BODY, "variables": "{name: 1}"})
    assert bad_json.status_code == 400
    assert "&#39;variables&#39; is not valid JSON" in bad_json.text
    not_object = await dashboard.post(url, {"template": BODY, "variables": "[1]"})
    assert not_object.status_code == 400
    assert "must be a JSON object" in not_object.text


async def test_edit_a_version_and_add_one(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    await create(dashboard, sandbox)
    base = f"/templates/{sandbox}/welcome"
    saved = await dashboard.post(
        f"{base}/versions/initial", {"template": "<p>Bye {{name}}</p>", "comment": "shorter"}
    )
    assert saved.status_code == 303
    version = (await client.get(f"/v3/{sandbox}/templates/welcome/versions/initial")).json()
    assert version["template"]["version"]["template"] == "<p>Bye {{name}}</p>"
    assert version["template"]["version"]["comment"] == "shorter"

    broken = await dashboard.post(f"{base}/versions/initial", {"template": "{{/if}}"})
    assert broken.status_code == 400
    assert "closes nothing" in html.unescape(broken.text)

    added = await dashboard.post(
        f"{base}/versions", {"tag": "v2", "template": "<p>v2 {{name}}</p>", "active": "yes"}
    )
    assert added.status_code == 303
    assert added.headers["location"] == f"{base}?tag=v2"
    active = await client.get(f"/v3/{sandbox}/templates/welcome", params={"active": "yes"})
    assert active.json()["template"]["version"]["tag"] == "v2"
    page = await dashboard.client.get(base)
    assert '<span class="badge ok">active</span>' in row(page.text, "data-version", "v2")
    assert "badge ok" not in row(page.text, "data-version", "initial")


async def test_unknown_template_is_404(dashboard: Dashboard, sandbox: str) -> None:
    assert (await dashboard.client.get(f"/templates/{sandbox}/nope")).status_code == 404
    assert (await dashboard.client.get("/templates/nope.example/x")).status_code == 404


async def test_posts_without_csrf_token_are_403_and_change_nothing(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    refused = await dashboard.client.post(
        f"/templates/{sandbox}", data={"name": "welcome", "template": BODY}
    )
    assert refused.status_code == 403
    assert (await client.get(f"/v3/{sandbox}/templates/welcome")).status_code == 404
    await create(dashboard, sandbox)
    edit = await dashboard.client.post(
        f"/templates/{sandbox}/welcome/versions/initial", data={"template": "changed"}
    )
    assert edit.status_code == 403
    version = (await client.get(f"/v3/{sandbox}/templates/welcome/versions/initial")).json()
    assert version["template"]["version"]["template"] == BODY


async def test_delete_a_version_and_the_template(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    await create(dashboard, sandbox)
    base = f"/templates/{sandbox}/welcome"
    await dashboard.post(f"{base}/versions", {"tag": "v2", "template": "<p>v2</p>"})
    refused = await dashboard.client.post(f"{base}/versions/v2/delete")
    assert refused.status_code == 403
    deleted = await dashboard.post(f"{base}/versions/v2/delete")
    assert deleted.status_code == 303
    assert (await client.get(f"/v3/{sandbox}/templates/welcome/versions/v2")).status_code == 404
    assert (await dashboard.post(f"{base}/versions/v2/delete")).status_code == 404

    assert (await dashboard.client.post(f"{base}/delete")).status_code == 403
    gone = await dashboard.post(f"{base}/delete")
    assert gone.status_code == 303
    assert gone.headers["location"] == f"/templates?domain={sandbox}"
    assert (await client.get(f"/v3/{sandbox}/templates/welcome")).status_code == 404
    listed = await dashboard.client.get(gone.headers["location"])
    assert 'data-template="welcome"' not in listed.text
