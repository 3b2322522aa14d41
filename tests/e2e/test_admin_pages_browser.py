"""The admin pages in headless Chromium against ``mailwright serve``: a domain verified live
against the loopback DNS server, a template preview in its sandboxed frame (the page's CSP lets
it render, its script does not run), and an API key created, used and deleted through the
confirm dialog. Screenshots go to ``test-artifacts/dashboard/``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import Server
from tests.e2e.test_dashboard_browser import create_user, sign_in
from tests.support.browser import ARTIFACTS, launch_chromium, shot
from tests.support.dns import LoopbackDNS

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    yield from launch_chromium()


@pytest.fixture
def tab(chromium: Browser, sqlite_server: Server) -> Iterator[Page]:
    context = chromium.new_context(base_url=sqlite_server.base_url)
    opened = context.new_page()
    sign_in(opened, "ada", create_user(sqlite_server, "ada"))
    yield opened
    context.close()


def publish(dns: LoopbackDNS, server: Server, name: str) -> None:
    with server.http() as http:
        found = http.get(f"/v4/domains/{name}").json()
    for record in found["sending_dns_records"] + found["receiving_dns_records"]:
        kind, host, value = record["record_type"], record["name"], record["value"]
        if kind == "TXT":
            dns.add(f'{host}. 300 IN TXT "{value}"')
        elif kind == "MX":
            dns.add(f"{host}. 300 IN MX {record['priority']} {value}.")
        else:
            dns.add(f"{host}. 300 IN CNAME {value}.")


def test_add_and_verify_a_domain(tab: Page, sqlite_server: Server, dns: LoopbackDNS) -> None:
    tab.goto("/domains")
    tab.get_by_label("Name").fill("browser.example")
    tab.get_by_label("DKIM key size").select_option("1024")
    tab.get_by_role("button", name="Add domain").click()
    expect(tab).to_have_url(re.compile(r"/domains/browser\.example$"))
    records = tab.locator("tr[data-record]")
    expect(records).to_have_count(4)

    tab.get_by_role("button", name="Verify now").click()
    expect(tab.locator('tr[data-valid="invalid"]')).to_have_count(4)
    publish(dns, sqlite_server, "browser.example")
    tab.get_by_role("button", name="Verify now").click()
    expect(tab.locator('tr[data-valid="valid"]')).to_have_count(4)
    expect(tab.locator("[data-state]")).to_have_text("active")
    shot(tab, "10-domain-verified")


def test_template_preview_renders_in_a_sandboxed_frame(tab: Page, sqlite_server: Server) -> None:
    tab.goto(f"/templates?domain={sqlite_server.sandbox}")
    tab.get_by_label("Name").fill("welcome")
    tab.get_by_label("Template (Handlebars; optional)").fill("<h1>Hi {{name}}</h1>")
    tab.get_by_role("button", name="Create template").click()
    expect(tab).to_have_url(re.compile(r"/templates/[^/]+/welcome$"))

    preview = tab.locator('form[action$="/preview"]')
    preview.locator('textarea[name="template"]').fill(
        '<h1 id="t">Hi {{name}}</h1>'
        "<script>document.getElementById('t').textContent = 'script ran'</script>"
    )
    preview.locator('textarea[name="variables"]').fill('{"name": "Ada"}')
    preview.get_by_role("button", name="Preview").click()
    frame = tab.frame_locator("iframe.preview")
    expect(frame.locator("h1")).to_have_text("Hi Ada")
    expect(tab.locator("iframe.preview")).to_have_attribute("sandbox", "")
    # a full-page screenshot leaves the sandboxed (out-of-process) frame blank: take the frame
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.locator("iframe.preview").screenshot(path=str(ARTIFACTS / "11-template-preview.png"))

    preview = tab.locator('form[action$="/preview"]')
    preview.locator('textarea[name="variables"]').fill("{broken")
    preview.get_by_role("button", name="Preview").click()
    expect(tab.get_by_role("alert")).to_contain_text("'variables' is not valid JSON")


def test_create_use_and_delete_a_key(tab: Page, sqlite_server: Server) -> None:
    tab.goto("/keys")
    tab.get_by_label("Description").fill("browser key")
    tab.get_by_role("button", name="Create key").click()
    secret = tab.locator("pre[data-secret]").inner_text().strip()
    with sqlite_server.http(secret) as http:
        assert http.get("/v4/domains").status_code == 200
    shot(tab, "12-key-created")

    tab.goto("/keys")
    assert secret not in tab.content()
    row = tab.locator("tr[data-key]", has_text="browser key")
    tab.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete").click()
    expect(tab.locator("tr[data-key]", has_text="browser key")).to_have_count(0)
    with sqlite_server.http(secret) as http:
        assert http.get("/v4/domains").status_code == 401


def test_add_and_delete_a_webhook(tab: Page, sqlite_server: Server, dns: LoopbackDNS) -> None:
    dns.add("hooks.example.com. 300 IN A 93.184.215.14")  # public, never contacted here
    url = "https://hooks.example.com/mailgun"
    tab.goto(f"/webhooks?domain={sqlite_server.sandbox}")
    row = tab.locator('tr[data-kind="delivered"]')
    row.get_by_label("delivered URL 1").fill(url)
    row.get_by_role("button", name="Add").click()
    expect(tab.locator('tr[data-kind="delivered"]').get_by_label("delivered URL 1")).to_have_value(
        url
    )
    with sqlite_server.http() as http:
        hooks = http.get(f"/v3/domains/{sqlite_server.sandbox}/webhooks").json()
    assert hooks == {"webhooks": {"delivered": {"urls": [url]}}}
    shot(tab, "13-webhooks")

    tab.once("dialog", lambda dialog: dialog.accept())
    tab.locator('tr[data-kind="delivered"]').get_by_role("button", name="Delete").click()
    expect(
        tab.locator('tr[data-kind="delivered"]').get_by_role("button", name="Add")
    ).to_be_visible()
    with sqlite_server.http() as http:
        hooks = http.get(f"/v3/domains/{sqlite_server.sandbox}/webhooks").json()
    assert hooks == {"webhooks": {}}
