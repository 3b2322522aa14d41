"""Tracking end to end through the ASGI app, on SQLite and PostgreSQL: send with tracking on,
read the captured MIME, fetch the pixel and a link, unsubscribe, and look at the events."""

from __future__ import annotations

import email
import email.policy
import re
import secrets
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from mailwright.app import Runtime, build_runtime, first_start
from mailwright.config import Settings
from mailwright.domains import get_domain
from mailwright.messages import load, tracking_for
from mailwright.store import Store
from tests.conftest import API_KEY
from tests.support.postgres import create_database, drop_database, url_of
from tests.support.wait import wait_until

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:102.0) Gecko/20100101 Thunderbird/102.0"
HTML = (
    "<html><body><p>Hello <a href='https://example.org/offer?a=1&amp;b=2'>the offer</a>, "
    '<a href="mailto:help@example.org">help</a>, <a href="#top">top</a>.</p></body></html>'
)
TEXT = "Hello https://example.org/offer"


async def delivered_to(client: httpx.AsyncClient, recipient: str, count: int = 1) -> list:
    async def probe() -> list | None:
        response = await client.get(
            "/mailwright/v1/inbox/messages", params={"recipient": recipient}
        )
        items = response.json()["items"]
        return items if len(items) >= count else None

    return await wait_until(probe)


async def raw_message(client: httpx.AsyncClient, item: dict) -> EmailMessage:
    response = await client.get(f"/mailwright/v1/inbox/messages/{item['id']}/raw")
    message = email.message_from_bytes(response.content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def part(message: EmailMessage, subtype: str) -> str:
    found = message.get_body(preferencelist=(subtype,))
    assert found is not None
    assert found.get_content_type() == f"text/{subtype}"
    content: str = found.get_content()
    return content


def paths(html: str, kind: str) -> list[str]:
    """Tracking URLs of one kind, as paths on the test server."""
    return [
        urlsplit(url).path for url in re.findall(rf"[\"'](http://testserver/{kind}/[^\"']+)", html)
    ]


async def events(client: httpx.AsyncClient, domain: str, kind: str, count: int = 1) -> list:
    async def probe() -> list | None:
        response = await client.get(
            f"/v3/{domain}/events", params={"event": kind, "ascending": "yes"}
        )
        items = response.json()["items"]
        return items if len(items) >= count else None

    return await wait_until(probe)


async def send(client: httpx.AsyncClient, domain: str, to: str, **fields: str) -> str:
    data = {"from": f"News <news@{domain}>", "to": to, "subject": "Hi"} | fields
    response = await client.post(f"/v3/{domain}/messages", data=data)
    assert response.status_code == 200, response.text
    message_id: str = response.json()["id"]
    return message_id


async def put(client: httpx.AsyncClient, domain: str, kind: str, **form: str) -> dict:
    response = await client.put(f"/v3/domains/{domain}/tracking/{kind}", data=form)
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


# --- settings ------------------------------------------------------------------------------


async def test_tracking_settings_default_off_and_change(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    response = await client.get(f"/v3/domains/{sandbox}/tracking")
    assert response.status_code == 200
    tracking = response.json()["tracking"]
    assert tracking["open"] == {"active": False, "place_at_the_top": False}
    assert tracking["click"] == {"active": False}
    assert tracking["unsubscribe"]["active"] is False
    assert "%unsubscribe_url%" in tracking["unsubscribe"]["html_footer"]
    assert "%unsubscribe_url%" in tracking["unsubscribe"]["text_footer"]

    body = await put(client, sandbox, "open", active="yes")
    assert body == {
        "message": "Domain tracking settings have been updated",
        "open": {"active": True, "place_at_the_top": False},
    }
    assert (await put(client, sandbox, "click", active="htmlonly"))["click"] == {
        "active": "htmlonly"
    }
    unsubscribe = await put(
        client, sandbox, "unsubscribe", active="true", html_footer="<p>%unsubscribe_url%</p>"
    )
    assert unsubscribe["unsubscribe"]["active"] is True
    assert unsubscribe["unsubscribe"]["html_footer"] == "<p>%unsubscribe_url%</p>"

    tracking = (await client.get(f"/v3/domains/{sandbox}/tracking")).json()["tracking"]
    assert tracking["open"]["active"] is True
    assert tracking["click"]["active"] == "htmlonly"
    assert tracking["unsubscribe"]["html_footer"] == "<p>%unsubscribe_url%</p>"
    assert (await put(client, sandbox, "click", active="no"))["click"] == {"active": False}


@pytest.mark.parametrize(
    ("kind", "form", "field"),
    [
        ("open", {"active": "maybe"}, "active"),
        ("click", {"active": "sometimes"}, "active"),
        ("unsubscribe", {"active": "htmlonly"}, "active"),
        ("open", {"place_at_the_top": "up"}, "place_at_the_top"),
    ],
)
async def test_bad_tracking_settings_are_400(
    client: httpx.AsyncClient, sandbox: str, kind: str, form: dict, field: str
) -> None:
    response = await client.put(f"/v3/domains/{sandbox}/tracking/{kind}", data=form)
    assert response.status_code == 400
    assert field in response.json()["message"]


async def test_tracking_settings_of_unknown_domain_are_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v3/domains/nope.example.com/tracking")
    assert response.status_code == 404
    response = await client.put(
        "/v3/domains/nope.example.com/tracking/open", data={"active": "yes"}
    )
    assert response.status_code == 404


async def test_tracking_settings_need_a_key(client: httpx.AsyncClient, sandbox: str) -> None:
    response = await client.get(f"/v3/domains/{sandbox}/tracking", auth=None)
    assert response.status_code == 401


# --- opens and clicks ----------------------------------------------------------------------


async def test_open_and_click_are_recorded_with_client_info(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    await put(client, sandbox, "open", active="yes")
    await put(client, sandbox, "click", active="yes")
    message_id = await send(
        client, sandbox, "Ann <ann@example.com>", html=HTML, text=TEXT, **{"o:tag": "promo"}
    )
    [item] = await delivered_to(client, "ann@example.com")
    message = await raw_message(client, item)
    html = part(message, "html")
    assert part(message, "plain").strip() == TEXT  # the text part is left as written
    assert 'href="mailto:help@example.org"' in html
    assert 'href="#top"' in html
    assert "example.org/offer" not in html
    [pixel] = paths(html, "o")
    [link] = paths(html, "c")
    assert "List-Unsubscribe" not in message  # unsubscribe tracking is off

    response = await client.get(pixel, auth=None, headers={"User-Agent": IPHONE})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    assert "no-store" in response.headers["cache-control"]

    response = await client.get(link, auth=None, headers={"User-Agent": THUNDERBIRD})
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.org/offer?a=1&b=2"

    [opened] = await events(client, sandbox, "opened")
    assert opened["recipient"] == "ann@example.com"
    assert opened["message"]["headers"]["message-id"] == message_id[1:-1]
    assert opened["tags"] == ["promo"]
    assert opened["client-info"] == {
        "client-name": "Mobile Safari",
        "client-os": "iOS",
        "client-type": "mobile browser",
        "device-type": "mobile",
        "user-agent": IPHONE,
    }
    assert opened["geolocation"] == {"country": "Unknown", "region": "Unknown", "city": "Unknown"}
    assert opened["ip"]
    [clicked] = await events(client, sandbox, "clicked")
    assert clicked["url"] == "https://example.org/offer?a=1&b=2"
    assert clicked["client-info"]["client-type"] == "email client"
    assert clicked["recipient"] == "ann@example.com"


async def test_each_recipient_gets_own_links(client: httpx.AsyncClient, sandbox: str) -> None:
    await put(client, sandbox, "click", active="yes")
    await send(client, sandbox, "a@example.com, b@example.com", html=HTML)
    links = {}
    for rcpt in ("a@example.com", "b@example.com"):
        [item] = await delivered_to(client, rcpt)
        [links[rcpt]] = paths(part(await raw_message(client, item), "html"), "c")
    assert links["a@example.com"] != links["b@example.com"]
    await client.get(links["b@example.com"], auth=None)
    [clicked] = await events(client, sandbox, "clicked")
    assert clicked["recipient"] == "b@example.com"


@pytest.mark.parametrize(
    ("domain_on", "options", "pixel", "links"),
    [
        (False, {"o:tracking": "yes"}, True, True),
        (False, {"o:tracking-opens": "yes"}, True, False),
        (False, {"o:tracking-clicks": "htmlonly"}, False, True),
        (True, {"o:tracking": "no"}, False, False),
        (True, {"o:tracking-opens": "no"}, False, True),
        (True, {}, True, True),
    ],
)
async def test_message_options_override_the_domain(
    client: httpx.AsyncClient,
    sandbox: str,
    domain_on: bool,
    options: dict,
    pixel: bool,
    links: bool,
) -> None:
    active = "yes" if domain_on else "no"
    await put(client, sandbox, "open", active=active)
    await put(client, sandbox, "click", active=active)
    await send(client, sandbox, "ann@example.com", html=HTML, **options)
    [item] = await delivered_to(client, "ann@example.com")
    html = part(await raw_message(client, item), "html")
    assert bool(paths(html, "o")) is pixel
    assert bool(paths(html, "c")) is links


async def test_forged_and_wrong_tokens_are_404(client: httpx.AsyncClient, sandbox: str) -> None:
    await put(client, sandbox, "open", active="yes")
    await put(client, sandbox, "click", active="yes")
    await send(client, sandbox, "ann@example.com", html=HTML)
    [item] = await delivered_to(client, "ann@example.com")
    html = part(await raw_message(client, item), "html")
    [pixel] = paths(html, "o")
    [link] = paths(html, "c")
    token = link.rsplit("/", 1)[1]
    forged = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    for path in (
        f"/c/{forged}",
        "/c/not-a-token",
        "/c/" + "A" * 80,
        "/o/" + pixel.rsplit("/", 1)[1][:-2],
        "/c/" + pixel.rsplit("/", 1)[1],  # an open token is no click token
        "/u/" + token,  # nor is a click token an unsubscribe token
    ):
        response = await client.get(path, auth=None)
        assert response.status_code == 404, path
        assert response.json() == {"message": "Not found"}
    assert (await client.post("/u/" + token, auth=None)).status_code == 404
    response = await client.get(f"/v3/{sandbox}/events", params={"event": "clicked"})
    assert response.json()["items"] == []


async def test_a_redirect_goes_only_where_it_was_signed(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    """Re-encoding a token's payload with another URL breaks the MAC."""
    import base64

    await put(client, sandbox, "click", active="yes")
    await send(client, sandbox, "ann@example.com", html=HTML)
    [item] = await delivered_to(client, "ann@example.com")
    [link] = paths(part(await raw_message(client, item), "html"), "c")
    token = link.rsplit("/", 1)[1]
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    evil = raw.replace(b"https://example.org/offer?a=1&b=2", b"https://evil.example/x")
    assert evil != raw
    forged = base64.urlsafe_b64encode(evil).rstrip(b"=").decode()
    assert (await client.get(f"/c/{forged}", auth=None)).status_code == 404
    response = await client.get(link, auth=None)
    assert response.headers["location"] == "https://example.org/offer?a=1&b=2"


# --- unsubscribes --------------------------------------------------------------------------


async def test_unsubscribe_page_one_click_and_suppression(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    await put(client, sandbox, "unsubscribe", active="yes")
    await send(
        client,
        sandbox,
        "ann@example.com",
        html="<html><body><p>News <a href='%unsubscribe_url%'>leave</a></p></body></html>",
        text="News. Leave: %unsubscribe_url%",
    )
    [item] = await delivered_to(client, "ann@example.com")
    message = await raw_message(client, item)
    header = message["List-Unsubscribe"]
    assert re.fullmatch(r"<http://testserver/u/[A-Za-z0-9_-]+>", header)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = part(message, "html")
    text = part(message, "plain")
    assert "%unsubscribe_url%" not in html + text
    unsubscribe = urlsplit(header[1:-1]).path
    assert paths(html, "u") == [unsubscribe, unsubscribe]  # the link and the domain's footer
    assert f"http://testserver{unsubscribe}" in text
    assert "To unsubscribe click:" in text  # Mailgun's default text footer

    page = await client.get(unsubscribe, auth=None)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "ann@example.com" in page.text
    assert (await client.get(f"/v3/{sandbox}/unsubscribes/ann@example.com")).status_code == 404

    # RFC 8058: the mail client POSTs List-Unsubscribe=One-Click to the header's URL.
    response = await client.post(unsubscribe, auth=None, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "has been unsubscribed" in response.text
    [unsubscribed] = await events(client, sandbox, "unsubscribed")
    assert unsubscribed["recipient"] == "ann@example.com"
    assert unsubscribed["client-info"]["user-agent"]
    entry = (await client.get(f"/v3/{sandbox}/unsubscribes/ann@example.com")).json()
    assert entry["tags"] == ["*"]

    await send(client, sandbox, "ann@example.com", text="Are you still there?")
    [failed] = await events(client, sandbox, "failed")
    assert failed["reason"] == "suppress-unsubscribe"
    assert failed["recipient"] == "ann@example.com"


async def test_tag_unsubscribe_suppresses_only_that_tag(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    await send(
        client,
        sandbox,
        "bob@example.com",
        text="Weekly. Stop these: %tag_unsubscribe_url%",
        **{"o:tag": "weekly"},
    )
    [item] = await delivered_to(client, "bob@example.com")
    message = await raw_message(client, item)
    assert "List-Unsubscribe" not in message  # the domain's unsubscribe tracking is off
    [url] = re.findall(r"http://testserver/u/[A-Za-z0-9_-]+", part(message, "plain"))
    assert (await client.post(urlsplit(url).path, auth=None)).status_code == 200
    entry = (await client.get(f"/v3/{sandbox}/unsubscribes/bob@example.com")).json()
    assert entry["tags"] == ["weekly"]

    await send(client, sandbox, "bob@example.com", text="more weekly", **{"o:tag": "weekly"})
    await send(client, sandbox, "bob@example.com", text="an invoice", **{"o:tag": "billing"})
    [failed] = await events(client, sandbox, "failed")
    assert failed["reason"] == "suppress-unsubscribe"
    assert failed["tags"] == ["weekly"]
    delivered = await events(client, sandbox, "delivered", 2)
    assert [d["tags"] for d in delivered] == [["weekly"], ["billing"]]


async def test_mime_send_gets_list_unsubscribe_headers(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    await put(client, sandbox, "unsubscribe", active="yes")
    mime = f"From: news@{sandbox}\r\nTo: cy@example.com\r\nSubject: s\r\n\r\nbody\r\n"
    response = await client.post(
        f"/v3/{sandbox}/messages.mime",
        data={"to": "cy@example.com"},
        files={"message": ("message.mime", mime.encode(), "message/rfc822")},
    )
    assert response.status_code == 200, response.text
    [item] = await delivered_to(client, "cy@example.com")
    message = await raw_message(client, item)
    assert message["List-Unsubscribe"].startswith("<http://testserver/u/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_a_retry_renders_the_same_bytes(
    client: httpx.AsyncClient, sandbox: str, store: Store, runtime: Runtime
) -> None:
    """Tokens carry no time or randomness: the stored message re-renders byte for byte."""
    await put(client, sandbox, "click", active="yes")
    await put(client, sandbox, "open", active="yes")
    await send(client, sandbox, "ann@example.com", html=HTML, text=TEXT)
    [item] = await delivered_to(client, "ann@example.com")
    delivered = (await client.get(f"/mailwright/v1/inbox/messages/{item['id']}/raw")).content
    stored = await load(store, item["storage-key"])
    tracking = tracking_for(
        stored,
        await get_domain(store, sandbox),
        key=await runtime.services.tracking_key.get(),
        base_url="http://testserver",
    )
    assert stored.render_for("ann@example.com", 0, tracking) == delivered


# --- a failing event store -----------------------------------------------------------------


@pytest.fixture
async def throwaway(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """A server on a database of its own, which the test may damage."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'throwaway.db'}"
        name = None
    else:
        name = f"mailwright_throwaway_{secrets.token_hex(4)}"
        await create_database(name)
        url = url_of(name)
    settings = Settings.from_env(
        environ={
            "MAILWRIGHT_DATA_DIR": str(tmp_path),
            "MAILWRIGHT_DATABASE_URL": url,
            "MAILWRIGHT_API_KEY": API_KEY,
            "MAILWRIGHT_PUBLIC_URL": "http://testserver",
        }
    )
    store = Store.from_url(url)
    await store.migrate()
    runtime = build_runtime(settings, frozenset({"api", "worker"}), store=store)
    await first_start(settings, store)
    await runtime.start()
    transport = httpx.ASGITransport(app=runtime.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", auth=("api", API_KEY)
    ) as client:
        yield runtime, client
    await runtime.stop()
    if name is not None:
        await drop_database(name)


async def test_failed_event_write_still_serves_pixel_and_redirect(
    throwaway: tuple[Runtime, httpx.AsyncClient], capsys: pytest.CaptureFixture[str]
) -> None:
    runtime, client = throwaway
    domain = (await client.get("/v4/domains")).json()["items"][0]["name"]
    await put(client, domain, "open", active="yes")
    await put(client, domain, "click", active="yes")
    await put(client, domain, "unsubscribe", active="yes")
    await send(client, domain, "ann@example.com", html=HTML)
    [item] = await delivered_to(client, "ann@example.com")
    message = await raw_message(client, item)
    html = part(message, "html")
    [pixel] = paths(html, "o")
    [link] = paths(html, "c")
    unsubscribe = urlsplit(message["List-Unsubscribe"][1:-1]).path
    await events(client, domain, "delivered")

    async with runtime.store.engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE events")
    capsys.readouterr()

    response = await client.get(link, auth=None)
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.org/offer?a=1&b=2"
    response = await client.get(pixel, auth=None)
    assert response.status_code == 200
    assert response.content.startswith(b"GIF89a")
    assert capsys.readouterr().out.count("tracking_event_failed") == 2

    # An unsubscribe that could not be recorded says so, and adds nothing: one transaction.
    response = await client.post(unsubscribe, auth=None)
    assert response.status_code == 503
    assert "could not unsubscribe" in response.text
    entry = await client.get(f"/v3/{domain}/unsubscribes/ann@example.com")
    assert entry.status_code == 404
