"""`XClient`'s read-back of a DM whose answer was lost: only the brand's own DM confirms it."""

from __future__ import annotations

import httpx
import pytest

from sav_bridge.channels.x.client import XClient
from sav_bridge.channels.x.readback import match_digest

pytestmark = pytest.mark.asyncio

BRAND, CUSTOMER = "1500000000000000001", "2100000000000000002"
TEXT = "Nous regardons votre virement. ^AJ"


async def read_back(event: dict[str, str]) -> str | None:
    def answer(request: httpx.Request) -> httpx.Response:
        data = {"id": "1860000000000000009", "event_type": "MessageCreate", "text": TEXT, **event}
        return httpx.Response(200, json={"data": [data], "meta": {"result_count": 1}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        x = XClient(http, "https://api.x.com", httpx.Auth(), BRAND)
        return await x.find_dm(CUSTOMER, match_digest(TEXT), since=0.0)


async def test_a_dm_the_brand_sent_confirms_the_write() -> None:
    assert await read_back({"sender_id": BRAND}) == "1860000000000000009"


@pytest.mark.parametrize("event", [{}, {"sender_id": CUSTOMER}, {"sender_id": ""}])
async def test_the_same_text_from_the_customer_or_from_nobody_known_confirms_nothing(
    event: dict[str, str],
) -> None:
    assert await read_back(event) is None
