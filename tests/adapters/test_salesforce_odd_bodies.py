"""Outbound messages and callouts of every odd shape, with the right token or signature: never a 500,
never a job that can never succeed, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sav_bridge_salesforce import webhook
from sav_bridge_salesforce.sandbox import FakeSalesforce

from tests import strategies as odd
from tests.adapters.test_salesforce_contract import APP_KEY
from tests.harness import CLAIRE
from tests.live import Live, live_gateway

SECRET = "salesforce-outbound-token-for-odd-bodies"
ORG = "00D5g000004ABCDEAA"
SOAP = {"content-type": "text/xml; charset=utf-8", "soapaction": '""'}
ENV = {
    "SAV_BRIDGE_HELPDESK": "salesforce",
    "SAV_BRIDGE_SALESFORCE__CONSUMER_KEY": "3MVG9-odd-bodies",
    "SAV_BRIDGE_SALESFORCE__USERNAME": "sav-bridge@mabanque.fr",
    "SAV_BRIDGE_SALESFORCE__PRIVATE_KEY": APP_KEY,
    "SAV_BRIDGE_SALESFORCE__ORGANIZATION_ID": ORG,
    "SAV_BRIDGE_SALESFORCE__WEBHOOK_SECRET": SECRET,
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, vendor_dir: Path | None
) -> Iterator[Live]:
    yield from live_gateway(request.param, tmp_path_factory, vendor_dir, **ENV)


@pytest.fixture(scope="module")
def message(live: Live) -> bytes:
    """A real outbound message about an agent's comment on a case the gateway opened."""
    assert live.post_x(json.dumps(live.gw.x.customer_post(CLAIRE, "@MaBanque ma carte")).encode()) == 200
    org = live.gw.sandbox.helpdesk
    assert isinstance(org, FakeSalesforce)
    [case] = org.cases
    comment = org.agent_reply(case, org.add_user("Amélie Jourdain", "amelie@mabanque.fr"), "Bonjour")
    return org.outbound_message([comment])[1]


def deliver(live: Live, body: bytes) -> int:
    return live.post(f"/webhooks/salesforce?token={SECRET}", body, SOAP)


@settings(odd.FUZZ, max_examples=150)
@given(data=st.data())
def test_mutated_outbound_messages_never_500(live: Live, message: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(message)))
    insert = data.draw(st.binary(max_size=60) | st.sampled_from([b"<", b"&amp;", b"]]>", b"\x00", b"\xff"]))
    body = message[:cut] + insert + message[cut + data.draw(st.integers(0, 60)) :]
    assert deliver(live, body) in (200, 400, 401)


@settings(odd.FUZZ, max_examples=100)
@given(case_id=st.text(alphabet="0123456789ABCDEFabcdefZz", min_size=15, max_size=18), ids=st.integers(1, 3))
def test_outbound_messages_naming_unknown_cases_leave_no_stuck_job(
    live: Live, case_id: str, ids: int
) -> None:
    """A case the gateway never opened (another flow, a deleted case): acknowledged, nothing to publish."""
    comment = (
        '<sObject xsi:type="sf:CaseComment" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<sf:Id>00a5g00000AAAAAAAA</sf:Id><sf:ParentId>{case_id}</sf:ParentId></sObject>"
    )
    notes = "".join(f"<Notification><Id>04l5g0000{n:09d}</Id>{comment}</Notification>" for n in range(ids))
    body = (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        f'<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{ORG}</OrganizationId>'
        f"{notes}</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()
    assert deliver(live, body) in (200, 400)


@settings(odd.FUZZ, max_examples=150)
@given(body=odd.json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=200))
def test_signed_random_callouts_never_500(live: Live, body: bytes) -> None:
    timestamp = str(int(time.time()))
    headers = {"content-type": "application/json", webhook.TIMESTAMP_HEADER: timestamp,
               webhook.SIGNATURE_HEADER: webhook.sign(SECRET, timestamp, body)}  # fmt: skip
    assert live.post("/webhooks/salesforce", body, headers) in (200, 400)


@pytest.mark.parametrize("case_id", ["'; DELETE", "5005g00000CASE1A\u0000A", "٥٠٠", {"id": 1}, None, 5005])
def test_callouts_with_odd_case_ids_are_refused(live: Live, case_id: Any) -> None:
    body = json.dumps({"case_id": case_id}).encode()
    timestamp = str(int(time.time()))
    headers = {"content-type": "application/json", webhook.TIMESTAMP_HEADER: timestamp,
               webhook.SIGNATURE_HEADER: webhook.sign(SECRET, timestamp, body)}  # fmt: skip
    assert live.post("/webhooks/salesforce", body, headers) == 400
