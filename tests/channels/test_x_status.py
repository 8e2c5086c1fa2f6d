"""`sav-bridge x status`: what X says of the webhook and subscriptions, the last event, the token, this
month's spend and the alerts, as text and as JSON."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from sav_bridge.channels.x import access
from sav_bridge.channels.x.provision import run_provision
from sav_bridge.channels.x.status import run_status
from sav_bridge.sandbox import Fault
from tests.harness import ACCOUNT_ID, CLAIRE, Gateway


async def a_month_of_work(gw: Gateway) -> str:
    """Provisioned, a customer's mention received, three billed replies, and X refusing our token."""
    await run_provision(gw.settings, "https://sav.example.com", False, io.StringIO(), gw.sandbox.transport())
    await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque my card is blocked"))
    for _ in range(3):
        await gw.runtime.store.usage.add("write_reply", 1, 1, 10_000)
    await gw.runtime.store.state.put(access.PAUSE_NAME, {"since": gw.clock(), "reason": "X answered 401"})
    return next(iter(gw.x.webhooks))


async def status(gw: Gateway, as_json: bool) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_status(gw.settings, as_json, out, gw.sandbox.transport())
    return code, out.getvalue()


async def test_status_text_says_what_an_admin_needs(sqlite_gateway: Gateway) -> None:
    gw = sqlite_gateway
    hook = await a_month_of_work(gw)
    code, text = await status(gw, as_json=False)
    day = datetime.fromtimestamp(gw.clock(), UTC).strftime("%Y-%m-%d")
    lines = text.splitlines()
    assert code == 0
    assert lines[0] == f"webhook: {hook} https://sav.example.com/webhooks/x valid"
    assert lines[1] == f"subscriptions (X Activity API, user {ACCOUNT_ID}): post.mention.create, dm.received"
    assert lines[2].startswith(f"last event received: {day}T")
    assert lines[3].startswith(f"last CRC check answered: {day}T")  # X's CRC at registration reached us
    assert lines[4] == "token: oauth1, static credentials (they do not expire)"
    assert lines[5] == f"spend this month ({day[:7]}): 3 billed requests, $0.03"
    assert lines[6:] == [
        "alerts: 1",
        "  ALERT token_refused: X refuses the brand's credentials (X answered 401); replies wait: fix "
        "x.auth's keys or run `sav-bridge x connect`",
    ]


async def test_status_json_for_scripts(sqlite_gateway: Gateway) -> None:
    gw = sqlite_gateway
    hook = await a_month_of_work(gw)
    code, text = await status(gw, as_json=True)
    doc = json.loads(text)
    assert code == 0
    assert doc["webhook"] == {"id": hook, "url": "https://sav.example.com/webhooks/x", "valid": True}
    assert doc["subscriptions"] == ["post.mention.create", "dm.received"]
    assert doc["last_event_at"].endswith("Z") and doc["x_error"] is None
    assert doc["token"]["auth"] == "oauth1" and doc["token"]["expires_at"] is None
    assert doc["month"]["requests"] == 3 and doc["month"]["spend"] == 0.03
    assert [a["name"] for a in doc["alerts"]] == ["token_refused"]


async def test_an_invalid_webhook_shows_and_becomes_an_alert(sqlite_gateway: Gateway) -> None:
    gw = sqlite_gateway
    hook = await a_month_of_work(gw)
    gw.x.invalidate(hook)
    code, text = await status(gw, as_json=False)
    assert code == 0
    assert f"webhook: {hook} https://sav.example.com/webhooks/x INVALID" in text
    assert "  ALERT webhook_invalid: X marks webhook" in text
    await gw.runtime.health.check()  # what status learnt from X is the gateway's alert too
    assert [a["name"] for a in (await gw.client.get("/readyz")).json()["alerts"]] == [
        "webhook_invalid",
        "token_refused",
    ]


async def test_x_unreachable_still_shows_the_stores_part_and_exits_3(sqlite_gateway: Gateway) -> None:
    gw = sqlite_gateway
    await a_month_of_work(gw)
    gw.x.faults.add(Fault("GET", "/2/webhooks", 503, times=3))
    code, text = await status(gw, as_json=False)
    assert code == 3
    assert text.splitlines()[0].startswith("webhook: unknown (X: not answering normally (HTTP 503")
    assert "3 billed requests" in text and "ALERT token_refused" in text
