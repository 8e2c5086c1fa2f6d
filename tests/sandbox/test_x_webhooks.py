"""The X fake's webhooks: registration runs the CRC against the gateway itself, as X does, and refuses
with X's documented failure reasons."""

from __future__ import annotations

import httpx

from tests.harness import ACCESS_TOKEN, BEARER_TOKEN, Gateway

APP = {"Authorization": f"Bearer {BEARER_TOKEN}"}


def x_client(gw: Gateway) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=gw.sandbox.transport(), base_url="https://api.x.com", headers=APP)


async def test_registration_checks_the_gateways_crc_answer(sqlite_gateway: Gateway) -> None:
    async with x_client(sqlite_gateway) as x:
        created = await x.post("/2/webhooks", json={"url": "https://sav.example.com/webhooks/x"})
        listed = await x.get("/2/webhooks")
    assert created.status_code == 200 and created.json()["data"]["valid"] is True
    assert listed.json() == {"data": [created.json()["data"]], "meta": {"result_count": 1}}
    assert sqlite_gateway.x.crc_checks == [(created.json()["data"]["id"], True)]


async def test_a_gateway_with_another_secret_fails_the_crc_and_nothing_is_registered(
    sqlite_gateway: Gateway,
) -> None:
    sqlite_gateway.x.consumer_secret = "not-the-gateways-secret"
    async with x_client(sqlite_gateway) as x:
        created = await x.post("/2/webhooks", json={"url": "https://sav.example.com/webhooks/x"})
        listed = await x.get("/2/webhooks")
    assert created.status_code == 400 and "CrcValidationFailed" in created.json()["detail"]
    assert listed.json()["data"] == []


async def test_xs_documented_refusals(sqlite_gateway: Gateway) -> None:
    async with x_client(sqlite_gateway) as x:
        port = await x.post("/2/webhooks", json={"url": "https://sav.example.com:8443/webhooks/x"})
        first = await x.post("/2/webhooks", json={"url": "https://sav.example.com/webhooks/x"})
        again = await x.post("/2/webhooks", json={"url": "https://sav.example.com/webhooks/x"})
        second = await x.post("/2/webhooks", json={"url": "https://other.example.com/webhooks/x"})
        gone = await x.put("/2/webhooks/123")
        as_user = await x.get("/2/webhooks", headers={"Authorization": f"Bearer {ACCESS_TOKEN}"})
    assert "UrlValidationFailed" in port.json()["detail"]
    assert first.status_code == 200
    assert "DuplicateUrlFailed" in again.json()["detail"]
    assert "WebhookLimitExceeded" in second.json()["detail"]  # one webhook per app on pay-per-use
    assert gone.status_code == 404 and "WebhookIdInvalid" in gone.json()["detail"]
    assert as_user.status_code == 401  # webhook management is app-only
    assert sqlite_gateway.sandbox.violations == []


async def test_put_runs_the_crc_again_and_re_enables(sqlite_gateway: Gateway) -> None:
    async with x_client(sqlite_gateway) as x:
        hook = (await x.post("/2/webhooks", json={"url": "https://sav.example.com/webhooks/x"})).json()[
            "data"
        ]
        sqlite_gateway.x.invalidate(hook["id"])
        assert (await x.get("/2/webhooks")).json()["data"][0]["valid"] is False
        revalidated = await x.put(f"/2/webhooks/{hook['id']}")
        assert (await x.get("/2/webhooks")).json()["data"][0]["valid"] is True
    assert revalidated.json() == {"data": {"valid": True}}
    assert len(sqlite_gateway.x.crc_checks) == 2
