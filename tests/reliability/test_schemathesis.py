"""Bad input on the JSON API: schemathesis turns the gateway's own OpenAPI document (`/api/v1/openapi.json`)
into requests, valid and invalid, signed in with every role, with a token nobody issued, and with none;
each answer must be no 5xx and a status, content type and body the document names.

In process (the app behind `httpx.ASGITransport`, on an event loop this module owns, since hypothesis
drives a synchronous function), on SQLite and on PostgreSQL when configured. A few examples per operation
and mode keep it to seconds; hypothesis shrinks any failure to one request, printed with its curl line.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sav_bridge_zendesk import webhook as zendesk
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sav_bridge.channels.x.signing import SIGNATURE_HEADER, sign
from tests.console.test_api import AUDIENCE, ISSUER, PUBLIC_PEM, token
from tests.harness import CLAIRE, CONSUMER_SECRET, ZENDESK_SECRET, Gateway, start_gateway

#: Examples per operation, authentication and mode: 20 operations x 3 x 2 x 6 is ~700 requests a database.
EXAMPLES = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
JWT_ENV = {
    "SAV_BRIDGE_CONSOLE__JWT__PUBLIC_KEY": PUBLIC_PEM,
    "SAV_BRIDGE_CONSOLE__JWT__ISSUER": ISSUER,
    "SAV_BRIDGE_CONSOLE__JWT__AUDIENCE": AUDIENCE,
}
EVERY_ROLE = f"Bearer {token('sam', ['viewer', 'editor', 'approver', 'operator'])}"
AUTHENTICATIONS = {"every role": EVERY_ROLE, "a token nobody issued": None, "none": ""}


@dataclass
class Served:
    loop: asyncio.AbstractEventLoop
    gateway: Gateway
    document: dict[str, Any]

    def send(self, request: dict[str, Any]) -> httpx.Response:
        return self.loop.run_until_complete(self.gateway.client.request(**request))


async def _start(database_url: str, vendor_dir: Path | None) -> tuple[Gateway, dict[str, Any]]:
    """A gateway with something behind each kind of id: a policy draft, a ticket and its jobs, a quarantined
    body, so that valid ids reach the handlers' own code and not only their 404."""
    gw = await start_gateway(database_url, vendor_dir, **JWT_ENV)
    assert (await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque ma carte est bloquée"))).status_code == 200
    assert (await gw.post_x({"for_user_id": gw.settings.x.account_id, "odd": []})).status_code in (200, 400)
    await gw.drain()
    document = (await gw.client.get("/api/v1/openapi.json")).json()
    return gw, document


@pytest.fixture
def served(database_url: str, vendor_dir: Path | None) -> Iterator[Served]:
    loop = asyncio.new_event_loop()
    try:
        gw, document = loop.run_until_complete(_start(database_url, vendor_dir))
        try:
            yield Served(loop, gw, document)
        finally:
            loop.run_until_complete(gw.client.aclose())
            loop.run_until_complete(gw.runtime.close())
    finally:
        loop.close()


def _request(served: Served, case: schemathesis.Case, authorization: str | None) -> dict[str, Any]:
    """The case as httpx sends it; with a valid bearer, webhooks are also signed as the vendors sign them,
    so that their bodies reach the parsers instead of stopping at 401."""
    request = case.as_transport_kwargs(base_url="http://gateway")
    headers = {
        k: v for k, v in request["headers"].items() if k.lower() != "authorization" or authorization is None
    }
    if authorization:
        headers["Authorization"] = authorization
    request.pop("cookies", None)  # the document names none
    if "data" in request:  # requests' name for a raw body
        request["content"] = request.pop("data")
    if "json" in request:
        request["content"] = json.dumps(request.pop("json")).encode()
    body = request.get("content", b"")
    body = body.encode() if isinstance(body, str) else body
    if authorization == EVERY_ROLE and isinstance(body, bytes) and case.method == "POST":
        if case.path == "/webhooks/x":
            headers[SIGNATURE_HEADER] = sign(CONSUMER_SECRET, body)
        elif case.path == "/webhooks/{helpdesk}":
            stamp = datetime.fromtimestamp(served.gateway.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            headers[zendesk.SIGNATURE] = zendesk.sign(ZENDESK_SECRET, stamp, body)
            headers[zendesk.TIMESTAMP] = stamp
    request["headers"] = headers
    return request


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("who", list(AUTHENTICATIONS))
def test_the_api_answers_as_its_openapi_document_says(served: Served, who: str, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_dict(served.document)
    authorization = AUTHENTICATIONS[who]
    for result in schema.get_all_operations():
        operation = result.ok()
        # Valid names reach the configured helpdesk's plugin (anything else is its documented 404).
        named = {"helpdesk": "zendesk"} if "{helpdesk}" in operation.path and mode.is_positive else None

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=named))
        def answers_as_documented(case: schemathesis.Case) -> None:
            response = served.send(_request(served, case, authorization))
            case.validate_response(response, checks=CHECKS)

        answers_as_documented()


def test_an_audience_that_is_a_list_is_a_400_not_a_500(served: Served) -> None:
    """What schemathesis found first: `audience` looked up in a set or dict raised TypeError for a list."""
    headers = {"authorization": EVERY_ROLE}
    decide = {"method": "POST", "url": "/api/v1/decide", "headers": headers,
              "json": {"text": "Bonjour", "audience": ["public"]}}  # fmt: skip
    replay = {"method": "POST", "url": "/api/v1/policies/1/test", "headers": headers,
              "json": {"texts": [{"text": "Bonjour", "audience": {"dm": 1}}]}}  # fmt: skip
    assert [served.send(r).status_code for r in (decide, replay)] == [400, 400]
