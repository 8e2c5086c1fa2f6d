"""OAuth 1.0a (the default): every request the X fake receives is signed, and the fake checks for real."""

from __future__ import annotations

import httpx
import pytest

from sav_bridge.channels.x.auth import OAuth1
from sav_bridge.channels.x.client import XClient
from sav_bridge.sandbox import FakeX
from tests.channels.x_auth_helpers import reply_round
from tests.harness import (
    ACCESS_TOKEN,
    ACCESS_TOKEN_SECRET,
    ACCOUNT_ID,
    CLAIRE,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    Gateway,
)

API = "https://api.x.com"


def fake_x() -> FakeX:
    fake = FakeX(ACCOUNT_ID, "MaBanque", "")
    fake.use_oauth1(CONSUMER_KEY, CONSUMER_SECRET, ACCESS_TOKEN, ACCESS_TOKEN_SECRET)
    return fake


def signed(
    request: httpx.Request, secret: str = CONSUMER_SECRET, token_secret: str = ACCESS_TOKEN_SECRET
) -> httpx.Request:
    return OAuth1(CONSUMER_KEY, secret, ACCESS_TOKEN, token_secret, None).sign(request)


async def test_every_request_of_a_reply_round_carries_a_valid_signature(gateway: Gateway) -> None:
    ticket_id = await reply_round(gateway, 1)
    await gateway.drain()
    assert "réponse 1" in gateway.x.brand_posts[0].text
    assert gateway.zendesk.notes(ticket_id)[-1].startswith("✅ Posted on X")
    calls = [r for r in gateway.x.requests if r.url.host == "api.x.com"]
    assert calls and all(r.headers["authorization"].startswith("OAuth ") for r in calls)
    assert gateway.x.refused == []


async def test_query_parameters_and_json_bodies_are_signed_as_x_expects() -> None:
    fake = fake_x()
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake.handle)) as http:
        x = XClient(
            http,
            API,
            OAuth1(CONSUMER_KEY, CONSUMER_SECRET, ACCESS_TOKEN, ACCESS_TOKEN_SECRET, None),
            ACCOUNT_ID,
        )
        assert await x.verify_credentials() == (ACCOUNT_ID, "MaBanque")
        mention = fake.customer_post(CLAIRE, "@MaBanque bonjour")["tweet_create_events"][0]["id_str"]
        post_id = await x.post_reply("Bonjour, c'est noté !", mention)
        # a GET with `post.fields`, `start_time`… in its query: the signature covers them
        assert await x.find_reply("0", "no-such-digest", 0) is None
    assert post_id in fake.posts and fake.refused == []


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda r: signed(r, secret="not-the-consumer-secret"), id="wrong consumer secret"),
        pytest.param(lambda r: signed(r, token_secret="not-the-token-secret"), id="wrong token secret"),
        pytest.param(
            lambda r: httpx.Request(
                "GET", str(r.url).replace("max_results=5", "max_results=100"), headers=signed(r).headers
            ),
            id="query changed after signing",
        ),
        pytest.param(
            lambda r: httpx.Request(
                "POST",
                "https://api.x.com/2/tweets",
                headers=signed(httpx.Request("POST", "https://api.x.com/2/tweets", data={"a": "1"})).headers,
                content=b"a=2",
            ),
            id="form body changed after signing",
        ),
        pytest.param(
            lambda r: httpx.Request("GET", r.url, headers={"authorization": "Bearer " + ACCESS_TOKEN}),
            id="token as a bearer",
        ),
    ],
)
def test_a_forged_or_mis_signed_request_is_refused_in_x_shape(forge: object) -> None:
    fake = fake_x()
    request = httpx.Request("GET", f"{API}/2/users/{ACCOUNT_ID}/mentions?max_results=5")
    response = fake.handle(forge(request))  # type: ignore[operator]
    assert response.status_code == 401
    assert response.json() == {
        "title": "Unauthorized",
        "type": "about:blank",
        "status": 401,
        "detail": "Unauthorized",
    }


def test_a_replayed_signature_is_refused() -> None:
    fake = fake_x()
    first = signed(httpx.Request("GET", f"{API}/2/users/me"))
    assert fake.handle(first).status_code == 200
    replay = httpx.Request("GET", f"{API}/2/users/me", headers=first.headers)
    assert fake.handle(replay).status_code == 401
