"""The one place vendor failures become ours: what is retried inline, what goes back to the outbox."""

from __future__ import annotations

import time

import httpx
import pytest
import respx

from sav_bridge.errors import PermanentError, RetryableError
from sav_bridge.http import VendorErrors, send

VENDOR = VendorErrors(
    "acme", reset_epoch_headers=("x-rate-limit-reset",), quota_signals=((403, "REQUEST_LIMIT"),)
)


async def no_sleep(seconds: float) -> None:
    return None


@respx.mock
async def test_short_retry_after_is_honoured_inline() -> None:
    route = respx.get("https://acme.test/a").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(200, json={})]
    )
    async with httpx.AsyncClient() as client:
        response = await send(client, VENDOR, "GET", "https://acme.test/a", sleep=no_sleep)
    assert response.status_code == 200 and route.call_count == 2


@respx.mock
async def test_long_retry_after_goes_back_to_the_outbox_with_the_hint() -> None:
    respx.post("https://acme.test/a").mock(return_value=httpx.Response(429, headers={"Retry-After": "600"}))
    async with httpx.AsyncClient() as client:
        with pytest.raises(RetryableError) as caught:
            await send(client, VENDOR, "POST", "https://acme.test/a", sleep=no_sleep)
    assert caught.value.retry_after == 600


@respx.mock
async def test_ambiguous_5xx_on_a_write_is_not_repeated_inline() -> None:
    route = respx.put("https://acme.test/a").mock(return_value=httpx.Response(502))
    async with httpx.AsyncClient() as client:
        with pytest.raises(RetryableError):
            await send(client, VENDOR, "PUT", "https://acme.test/a", sleep=no_sleep)
    assert route.call_count == 1


@respx.mock
async def test_write_with_idempotency_key_is_repeated_inline() -> None:
    route = respx.post("https://acme.test/a").mock(
        side_effect=[httpx.Response(502), httpx.Response(201, json={})]
    )
    async with httpx.AsyncClient() as client:
        await send(
            client, VENDOR, "POST", "https://acme.test/a", headers={"Idempotency-Key": "k"}, sleep=no_sleep
        )
    assert route.call_count == 2


@respx.mock
async def test_connect_errors_are_safe_to_repeat() -> None:
    route = respx.post("https://acme.test/a").mock(
        side_effect=[httpx.ConnectError("down"), httpx.Response(201)]
    )
    async with httpx.AsyncClient() as client:
        await send(client, VENDOR, "POST", "https://acme.test/a", sleep=no_sleep)
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("response", "error", "retry_after"),
    [
        (httpx.Response(400, text="bad field"), PermanentError, None),
        (httpx.Response(403, text="REQUEST_LIMIT_EXCEEDED"), RetryableError, None),
        (httpx.Response(429, headers={"x-rate-limit-reset": "+1000"}), RetryableError, 1000.0),
    ],
)
@respx.mock
async def test_status_mapping(response: httpx.Response, error: type, retry_after: float | None) -> None:
    if response.headers.get("x-rate-limit-reset", "").startswith(
        "+"
    ):  # an epoch 1000 s from now, not from collection
        later = int(time.time()) + int(response.headers["x-rate-limit-reset"][1:])
        response = httpx.Response(response.status_code, headers={"x-rate-limit-reset": str(later)})
    respx.post("https://acme.test/a").mock(return_value=response)
    async with httpx.AsyncClient() as client:
        with pytest.raises(error) as caught:
            await send(client, VENDOR, "POST", "https://acme.test/a", attempts=1, sleep=no_sleep)
    if retry_after is not None:
        assert retry_after - 5 <= caught.value.retry_after <= retry_after


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Retry-After": "garbage"}, None), ({"Retry-After": "1e400"}, 86400.0), ({"Retry-After": "nan"}, None),
     ({"Retry-After": "-5"}, 0.0), ({"Retry-After": "Wed, 21 Oct 99999 07:28:00 GMT"}, None),
     ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0), ({"x-rate-limit-reset": "9" * 400}, 86400.0),
     ({"x-rate-limit-reset": "soon"}, None)],
)  # fmt: skip
@respx.mock
async def test_malformed_wait_hints_are_clamped_never_a_crash_or_an_endless_park(
    headers: dict[str, str], expected: float | None
) -> None:
    respx.post("https://acme.test/a").mock(return_value=httpx.Response(429, headers=headers))
    async with httpx.AsyncClient() as client:
        with pytest.raises(RetryableError) as caught:
            await send(client, VENDOR, "POST", "https://acme.test/a", sleep=no_sleep)
    assert caught.value.retry_after == expected


@respx.mock
async def test_a_quota_answer_without_a_wait_gets_the_vendors_documented_back_off_and_no_inline_repeat() -> (
    None
):
    vendor = VendorErrors(
        "acme",
        quota_signals=((403, "REQUEST_LIMIT_EXCEEDED"),),
        quota_waits=(("ConcurrentPerOrgLongTxn", 30.0), ("REQUEST_LIMIT_EXCEEDED", 900.0)),
    )
    total = '[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]'
    concurrent = (
        '[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]'
    )
    route = respx.get("https://acme.test/a").mock(
        side_effect=[httpx.Response(403, text=total), httpx.Response(403, text=concurrent)]
    )
    async with httpx.AsyncClient() as client:
        waits = []
        for _ in range(2):
            with pytest.raises(RetryableError) as caught:
                await send(client, vendor, "GET", "https://acme.test/a", sleep=no_sleep)
            waits.append(caught.value.retry_after)
    assert waits == [900.0, 30.0] and route.call_count == 2
