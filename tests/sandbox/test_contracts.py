"""The fakes really enforce the vendors' specs: a wrong body is caught, not silently accepted."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sav_bridge_zendesk.sandbox import FakeZendesk
from sav_bridge_zendesk.sandbox import vendor_contracts as zendesk_contracts

from sav_bridge.sandbox import FakeX, vendor_contracts
from sav_bridge.sandbox.faults import Fault


@pytest.fixture
def contracts(vendor_dir: Path | None):  # type: ignore[no-untyped-def]
    if vendor_dir is None:
        pytest.skip("SAV_BRIDGE_VENDOR_DIR is not set")
    return vendor_contracts(vendor_dir)


def test_x_reply_with_extra_field_breaks_the_contract(contracts) -> None:  # type: ignore[no-untyped-def]
    fake = FakeX("1", "brand", "tok", contracts["x"])
    request = httpx.Request("POST", "https://api.x.com/2/tweets", headers={"authorization": "Bearer tok"},
                            json={"text": "hi", "reply": {"in_reply_to_tweet_id": "12", "user": "nope"}})  # fmt: skip
    assert fake.handle(request).status_code == 400
    assert fake.violations and "reply" in fake.violations[0].problem


def test_x_dm_without_text_breaks_the_contract(contracts) -> None:  # type: ignore[no-untyped-def]
    fake = FakeX("1", "brand", "tok", contracts["x"])
    request = httpx.Request("POST", "https://api.x.com/2/dm_conversations/with/42/messages",
                            headers={"authorization": "Bearer tok"}, json={"txt": "hi"})  # fmt: skip
    assert fake.handle(request).status_code == 400 and fake.violations


def test_zendesk_user_request_without_user_breaks_the_contract(contracts, vendor_dir: Path) -> None:  # type: ignore[no-untyped-def]
    fake = FakeZendesk("a@b.c", "t", "s", zendesk_contracts(vendor_dir))
    auth = httpx.BasicAuth("a@b.c/token", "t")
    request = httpx.Request("POST", "https://z.zendesk.com/api/v2/users/create_or_update", json={"name": "x"})
    response = fake.handle(next(auth.auth_flow(request)))
    assert response.status_code == 400 and "user" in fake.violations[0].problem


def test_unauthenticated_calls_are_refused() -> None:
    fake = FakeX("1", "brand", "tok")
    request = httpx.Request("POST", "https://api.x.com/2/tweets", json={"text": "hi"})
    assert fake.handle(request).status_code == 401


def test_injected_faults_fire_the_given_number_of_times() -> None:
    fake = FakeX("1", "brand", "tok")
    fake.faults.add(Fault("POST", "/2/tweets", 503, times=2))
    request = httpx.Request("POST", "https://api.x.com/2/tweets", headers={"authorization": "Bearer tok"},
                            json={"text": "hi"})  # fmt: skip
    assert [fake.handle(request).status_code for _ in range(3)] == [503, 503, 201]


def test_x_rate_limit_answers_429_with_reset() -> None:
    now = [1000.0]
    fake = FakeX("1", "brand", "tok", clock=lambda: now[0])
    statuses = []
    for i in range(16):
        request = httpx.Request("POST", "https://api.x.com/2/dm_conversations/with/42/messages",
                                headers={"authorization": "Bearer tok"}, json={"text": f"m{i}"})  # fmt: skip
        response = fake.handle(request)
        statuses.append(response.status_code)
    assert statuses == [201] * 15 + [429]
    assert response.headers["x-rate-limit-reset"] == str(1000 + 900)
