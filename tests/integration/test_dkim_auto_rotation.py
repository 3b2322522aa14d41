"""Mailgun's automatic DKIM rotation (``/v1/dkim_management/domains/{name}/rotation`` and
``.../rotate``) on SQLite and PostgreSQL, and the worker's rotation round driven by its clock:
a new key signs only once its record is published in the loopback DNS, the replaced key
retires after its grace period, and domains with rotation off are left alone."""

from __future__ import annotations

import httpx
import pytest

from mailwright.app import Runtime
from mailwright.domains import RotationRound
from tests.integration.test_dkim_rotation import (
    DAY,
    KEYS,
    NAME,
    NOW,
    dns_server,  # noqa: F401  (fixture)
    publish,
    verify_all,
)
from tests.integration.test_domain_keys import signed_with
from tests.support.dns import LoopbackDNS

ROTATION = f"/v1/dkim_management/domains/{NAME}/rotation"
ROTATE_NOW = f"/v1/dkim_management/domains/{NAME}/rotate"
OTHER = "still.test"


async def create(client: httpx.AsyncClient, name: str = NAME) -> dict:
    """A domain whose first key is published; answers that key (our extension's shape)."""
    created = await client.post("/v4/domains", data={"name": name, "dkim_key_size": "1024"})
    assert created.status_code == 200, created.text
    listed = (await client.get(f"/mailwright/v1/domains/{name}/dkim/keys")).json()
    [first] = listed["items"]
    return dict(first)


async def listing(client: httpx.AsyncClient) -> dict:
    response = await client.get(KEYS)
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


async def round_at(runtime: Runtime, now: float) -> RotationRound:
    """One round of the worker's rotation task, its clock at ``now``."""
    runtime.services.clock = lambda: now
    assert runtime.dkim_rotator is not None
    return await runtime.dkim_rotator.run_once()


async def test_update_turns_rotation_on_and_off(
    client: httpx.AsyncClient,
    dns_server: LoopbackDNS,  # noqa: F811
) -> None:
    first = await create(client)
    assert (await listing(client))["rotation"] == {
        "enabled": False,
        "interval": "180d",
        "next_rotation_at": None,
    }

    on = await client.put(ROTATION, data={"rotation_enabled": "true", "rotation_interval": "7d"})
    assert on.status_code == 200, on.text
    domain = on.json()["domain"]
    assert domain["name"] == NAME
    assert (domain["state"], domain["active_selector"]) == ("enabled", first["selector"])
    assert (domain["rotation_enabled"], domain["rotation_interval"]) == ("true", "7d")
    assert {"id", "account_id", "sid"} <= set(domain)
    assert domain["records"] == [
        {
            "name": first["dns_record"]["name"],
            "type": "TXT",
            "identifier": "DKIM",
            "value": first["dns_record"]["value"],
            "comment": "DKIM key that signs now",
        }
    ]
    assert (await listing(client))["rotation"] == {
        "enabled": True,
        "interval": "7d",
        "next_rotation_at": "Thu, 04 Jun 2026 20:26:40 GMT",  # NOW + 7d
    }

    # Off keeps the interval; 120h is 5 days, shown as such.
    off = await client.put(ROTATION, data={"rotation_enabled": "false"})
    assert off.json()["domain"]["rotation_enabled"] == "false"
    assert (await listing(client))["rotation"]["interval"] == "7d"
    again = await client.put(
        ROTATION, data={"rotation_enabled": "yes", "rotation_interval": "120h"}
    )
    assert again.json()["domain"]["rotation_interval"] == "5d"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "rotation_enabled", "'rotation_enabled' parameter is missing"),
        ({"rotation_interval": "5d"}, "rotation_enabled", "parameter is missing"),
        ({"rotation_enabled": "maybe"}, "rotation_enabled", "must be true or false"),
        ({"rotation_enabled": "true", "rotation_interval": "4d"}, "rotation_interval", "5d"),
        ({"rotation_enabled": "true", "rotation_interval": "a week"}, "rotation_interval", "5d"),
    ],
)
async def test_update_rejects_bad_input(
    client: httpx.AsyncClient,
    dns_server: LoopbackDNS,  # noqa: F811
    data: dict,
    field: str,
    message: str,
) -> None:
    await create(client)
    response = await client.put(ROTATION, data=data)
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert message in response.json()["message"]
    assert (await listing(client))["rotation"]["enabled"] is False  # nothing stored


async def test_unknown_domain_and_key_rights(
    client: httpx.AsyncClient,
    dns_server: LoopbackDNS,  # noqa: F811
) -> None:
    await create(client)
    missing = "/v1/dkim_management/domains/none.test"
    assert (
        await client.put(missing + "/rotation", data={"rotation_enabled": "true"})
    ).status_code == 404
    assert (await client.post(missing + "/rotate")).status_code == 404
    assert (
        await client.put(ROTATION, data={"rotation_enabled": "true"}, auth=None)
    ).status_code == 401
    read_only = (await client.post("/v1/keys", data={"role": "basic"})).json()["key"]["secret"]
    refused = await client.put(ROTATION, data={"rotation_enabled": "true"}, auth=("api", read_only))
    assert refused.status_code == 403
    assert (await client.post(ROTATE_NOW, auth=("api", read_only))).status_code == 403
    assert (await client.get(KEYS, auth=("api", read_only))).status_code == 200
    sending = await client.post(
        "/v1/keys", data={"role": "sending", "kind": "domain", "domain_name": NAME}
    )
    secret = sending.json()["key"]["secret"]
    assert (await client.post(ROTATE_NOW, auth=("api", secret))).status_code == 403


async def test_rotate_now_signs_once_published(
    client: httpx.AsyncClient,
    runtime: Runtime,
    dns_server: LoopbackDNS,  # noqa: F811
) -> None:
    """Rotation stays off here: "rotate now" starts one anyway, and the worker finishes it."""
    first = await create(client)
    publish(dns_server, first["dns_record"])
    rotated = await client.post(ROTATE_NOW)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json() == {"message": "ok"}

    keys = (await client.get(f"/v4/domains/{NAME}/keys")).json()["items"]
    pending = next(k for k in keys if k["selector"] != first["selector"])
    assert (pending["selector"], pending["dns_record"]["is_active"]) == ("mw20260528", False)
    assert pending["dns_record"]["valid"] == "invalid"  # not published yet
    state = await client.put(ROTATION, data={"rotation_enabled": "false"})
    assert state.json()["domain"]["state"] == "wait_verify"
    assert [r["comment"] for r in state.json()["domain"]["records"]] == [
        "DKIM key that signs now",
        "New DKIM key: publish it; signing switches to it once it verifies",
    ]

    # Not published: the worker's rounds leave the first key signing.
    assert await round_at(runtime, NOW + 60) == RotationRound()
    signed, checks = await signed_with(runtime, dns_server)
    assert f"s={first['selector']};".encode() in signed
    assert checks == [(b"rsa-sha256", True)]

    publish(dns_server, pending["dns_record"])
    assert await round_at(runtime, NOW + 120) == RotationRound(activated=[NAME])
    signed, checks = await signed_with(runtime, dns_server)  # the cached domain was forgotten
    assert b"s=mw20260528;" in signed
    assert checks == [(b"rsa-sha256", True)]
    states = {k["selector"]: k["state"] for k in (await listing(client))["items"]}
    assert states == {first["selector"]: "retiring", "mw20260528": "active"}
    assert await round_at(runtime, NOW + 121) == RotationRound()  # nothing more to do


async def test_the_worker_rotates_keys_older_than_the_interval(
    client: httpx.AsyncClient,
    runtime: Runtime,
    dns_server: LoopbackDNS,  # noqa: F811
) -> None:
    first = await create(client)
    publish(dns_server, first["dns_record"])
    still = await create(client, OTHER)  # rotation off: never touched
    on = await client.put(ROTATION, data={"rotation_enabled": "true", "rotation_interval": "5d"})
    assert on.status_code == 200, on.text

    assert await round_at(runtime, NOW + 5 * DAY - 1) == RotationRound()
    started = await round_at(runtime, NOW + 5 * DAY)
    assert started == RotationRound(started=[NAME])
    body = await listing(client)
    assert body["rotation"]["next_rotation_at"] is None  # under way
    pending = next(k for k in body["items"] if k["state"] == "pending")
    assert pending["selector"] == "mw20260602"  # named after the day it was made
    assert pending["created_at"] == "Tue, 02 Jun 2026 20:26:40 GMT"

    # Its record is not published: no activation, and no second key however many rounds.
    for later in (NOW + 6 * DAY, NOW + 30 * DAY):
        assert await round_at(runtime, later) == RotationRound()
    assert [k["state"] for k in (await listing(client))["items"]] == ["active", "pending"]
    signed, checks = await signed_with(runtime, dns_server)
    assert f"s={first['selector']};".encode() in signed

    publish(dns_server, pending["dns_record"])
    activated_at = NOW + 31 * DAY
    assert await round_at(runtime, activated_at) == RotationRound(activated=[NAME])
    signed, checks = await signed_with(runtime, dns_server)
    assert b"s=mw20260602;" in signed
    assert checks == [(b"rsa-sha256", True)]
    listed = {k["selector"]: k for k in (await listing(client))["items"]}
    assert listed["mw20260602"]["state"] == "active"
    assert listed[first["selector"]]["state"] == "retiring"
    # The next rotation is due an interval after the new key's activation.
    assert (await listing(client))["rotation"]["next_rotation_at"] == (
        "Fri, 03 Jul 2026 20:26:40 GMT"  # NOW + 36d
    )

    # The replaced key retires after its grace period (7 days), in a round that by then
    # also starts the next rotation (5 days after the activation).
    assert await round_at(runtime, activated_at + 5 * DAY - 1) == RotationRound()
    assert await round_at(runtime, activated_at + 7 * DAY) == RotationRound(
        started=[NAME], retired=1
    )
    listed = {k["selector"]: k["state"] for k in (await listing(client))["items"]}
    assert listed == {
        first["selector"]: "retired",
        "mw20260602": "active",
        "mw20260705": "pending",
    }

    # The domain with rotation off still has its one, first key.
    other = (await client.get(f"/mailwright/v1/domains/{OTHER}/dkim/keys")).json()
    assert [(k["selector"], k["state"]) for k in other["items"]] == [(still["selector"], "active")]
    # And signatures made with the new key verify against the published record.
    assert verify_all(signed, dns_server) == [(b"rsa-sha256", True)]


async def test_turning_rotation_off_starts_no_more_rotations(
    client: httpx.AsyncClient,
    runtime: Runtime,
    dns_server: LoopbackDNS,  # noqa: F811
) -> None:
    await create(client)
    await client.put(ROTATION, data={"rotation_enabled": "true", "rotation_interval": "5d"})
    await client.put(ROTATION, data={"rotation_enabled": "false"})
    assert await round_at(runtime, NOW + 50 * DAY) == RotationRound()
    assert [k["state"] for k in (await listing(client))["items"]] == ["active"]
