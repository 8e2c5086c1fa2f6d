"""OAuth 2.0: the gateway keeps posting across many two-hour token lifetimes, one replica or two."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from sav_bridge.channels.x.auth import token_keeper
from sav_bridge.channels.x.oauth2 import OAuth2Client
from sav_bridge.channels.x.tokens import SECRET_NAME
from sav_bridge.config import load_settings
from sav_bridge.errors import RetryableError
from sav_bridge.sandbox import FakeX
from sav_bridge.store import open_store
from tests.channels.x_auth_helpers import (
    SEED_REFRESH_TOKEN,
    oauth2_env,
    replica,
    reply_round,
    start_oauth2_gateway,
)
from tests.conftest import postgres_schema_url
from tests.harness import gateway_env

HOURS = 3600.0


def issued_tokens(fake: FakeX) -> list[str]:
    assert fake.oauth2 is not None
    return list(fake.oauth2.access) + list(fake.oauth2.refresh)


async def test_replies_keep_going_out_over_ten_token_lifetimes(
    database_url: str, vendor_dir: Path | None
) -> None:
    gw = await start_oauth2_gateway(database_url, vendor_dir)
    try:
        for n in range(10):
            ticket_id = await reply_round(gw, n)
            await gw.drain()
            assert gw.zendesk.notes(ticket_id)[-1].startswith("✅ Posted on X"), gw.zendesk.notes(ticket_id)
            gw.clock.advance(2 * HOURS)
        assert len(gw.x.brand_posts) == 10
        # one refresh per lifetime (the seed had no access token), never after a refusal
        assert len(gw.x.refresh_calls) == 10 and gw.x.refresh_calls[0] == SEED_REFRESH_TOKEN
        assert gw.x.refused == [] and (await gw.runtime.store.jobs_by_state()).get("dead", 0) == 0
        row = await gw.runtime.store.secrets.get(SECRET_NAME)
        assert row is not None and not any(token in row.ciphertext for token in issued_tokens(gw.x))
    finally:
        await gw.client.aclose()
        await gw.runtime.close()


async def _two_replicas_refresh_once_per_lifetime(database_url: str, vendor_dir: Path | None) -> None:
    gw = await start_oauth2_gateway(database_url, vendor_dir)
    other = await replica(gw)
    try:
        for window in range(10):
            calls = [rt.x.verify_credentials() for rt in (gw.runtime, other) for _ in range(3)]
            results = await asyncio.gather(*calls)
            assert {user for user, _ in results} == {gw.settings.x.account_id}
            assert len(gw.x.refresh_calls) == window + 1
            gw.clock.advance(2 * HOURS)
        assert gw.x.refused == []
        assert gw.x.oauth2 is not None and gw.x.oauth2.revoked == set()  # no refresh token was spent twice
        assert gw.runtime.access and other.access and gw.runtime.access.keeper and other.access.keeper
        assert gw.runtime.access.keeper.refreshes + other.access.keeper.refreshes == 10
    finally:
        await other.close()
        await gw.client.aclose()
        await gw.runtime.close()


async def test_two_replicas_on_one_sqlite_file_refresh_once_per_lifetime(
    sqlite_url: str, vendor_dir: Path | None
) -> None:
    await _two_replicas_refresh_once_per_lifetime(sqlite_url, vendor_dir)


@pytest.mark.postgres
async def test_two_replicas_on_one_postgresql_schema_refresh_once_per_lifetime(
    vendor_dir: Path | None,
) -> None:
    for url in postgres_schema_url():
        await _two_replicas_refresh_once_per_lifetime(url, vendor_dir)


async def test_a_401_gets_one_refresh_and_one_retry(sqlite_url: str, vendor_dir: Path | None) -> None:
    gw = await start_oauth2_gateway(sqlite_url, vendor_dir)
    try:
        await gw.runtime.x.verify_credentials()
        assert gw.x.oauth2 is not None
        gw.x.oauth2.access.clear()  # X forgets the access token early (it may revoke one at any time)
        await gw.runtime.x.verify_credentials()
        assert len(gw.x.refresh_calls) == 2 and len(gw.x.refused) == 1
    finally:
        await gw.client.aclose()
        await gw.runtime.close()


def test_the_fake_rotates_refresh_tokens_and_a_replay_revokes_the_family() -> None:
    import httpx

    fake = FakeX("1", "brand", "")
    fake.use_oauth2("client", None)
    first = fake.grant_refresh_token()

    def refresh(token: str) -> httpx.Response:
        form = {"grant_type": "refresh_token", "refresh_token": token, "client_id": "client"}
        return fake.handle(httpx.Request("POST", "https://api.x.com/2/oauth2/token", data=form))

    answer = refresh(first)
    assert answer.status_code == 200 and answer.json()["expires_in"] == 7200
    second = answer.json()["refresh_token"]
    assert refresh(first).json() == {
        "error": "invalid_request",
        "error_description": "Value passed for the token was invalid.",
    }
    assert refresh(second).status_code == 400  # the whole family was revoked by the replay
    bearer = {"authorization": f"Bearer {answer.json()['access_token']}"}
    assert (
        fake.handle(httpx.Request("GET", "https://api.x.com/2/users/me", headers=bearer)).status_code == 401
    )


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(429, headers={"Retry-After": "0"}), httpx.ConnectError("refused")],
    ids=["rate-limited", "connection-refused"],
)
async def test_a_token_call_is_never_repeated_inline(answer: httpx.Response | Exception) -> None:
    sent: list[httpx.Request] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async with httpx.AsyncClient(transport=httpx.MockTransport(token_endpoint)) as http:
        client = OAuth2Client(http, "https://api.x.com", "client", None, lambda: 0.0)
        with pytest.raises(RetryableError):
            await client.refresh("single-use-refresh-token")
    assert len(sent) == 1  # a single-use refresh token is spent at most once per refresh


async def test_the_refresh_lease_outlasts_the_longest_token_call(sqlite_url: str) -> None:
    env = gateway_env(sqlite_url, **oauth2_env(SAV_BRIDGE_X__TIMEOUT_SECONDS="120"))
    settings = load_settings(None, env)
    store = await open_store(settings.database_url)
    try:
        async with httpx.AsyncClient() as http:
            keeper = token_keeper(settings, store, http)
            assert keeper.client.timeout == 120.0 and keeper.lease_seconds >= 2 * 120 + 30
    finally:
        await store.close()


async def test_a_token_call_that_outlasts_its_timeout_is_cut_short() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={"access_token": "late", "expires_in": 7200})

    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as http:
        client = OAuth2Client(http, "https://api.x.com", "client", None, lambda: 0.0, timeout=0.05)
        with pytest.raises(RetryableError, match=r"took over 0\.05 s"):
            await client.refresh("single-use-refresh-token")
