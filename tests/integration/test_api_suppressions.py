"""Suppression lists through the API (both stores), and the delivery check on a real store."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import Store
from mailwright.suppressions import add_bounce, add_entries, check, check_many, parse_entry

KINDS = ["bounces", "unsubscribes", "complaints"]


async def test_bounce_add_get_list_delete(client: httpx.AsyncClient, sandbox: str) -> None:
    base = f"/v3/{sandbox}/bounces"
    added = await client.post(
        base,
        data={
            "address": "Alice@Example.COM",
            "code": "551",
            "error": "No such mailbox",
            "created_at": "Thu, 13 Oct 2011 18:02:00 GMT",
        },
    )
    assert added.status_code == 200, added.text
    assert added.json() == {
        "message": "Address has been added to the bounces table",
        "address": "alice@example.com",
    }
    one = await client.get(f"{base}/alice%40example.com")
    assert one.json() == {
        "address": "alice@example.com",
        "code": "551",
        "error": "No such mailbox",
        "created_at": "Thu, 13 Oct 2011 18:02:00 GMT",
    }
    listing = (await client.get(base)).json()
    assert [i["address"] for i in listing["items"]] == ["alice@example.com"]
    assert set(listing["paging"]) == {"first", "last", "next", "previous"}
    assert listing["paging"]["first"].startswith(f"http://testserver/v3/{sandbox}/bounces?")

    removed = await client.delete(f"{base}/alice@example.com")
    assert removed.json() == {
        "message": "Bounced address has been removed",
        "address": "alice@example.com",
    }
    missing = await client.get(f"{base}/alice@example.com")
    assert missing.status_code == 404
    assert missing.json() == {"message": "Address not found in bounces table"}
    assert (await client.delete(f"{base}/alice@example.com")).status_code == 404


async def test_bounce_defaults_and_readd_updates(client: httpx.AsyncClient, sandbox: str) -> None:
    base = f"/v3/{sandbox}/bounces"
    await client.post(base, data={"address": "bob@example.com"})
    first = (await client.get(f"{base}/bob@example.com")).json()
    assert (first["code"], first["error"]) == ("550", "")
    await client.post(base, data={"address": "bob@example.com", "code": "554", "error": "x"})
    again = (await client.get(f"{base}/bob@example.com")).json()
    assert (again["code"], again["error"]) == ("554", "x")
    assert len((await client.get(base)).json()["items"]) == 1


@pytest.mark.parametrize(
    ("kind", "added", "removed", "missing"),
    [
        (
            "unsubscribes",
            "Address has been added to the unsubscribes table",
            "Unsubscribe event has been removed",
            "Address not found in unsubscribers table",
        ),
        (
            "complaints",
            "Address has been added to the complaints table",
            "Spam complaint has been removed",
            "No spam complaints found for this address",
        ),
    ],
)
async def test_other_lists_messages(
    client: httpx.AsyncClient, sandbox: str, kind: str, added: str, removed: str, missing: str
) -> None:
    base = f"/v3/{sandbox}/{kind}"
    response = await client.post(base, data={"address": "carol@example.com"})
    assert response.json() == {"message": added, "address": "carol@example.com"}
    item = (await client.get(f"{base}/carol@example.com")).json()
    assert item["address"] == "carol@example.com"
    assert item["created_at"].endswith(" GMT")
    assert (await client.delete(f"{base}/carol@example.com")).json() == {
        "message": removed,
        "address": "carol@example.com",
    }
    gone = await client.get(f"{base}/carol@example.com")
    assert (gone.status_code, gone.json()) == (404, {"message": missing})


async def test_unsubscribe_tags_merge_and_remove(client: httpx.AsyncClient, sandbox: str) -> None:
    base = f"/v3/{sandbox}/unsubscribes"
    await client.post(base, data={"address": "dan@example.com"})
    assert (await client.get(f"{base}/dan@example.com")).json()["tags"] == ["*"]
    await client.post(base, data={"address": "erin@example.com", "tag": ["news", "promo"]})
    await client.post(base, data={"address": "erin@example.com", "tag": "weekly"})
    tags = (await client.get(f"{base}/erin@example.com")).json()["tags"]
    assert tags == ["news", "promo", "weekly"]
    await client.delete(f"{base}/erin@example.com", params={"tag": "promo"})
    assert (await client.get(f"{base}/erin@example.com")).json()["tags"] == ["news", "weekly"]


async def test_whitelist_address_and_domain(client: httpx.AsyncClient, sandbox: str) -> None:
    base = f"/v3/{sandbox}/whitelists"
    by_domain = await client.post(base, data={"domain": "Partner.Example", "reason": "tests"})
    assert by_domain.json() == {
        "message": "Address/Domain has been added to the whitelists table",
        "type": "domain",
        "value": "partner.example",
    }
    by_address = await client.post(base, data={"address": "qa@example.com"})
    assert by_address.json()["type"] == "address"
    item = (await client.get(f"{base}/partner.example")).json()
    assert item["type"] == "domain"
    assert item["value"] == "partner.example"
    assert item["reason"] == "tests"
    assert item["createdAt"].endswith(" GMT")
    listing = (await client.get(base)).json()
    assert [i["value"] for i in listing["items"]] == ["partner.example", "qa@example.com"]
    removed = await client.delete(f"{base}/partner.example")
    assert removed.json() == {
        "message": "Whitelist address/domain has been removed",
        "value": "partner.example",
    }
    missing = await client.get(f"{base}/partner.example")
    assert missing.status_code == 404
    assert missing.json() == {"message": "Address/Domain not found in whitelists table"}


@pytest.mark.parametrize("kind", KINDS)
async def test_paging_to_the_end(client: httpx.AsyncClient, sandbox: str, kind: str) -> None:
    addresses = [f"user{i:02d}@example.com" for i in range(7)]
    batch = [{"address": a} for a in reversed(addresses)]
    response = await client.post(f"/v3/{sandbox}/{kind}", json=batch)
    assert response.status_code == 200, response.text
    seen: list[str] = []
    url = f"/v3/{sandbox}/{kind}?limit=3"
    for _ in range(10):
        body = (await client.get(url)).json()
        if not body["items"]:
            break
        seen += [i["address"] for i in body["items"]]
        url = body["paging"]["next"]
    assert seen == addresses
    last = (await client.get(f"/v3/{sandbox}/{kind}?page=last&limit=3")).json()
    assert [i["address"] for i in last["items"]] == addresses[-3:]
    prev = (await client.get(last["paging"]["previous"])).json()
    assert [i["address"] for i in prev["items"]] == addresses[1:4]
    term = (await client.get(f"/v3/{sandbox}/{kind}?term=user0")).json()
    assert len(term["items"]) == 7


async def test_json_batch_messages(client: httpx.AsyncClient, sandbox: str) -> None:
    bounces = [
        {"address": "a@example.com", "code": "550", "error": "Bounced"},
        {"address": "b@example.com", "code": 551, "created_at": "Thu, 13 Oct 2011 18:02:00 UTC"},
        {"address": "c@example.com"},
    ]
    response = await client.post(f"/v3/{sandbox}/bounces", json=bounces)
    assert response.json() == {"message": "3 addresses have been added to the bounces table"}
    b = (await client.get(f"/v3/{sandbox}/bounces/b@example.com")).json()
    assert (b["code"], b["created_at"]) == ("551", "Thu, 13 Oct 2011 18:02:00 GMT")
    unsubs = [{"address": "a@example.com", "tags": ["x"]}, {"address": "b@example.com", "tags": []}]
    response = await client.post(f"/v3/{sandbox}/unsubscribes", json=unsubs)
    assert response.json() == {"message": "2 addresses have been added to the unsubscribes table"}
    b_unsub = (await client.get(f"/v3/{sandbox}/unsubscribes/b@example.com")).json()
    assert b_unsub["tags"] == ["*"]
    complaints = [{"address": "a@example.com"}, {"address": "A@example.com"}]
    response = await client.post(f"/v3/{sandbox}/complaints", json=complaints)
    assert response.json() == {
        "message": "2 complaint addresses have been added to the complaints table"
    }
    assert len((await client.get(f"/v3/{sandbox}/complaints")).json()["items"]) == 1


async def test_csv_upload_and_import(client: httpx.AsyncClient, sandbox: str) -> None:
    csv = b"address,code,error,created_at\nx@example.com,552,full,\ny@example.com,,,\n"
    response = await client.post(
        f"/v3/{sandbox}/bounces", files={"file": ("b.csv", csv, "text/csv")}
    )
    assert response.json() == {"message": "2 addresses have been added to the bounces table"}
    assert (await client.get(f"/v3/{sandbox}/bounces/x@example.com")).json()["code"] == "552"
    imported = await client.post(
        f"/v3/{sandbox}/unsubscribes/import",
        files={"file": ("u.csv", b"address,tags\nz@example.com,news\n", "text/csv")},
    )
    assert (imported.status_code, imported.json()) == (
        202,
        {"message": "file uploaded successfully"},
    )
    z = (await client.get(f"/v3/{sandbox}/unsubscribes/z@example.com")).json()
    assert z["tags"] == ["news"]
    wl = await client.post(
        f"/v3/{sandbox}/whitelists/import",
        files={"file": ("w.csv", b"address,domain\n,ok.example\nme@example.com,\n", "text/csv")},
    )
    assert wl.status_code == 202
    values = [i["value"] for i in (await client.get(f"/v3/{sandbox}/whitelists")).json()["items"]]
    assert values == ["me@example.com", "ok.example"]


@pytest.mark.parametrize("kind", ["bounces", "unsubscribes", "complaints", "whitelists"])
async def test_delete_all(client: httpx.AsyncClient, sandbox: str, kind: str) -> None:
    base = f"/v3/{sandbox}/{kind}"
    await client.post(base, json=[{"address": "p@example.com"}, {"address": "q@example.com"}])
    response = await client.delete(base)
    assert response.status_code == 200
    assert "for this domain have been removed" in response.json()["message"]
    assert (await client.get(base)).json()["items"] == []


@pytest.mark.parametrize(
    ("kind", "data", "field"),
    [
        ("bounces", {}, "address"),
        ("bounces", {"address": "not an address"}, "address"),
        ("bounces", {"address": "a@example.com", "code": "abc"}, "code"),
        ("bounces", {"address": "a@example.com", "created_at": "yesterday"}, "created_at"),
        ("unsubscribes", {"address": "@example.com"}, "address"),
        ("complaints", {"address": "x@"}, "address"),
        ("whitelists", {"reason": "r"}, "address"),
        ("whitelists", {"domain": "not a domain"}, "domain"),
    ],
)
async def test_bad_input_is_400_naming_the_field(
    client: httpx.AsyncClient, sandbox: str, kind: str, data: dict, field: str
) -> None:
    response = await client.post(f"/v3/{sandbox}/{kind}", data=data)
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]


async def test_bad_batches_are_400(client: httpx.AsyncClient, sandbox: str) -> None:
    base = f"/v3/{sandbox}/bounces"
    too_many = [{"address": f"u{i}@example.com"} for i in range(1001)]
    assert (await client.post(base, json=too_many)).status_code == 400
    bad_item = await client.post(base, json=[{"address": "ok@example.com"}, {"address": "bad"}])
    assert bad_item.status_code == 400
    assert "address" in bad_item.json()["message"]
    assert (await client.get(base)).json()["items"] == []  # nothing half-added
    not_json = await client.post(base, content=b"[", headers={"content-type": "application/json"})
    assert not_json.status_code == 400
    no_column = await client.post(
        base, files={"file": ("b.csv", b"email\nx@example.com\n", "text/csv")}
    )
    assert no_column.status_code == 400
    assert "file" in no_column.json()["message"]
    assert (await client.get(f"{base}?limit=0")).status_code == 400
    assert (await client.get(f"{base}?page=sideways")).status_code == 400


async def test_unknown_domain_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v3/nowhere.example/bounces")
    assert response.status_code == 404
    assert response.json() == {"message": "Domain not found: nowhere.example"}
    added = await client.post("/v3/nowhere.example/complaints", data={"address": "a@example.com"})
    assert added.status_code == 404


async def test_domain_sending_key_is_403(client: httpx.AsyncClient, sandbox: str) -> None:
    created = await client.post(
        "/v1/keys", data={"role": "sending", "kind": "domain", "domain_name": sandbox}
    )
    auth = ("api", created.json()["key"]["secret"])
    base = f"/v3/{sandbox}/bounces"
    assert (await client.get(base, auth=auth)).status_code == 403
    assert (await client.get(f"{base}/a@example.com", auth=auth)).status_code == 403
    posted = await client.post(base, data={"address": "a@example.com"}, auth=auth)
    assert posted.status_code == 403
    assert (await client.delete(base, auth=auth)).status_code == 403


async def test_basic_key_reads_but_cannot_write(client: httpx.AsyncClient, sandbox: str) -> None:
    created = await client.post("/v1/keys", data={"role": "basic"})
    auth = ("api", created.json()["key"]["secret"])
    base = f"/v3/{sandbox}/unsubscribes"
    assert (await client.get(base, auth=auth)).status_code == 200
    assert (
        await client.post(base, data={"address": "a@example.com"}, auth=auth)
    ).status_code == 403


# -- the delivery check, on a real store -------------------------------------------------

DOMAIN = "mg.example"


async def _check(store: Store, address: str, tags: tuple[str, ...] = ()) -> str | None:
    async with store.read() as conn:
        return await check(conn, DOMAIN, address, tags=tags)


async def _add(store: Store, kind: str, **fields: str | list[str]) -> None:
    values = {k: v if isinstance(v, list) else [v] for k, v in fields.items()}
    await add_entries(store, DOMAIN, kind, [parse_entry(kind, values, 1000.0)])


async def test_check_bounce_and_whitelist_exemption(store: Store) -> None:
    async def bounce(address: str) -> bool:
        async def op(conn: AsyncConnection) -> bool:
            return await add_bounce(conn, DOMAIN, address, code=550, error="gone", now=1.0)

        return await store.write(op)

    assert await _check(store, "a@example.com") is None
    assert await bounce("A@Example.com") is True
    assert await _check(store, "a@example.com") == "suppress-bounce"
    assert await _check(store, "A@EXAMPLE.COM") == "suppress-bounce"

    await _add(store, "whitelists", address="a@example.com")
    assert await _check(store, "a@example.com") is None  # exempt from the bounce list

    await _add(store, "whitelists", domain="safe.example")
    assert await bounce("x@safe.example") is False
    async with store.read() as conn:
        assert await check(conn, DOMAIN, "x@safe.example") is None
        assert await check(conn, "other.example", "a@example.com") is None  # per domain


async def test_check_complaint_and_unsubscribe_tags(store: Store) -> None:
    await _add(store, "unsubscribes", address="t@example.com", tag=["news"])
    assert await _check(store, "t@example.com") is None
    assert await _check(store, "t@example.com", ("promo",)) is None
    assert await _check(store, "t@example.com", ("promo", "news")) == "suppress-unsubscribe"

    await _add(store, "unsubscribes", address="all@example.com")
    assert await _check(store, "all@example.com") == "suppress-unsubscribe"

    await _add(store, "complaints", address="t@example.com")
    await _add(store, "whitelists", address="t@example.com")  # exempts bounces only
    assert await _check(store, "t@example.com") == "suppress-complaint"


async def test_check_many_answers_each_as_check_does(store: Store) -> None:
    await _add(store, "bounces", address="b@example.com")
    await _add(store, "bounces", address="w@safe.example")
    await _add(store, "whitelists", domain="safe.example")
    await _add(store, "unsubscribes", address="u@example.com", tag=["news"])
    await _add(store, "complaints", address="c@example.com")
    wanted = [
        (DOMAIN, "b@example.com", ()),
        (DOMAIN, "w@safe.example", ()),
        (DOMAIN, "u@example.com", ("news",)),
        (DOMAIN, "u@example.com", ("promo",)),
        (DOMAIN, "C@Example.com", ()),
        (DOMAIN, "fine@example.com", ()),
        ("other.example", "b@example.com", ()),
    ]
    async with store.read() as conn:
        together = await check_many(conn, wanted)
        alone = [await check(conn, d, a, tags=t) for d, a, t in wanted]
    assert together == alone
    assert together == [
        "suppress-bounce",
        None,
        "suppress-unsubscribe",
        None,
        "suppress-complaint",
        None,
        None,
    ]


async def test_add_bounce_updates_in_place(store: Store) -> None:
    async def op(conn: AsyncConnection) -> None:
        await add_bounce(conn, DOMAIN, "r@example.com", code=None, error="first", now=1.0)
        await add_bounce(conn, DOMAIN, "r@example.com", code=552, error="second", now=2.0)

    await store.write(op)
    async with store.read() as conn:
        result = await conn.exec_driver_sql(
            "SELECT code, error, created_at FROM suppressions WHERE kind = 'bounces'"
        )
        rows = [tuple(r) for r in result]
    assert rows == [("552", "second", 2.0)]
