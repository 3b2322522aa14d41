"""The capture inbox pages, on SQLite and PostgreSQL: captured mail listed, searched and paged,
one message read in every form, hostile HTML kept in a sandbox, deletes guarded by CSRF."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.integration.web.conftest import Dashboard
from tests.support.wait import wait_until

HOSTILE = '<p id="x">Look <img src="https://tracker.example/p.gif"></p><script>fetch("/")</script>'


async def send(client: httpx.AsyncClient, domain: str, to: str, subject: str, **extra: str) -> None:
    data = {"from": f"App <app@{domain}>", "to": to, "subject": subject, "text": "Hi"} | extra
    response = await client.post(f"/v3/{domain}/messages", data=data)
    assert response.status_code == 200, response.text


async def captured(client: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]]:
        body = (await client.get("/mailwright/v1/inbox/messages")).json()
        return list(body["items"]) if body["total_count"] >= count else []

    return await wait_until(probe)


def rows_of(page: str) -> int:
    return len(re.findall(r'<a href="/inbox/[^"/]+">', page))


async def test_inbox_lists_and_searches_captured_mail(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    await send(client, sandbox, "alice@example.com", "Your receipt")
    await captured(client, 1)  # so the second is captured later
    await send(client, sandbox, "bob@example.com", "Password reset")
    await captured(client, 2)

    page = await dashboard.client.get("/inbox")
    assert page.status_code == 200
    assert "Your receipt" in page.text
    assert "Password reset" in page.text
    assert rows_of(page.text) == 2
    assert page.text.index("Password reset") < page.text.index("Your receipt")  # newest first

    by_recipient = (
        await dashboard.client.get("/inbox", params={"recipient": "Bob@example.com"})
    ).text
    assert rows_of(by_recipient) == 1
    assert "Password reset" in by_recipient
    by_subject = (await dashboard.client.get("/inbox", params={"subject": "RECEIPT"})).text
    assert rows_of(by_subject) == 1
    assert "Your receipt" in by_subject
    nothing = (await dashboard.client.get("/inbox", params={"subject": "100%_"})).text
    assert rows_of(nothing) == 0
    assert "No captured messages match" in nothing


async def test_inbox_pages(dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str) -> None:
    await send(client, sandbox, ", ".join(f"u{i}@example.com" for i in range(55)), "Bulk")
    await captured(client, 55)
    first = (await dashboard.client.get("/inbox")).text
    assert rows_of(first) == 50
    assert "page 1 of 2" in first
    assert 'href="/inbox?page=2" rel="next"' in first
    second = (await dashboard.client.get("/inbox", params={"page": "2"})).text
    assert rows_of(second) == 5
    assert 'rel="next"' not in second
    assert 'href="/inbox?page=1" rel="prev"' in second
    ids = set(re.findall(r'<a href="/inbox/([^"/]+)">', first + second))
    assert len(ids) == 55


async def test_one_message_in_every_form_and_html_only_in_a_sandbox(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    response = await client.post(
        f"/v3/{sandbox}/messages",
        data={
            "from": f"App <app@{sandbox}>",
            "to": "carol@example.com",
            "subject": "Hostile",
            "text": "Plain fallback",
            "html": HOSTILE,
        },
        files=[("attachment", ("notes.txt", b"attached words", "text/plain"))],
    )
    assert response.status_code == 200
    [item] = await captured(client, 1)
    base = f"/inbox/{item['id']}"

    page = await dashboard.client.get(base)
    assert page.status_code == 200
    text = page.text
    assert "Hostile" in text
    assert "carol@example.com" in text
    assert "Plain fallback" in text
    assert "<th>Subject</th><td>Hostile</td>" in text  # the headers table
    assert "MIME-Version" in text  # the raw source
    assert f'<a href="{base}/attachments/0" download>notes.txt</a>' in text
    assert f'<iframe class="preview" sandbox src="{base}/preview"' in text
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert "default-src 'self'" in page.headers["content-security-policy"]

    preview = await dashboard.client.get(f"{base}/preview")
    assert preview.status_code == 200
    assert '<p id="x">' in preview.text
    csp = preview.headers["content-security-policy"]
    assert csp.split(";")[0] == "sandbox"
    assert "default-src 'none'" in csp
    assert "img-src data: cid:" in csp
    assert preview.headers["x-content-type-options"] == "nosniff"

    raw = await dashboard.client.get(f"{base}/raw")
    assert raw.headers["content-disposition"].startswith("attachment;")
    assert b"Subject: Hostile" in raw.content
    file = await dashboard.client.get(f"{base}/attachments/0")
    assert file.content == b"attached words"
    assert file.headers["content-disposition"] == "attachment; filename*=UTF-8''notes.txt"
    assert (await dashboard.client.get(f"{base}/attachments/1")).status_code == 404
    assert (await dashboard.client.get(f"{base}/attachments/x")).status_code == 404


async def test_unknown_item_is_a_404(dashboard: Dashboard) -> None:
    for path in ("/inbox/nope", "/inbox/nope/preview", "/inbox/nope/raw"):
        response = await dashboard.client.get(path)
        assert response.status_code == 404, path
    assert (await dashboard.post("/inbox/nope/delete")).status_code == 404


async def test_deletes_need_the_csrf_token(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    await send(client, sandbox, "a@example.com, b@example.com, c@example.com", "Three")
    items = await captured(client, 3)
    one = items[0]["id"]

    forged = await dashboard.client.post(f"/inbox/{one}/delete", data={})
    assert forged.status_code == 403
    wrong = await dashboard.client.post(f"/inbox/{one}/delete", data={"csrf_token": "x" * 30})
    assert wrong.status_code == 403
    assert rows_of((await dashboard.client.get("/inbox")).text) == 3

    deleted = await dashboard.post(f"/inbox/{one}/delete")
    assert deleted.status_code == 303
    assert deleted.headers["location"] == "/inbox"
    page = (await dashboard.client.get("/inbox")).text
    assert rows_of(page) == 2
    assert f"/inbox/{one}" not in page

    assert (await dashboard.client.post("/inbox/clear", data={})).status_code == 403
    assert rows_of((await dashboard.client.get("/inbox")).text) == 2
    cleared = await dashboard.post("/inbox/clear")
    assert cleared.status_code == 303
    assert rows_of((await dashboard.client.get("/inbox")).text) == 0
    assert (await client.get("/mailwright/v1/inbox/messages")).json()["total_count"] == 0


async def test_inbox_pages_need_a_session(browser: httpx.AsyncClient) -> None:
    for path in ("/inbox", "/inbox/abc", "/inbox/abc/preview", "/inbox/abc/raw"):
        response = await browser.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")
    assert (await browser.post("/inbox/clear")).status_code == 303
