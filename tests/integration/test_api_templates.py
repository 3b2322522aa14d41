"""Templates and versions through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


async def _create(client: httpx.AsyncClient, domain: str, **data: str) -> httpx.Response:
    return await client.post(f"/v3/{domain}/templates", data=data)


async def test_create_with_first_version_and_get(client: httpx.AsyncClient, sandbox: str) -> None:
    created = await _create(
        client,
        sandbox,
        name="Welcome.Mail",
        description="first mail",
        template="<p>Hi {{name}}</p>",
        comment="v1",
        headers='{"subject": "Welcome!"}',
    )
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["message"] == "template has been stored"
    template = body["template"]
    assert (template["name"], template["description"]) == ("welcome.mail", "first mail")
    assert set(template) >= {"createdAt", "createdBy", "id", "version"}
    assert template["createdAt"].endswith(" UTC")
    version = template["version"]
    assert version["tag"] == "initial"
    assert version["engine"] == "handlebars"
    assert version["active"] is True
    assert version["template"] == "<p>Hi {{name}}</p>"
    assert version["comment"] == "v1"
    assert version["headers"] == {"Subject": "Welcome!"}

    plain = (await client.get(f"/v3/{sandbox}/templates/welcome.mail")).json()["template"]
    assert plain["name"] == "welcome.mail"
    assert "version" not in plain
    active = await client.get(f"/v3/{sandbox}/templates/WELCOME.MAIL", params={"active": "yes"})
    assert active.json()["template"]["version"]["template"] == "<p>Hi {{name}}</p>"


async def test_create_without_content_has_no_version(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    created = (await _create(client, sandbox, name="empty")).json()
    assert "version" not in created["template"]
    got = await client.get(f"/v3/{sandbox}/templates/empty", params={"active": "yes"})
    assert "version" not in got.json()["template"]
    # The first version of a template is active even without active=yes.
    added = await client.post(
        f"/v3/{sandbox}/templates/empty/versions", data={"template": "x", "tag": "v1"}
    )
    assert added.json()["template"]["version"]["active"] is True


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({}, 400, "'name' parameter is missing"),
        ({"name": "bad name!"}, 400, "'name' may only contain letters"),
        ({"name": "x" * 256}, 400, "'name' must be at most 255 characters long"),
        ({"name": "t", "description": "d" * 1025}, 400, "'description' must be at most"),
        ({"name": "t", "template": "x", "engine": "go"}, 400, "'engine' must be one of"),
        ({"name": "t", "template": "{{#if a}}x"}, 400, "'template' is not a valid handlebars"),
        ({"name": "t", "template": "x", "tag": "bad tag"}, 400, "'tag' may only contain"),
        ({"name": "t", "template": "x", "headers": "[1]"}, 400, "'headers' must be a JSON"),
        ({"name": "t", "template": "x", "headers": '{"X-A": "b"}'}, 400, "'headers' may only"),
        ({"name": "t", "template": "x" * (100 * 1024 + 1)}, 400, "'template' is larger"),
    ],
)
async def test_create_rejects_bad_input(
    client: httpx.AsyncClient, sandbox: str, data: dict[str, str], status: int, message: str
) -> None:
    response = await _create(client, sandbox, **data)
    assert response.status_code == status, response.text
    assert response.json()["message"].startswith(message)
    assert (await client.get(f"/v3/{sandbox}/templates")).json()["items"] == []


async def test_duplicate_name_is_400(client: httpx.AsyncClient, sandbox: str) -> None:
    assert (await _create(client, sandbox, name="dup")).status_code == 200
    again = await _create(client, sandbox, name="DUP")
    assert again.status_code == 400
    assert again.json() == {"message": "template with name 'dup' already exists"}


async def test_not_found_messages(client: httpx.AsyncClient, sandbox: str) -> None:
    base = f"/v3/{sandbox}/templates"
    for method, path in [
        ("GET", "/nope"),
        ("PUT", "/nope"),
        ("DELETE", "/nope"),
        ("GET", "/nope/versions"),
        ("POST", "/nope/versions"),
    ]:
        response = await client.request(
            method, base + path, data={"description": "d", "tag": "t", "template": "x"}
        )
        assert (response.status_code, response.json()) == (404, {"message": "template not found"})
    await _create(client, sandbox, name="t", template="x")
    for method, path in [
        ("GET", "/t/versions/nope"),
        ("PUT", "/t/versions/nope"),
        ("DELETE", "/t/versions/nope"),
        ("PUT", "/t/versions/nope/copy/other"),
    ]:
        response = await client.request(method, base + path)
        assert (response.status_code, response.json()) == (404, {"message": "version not found"})
    unknown = await client.get("/v3/unknown.example/templates")
    assert unknown.status_code == 404


async def test_update_and_delete(client: httpx.AsyncClient, sandbox: str) -> None:
    base = f"/v3/{sandbox}/templates"
    await _create(client, sandbox, name="a", description="old", template="x")
    await _create(client, sandbox, name="b")
    updated = await client.put(f"{base}/a", data={"description": "new"})
    assert updated.json() == {"message": "template has been updated", "template": {"name": "a"}}
    assert (await client.get(f"{base}/a")).json()["template"]["description"] == "new"
    missing = await client.put(f"{base}/a", data={})
    assert (missing.status_code, missing.json()["message"]) == (
        400,
        "'description' parameter is missing",
    )

    deleted = await client.delete(f"{base}/a")
    assert deleted.json() == {"message": "template has been deleted", "template": {"name": "a"}}
    assert (await client.get(f"{base}/a")).status_code == 404
    assert [t["name"] for t in (await client.get(base)).json()["items"]] == ["b"]

    cleared = await client.delete(base)
    assert cleared.json() == {"message": "templates have been deleted"}
    assert (await client.get(base)).json()["items"] == []


async def _names(client: httpx.AsyncClient, url: str, params: Any = None) -> list[str]:
    response = await client.get(url, params=params)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


async def test_list_paging(client: httpx.AsyncClient, sandbox: str) -> None:
    base = f"/v3/{sandbox}/templates"
    for name in ["e", "a", "d", "c", "b"]:
        await _create(client, sandbox, name=name, template=f"<p>{name}</p>")
    first = (await client.get(base, params={"limit": 2})).json()
    assert [t["name"] for t in first["items"]] == ["a", "b"]
    assert "version" not in first["items"][0]
    paging = first["paging"]
    assert set(paging) == {"first", "last", "next", "previous"}
    assert paging["next"] == f"http://testserver{base}?limit=2&page=next&p=b"
    assert paging["previous"] == f"http://testserver{base}?limit=2&page=prev&p=a"
    # Follow the URLs the way SDK users do.
    second = (await client.get(paging["next"])).json()
    assert [t["name"] for t in second["items"]] == ["c", "d"]
    third = (await client.get(second["paging"]["next"])).json()
    assert [t["name"] for t in third["items"]] == ["e"]
    assert (await client.get(third["paging"]["next"])).json()["items"] == []
    back = (await client.get(third["paging"]["previous"])).json()
    assert [t["name"] for t in back["items"]] == ["c", "d"]
    assert await _names(client, base, {"limit": 2, "page": "last"}) == ["d", "e"]
    assert await _names(client, base, {"limit": 10, "page": "first"}) == list("abcde")
    bad = await client.get(base, params={"page": "sideways"})
    assert (bad.status_code, bad.json()["message"]) == (
        400,
        "'page' must be one of first, last, next, prev",
    )
    too_many = await client.get(base, params={"limit": 101})
    assert too_many.status_code == 400
    assert "'limit'" in too_many.json()["message"]


async def test_versions_lifecycle(client: httpx.AsyncClient, sandbox: str) -> None:
    base = f"/v3/{sandbox}/templates/t"
    await _create(client, sandbox, name="t", template="one {{a}}", tag="v1")
    made = await client.post(
        f"{base}/versions", data={"template": "two {{a}}", "tag": "v2", "comment": "second"}
    )
    assert made.status_code == 200, made.text
    body = made.json()
    assert body["message"] == "new version of the template has been stored"
    assert body["template"]["name"] == "t"
    assert body["template"]["version"]["active"] is False
    assert body["template"]["version"]["comment"] == "second"

    dup = await client.post(f"{base}/versions", data={"template": "x", "tag": "V2"})
    assert (dup.status_code, dup.json()) == (
        400,
        {"message": "version with tag 'v2' already exists"},
    )
    no_tag = await client.post(f"{base}/versions", data={"template": "x"})
    assert (no_tag.status_code, no_tag.json()["message"]) == (400, "'tag' parameter is missing")
    no_content = await client.post(f"{base}/versions", data={"tag": "v9"})
    assert no_content.json()["message"] == "'template' parameter is missing"

    listed = (await client.get(f"{base}/versions")).json()
    assert listed["template"]["name"] == "t"
    versions = listed["template"]["versions"]
    assert [(v["tag"], v["active"]) for v in versions] == [("v1", True), ("v2", False)]
    assert "template" not in versions[0]
    assert set(listed["paging"]) == {"first", "last", "next", "previous"}

    got = (await client.get(f"{base}/versions/v2")).json()["template"]
    assert got["version"]["template"] == "two {{a}}"

    # v3 made active deactivates v1
    await client.post(f"{base}/versions", data={"template": "three", "tag": "v3", "active": "yes"})
    active = (await client.get(base, params={"active": "yes"})).json()["template"]["version"]
    assert active["tag"] == "v3"

    updated = await client.put(
        f"{base}/versions/v2", data={"template": "two! {{a}}", "comment": "c2", "active": "yes"}
    )
    assert updated.json() == {
        "message": "version has been updated",
        "template": {"name": "t", "version": {"tag": "v2"}},
    }
    v2 = (await client.get(f"{base}/versions/v2")).json()["template"]["version"]
    assert (v2["template"], v2["comment"], v2["active"]) == ("two! {{a}}", "c2", True)
    tags = [
        (v["tag"], v["active"])
        for v in (await client.get(f"{base}/versions")).json()["template"]["versions"]
    ]
    assert tags == [("v1", False), ("v2", True), ("v3", False)]
    bad = await client.put(f"{base}/versions/v2", data={"template": "{{/if}}"})
    assert bad.status_code == 400
    assert bad.json()["message"].startswith("'template' is not a valid handlebars template")
    bad_active = await client.put(f"{base}/versions/v2", data={"active": "maybe"})
    assert bad_active.status_code == 400

    copied = await client.put(f"{base}/versions/v2/copy/v4", data={"comment": "copy"})
    assert copied.status_code == 200, copied.text
    copy = copied.json()
    assert copy["message"] == "version has been copied"
    assert copy["version"]["tag"] == "v4"
    assert (copy["version"]["template"], copy["version"]["comment"]) == ("two! {{a}}", "copy")
    assert copy["version"]["active"] is False
    again = await client.put(f"{base}/versions/v2/copy/v4")
    assert again.status_code == 400
    kept_comment = (await client.put(f"{base}/versions/v2/copy/v5")).json()["version"]
    assert kept_comment["comment"] == "c2"

    deleted = await client.delete(f"{base}/versions/v1")
    assert deleted.json() == {
        "message": "version has been deleted",
        "template": {"name": "t", "version": {"tag": "v1"}},
    }
    assert (await client.get(f"{base}/versions/v1")).status_code == 404


async def test_versions_paging(client: httpx.AsyncClient, sandbox: str) -> None:
    base = f"/v3/{sandbox}/templates/p"
    await _create(client, sandbox, name="p", template="x", tag="a")
    for tag in ["c", "b", "d"]:
        await client.post(f"{base}/versions", data={"template": tag, "tag": tag})
    first = (await client.get(f"{base}/versions", params={"limit": 3})).json()
    assert [v["tag"] for v in first["template"]["versions"]] == ["a", "b", "c"]
    rest = (await client.get(first["paging"]["next"])).json()
    assert [v["tag"] for v in rest["template"]["versions"]] == ["d"]
    last = (await client.get(f"{base}/versions", params={"limit": 2, "page": "last"})).json()
    assert [v["tag"] for v in last["template"]["versions"]] == ["c", "d"]


async def test_templates_are_per_domain(client: httpx.AsyncClient, sandbox: str) -> None:
    other = await client.post("/v4/domains", data={"name": "other.example.test"})
    assert other.status_code == 200, other.text
    await _create(client, sandbox, name="shared", template="mine")
    assert (await client.get("/v3/other.example.test/templates/shared")).status_code == 404
    assert (await _create(client, "other.example.test", name="shared")).status_code == 200
