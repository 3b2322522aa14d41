"""The suppressions page, on SQLite and PostgreSQL: the four lists of a domain, address search
and cursor paging, adding with the form (bad input shown with a 400), deleting with CSRF."""

from __future__ import annotations

import html
import re

import httpx

from tests.integration.web.conftest import Dashboard


def addresses_of(page: str) -> list[str]:
    return re.findall(r'<input type="hidden" name="address" value="([^"]+)">', page)


def link_of(page: str, rel: str) -> str:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    assert found, f"no {rel} link"
    return html.unescape(found.group(1))


async def test_lists_show_each_kind_in_its_tab(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    for kind, body in [
        ("bounces", {"address": "gone@example.com", "code": "550", "error": "No such user"}),
        ("unsubscribes", {"address": "bye@example.com", "tag": "news"}),
        ("complaints", {"address": "angry@example.com"}),
        ("whitelists", {"domain": "friends.example"}),
    ]:
        response = await client.post(f"/v3/{sandbox}/{kind}", data=body)
        assert response.status_code == 200, response.text

    page = await dashboard.client.get("/suppressions")  # the first domain, bounces
    assert page.status_code == 200
    assert addresses_of(page.text) == ["gone@example.com"]
    assert "No such user" in page.text
    assert "550" in page.text
    for kind, value, detail in [
        ("unsubscribes", "bye@example.com", "news"),
        ("complaints", "angry@example.com", ""),
        ("whitelists", "friends.example", "domain"),
    ]:
        page = await dashboard.client.get("/suppressions", params={"domain": sandbox, "kind": kind})
        assert addresses_of(page.text) == [value], kind
        assert detail in page.text


async def test_search_and_paging(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    batch = [{"address": f"user{i:03}@example.com"} for i in range(60)]
    batch += [{"address": "zed@example.org"}]
    assert (await client.post(f"/v3/{sandbox}/complaints", json=batch)).status_code == 200
    params = {"domain": sandbox, "kind": "complaints"}

    first = (await dashboard.client.get("/suppressions", params=params)).text
    assert addresses_of(first) == [f"user{i:03}@example.com" for i in range(50)]
    assert 'rel="prev"' not in first
    second = (await dashboard.client.get(link_of(first, "next"))).text
    assert addresses_of(second) == [
        *(f"user{i:03}@example.com" for i in range(50, 60)),
        "zed@example.org",
    ]
    assert 'rel="next"' not in second
    back = (await dashboard.client.get(link_of(second, "prev"))).text
    assert addresses_of(back) == addresses_of(first)

    found = (await dashboard.client.get("/suppressions", params={**params, "term": "user05"})).text
    assert addresses_of(found) == [f"user{i:03}@example.com" for i in range(50, 60)]
    none = (await dashboard.client.get("/suppressions", params={**params, "term": "nobody"})).text
    assert addresses_of(none) == []
    assert "No complaints starting with" in none


async def test_add_with_the_form(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    added = await dashboard.post(
        "/suppressions/add",
        {"domain": sandbox, "kind": "bounces", "address": "Lost@Example.com", "code": "551"},
    )
    assert added.status_code == 303
    assert added.headers["location"] == f"/suppressions?domain={sandbox}&kind=bounces"
    got = await client.get(f"/v3/{sandbox}/bounces/lost@example.com")
    assert got.status_code == 200
    assert got.json()["code"] == "551"

    allow = await dashboard.post(
        "/suppressions/add", {"domain": sandbox, "kind": "whitelists", "address": "partner.example"}
    )
    assert allow.status_code == 303
    listed = await client.get(f"/v3/{sandbox}/whitelists/partner.example")
    assert listed.json()["type"] == "domain"


async def test_bad_input_is_shown_on_the_form_with_a_400(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    for form, message in [
        ({"kind": "bounces", "address": "not an address"}, "is not a valid address"),
        ({"kind": "bounces", "address": "a@example.com", "code": "99"}, "3-digit SMTP reply code"),
        ({"kind": "bounces", "address": ""}, "'address' parameter is missing"),
        ({"kind": "sometimes", "address": "a@example.com"}, "'kind' must be one of"),
    ]:
        page = await dashboard.post("/suppressions/add", {"domain": sandbox, **form})
        assert page.status_code == 400, form
        assert message in html.unescape(page.text)
        assert 'action="/suppressions/add"' in page.text  # the form, with what was typed
    bounces = (await client.get(f"/v3/{sandbox}/bounces")).json()["items"]
    assert bounces == []

    unknown = await dashboard.post(
        "/suppressions/add", {"domain": "nowhere.example", "kind": "bounces", "address": "a@b.c"}
    )
    assert unknown.status_code == 400
    for params, status in [
        ({"domain": "nowhere.example"}, 404),
        ({"domain": sandbox, "kind": "nope"}, 400),
        ({"domain": sandbox, "page": "sideways"}, 400),
    ]:
        assert (await dashboard.client.get("/suppressions", params=params)).status_code == status


async def test_delete_needs_the_csrf_token(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    await client.post(f"/v3/{sandbox}/unsubscribes", data={"address": "x@example.com"})
    form = {"domain": sandbox, "kind": "unsubscribes", "address": "x@example.com"}

    forged = await dashboard.client.post("/suppressions/delete", data=form)
    assert forged.status_code == 403
    assert (await client.get(f"/v3/{sandbox}/unsubscribes/x@example.com")).status_code == 200

    page = (await dashboard.client.get("/suppressions", params={"kind": "unsubscribes"})).text
    assert 'data-confirm="Remove x@example.com?"' in page
    deleted = await dashboard.post("/suppressions/delete", form)
    assert deleted.status_code == 303
    assert (await client.get(f"/v3/{sandbox}/unsubscribes/x@example.com")).status_code == 404

    again = await dashboard.post("/suppressions/delete", form)
    assert again.status_code == 400
    assert "Address not found in unsubscribers table" in again.text


async def test_suppressions_need_a_session(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/suppressions?kind=bounces")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fsuppressions%3Fkind%3Dbounces"
