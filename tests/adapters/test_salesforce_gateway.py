"""Salesforce end to end through the gateway: outbound messages acknowledged after commit, repeats
absorbed by Notification/Id, the token and org checked, sessions renewed, the quota 403 waited out."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from xml.etree.ElementTree import fromstring

import httpx
import pytest
from sav_bridge_salesforce.sandbox import FakeSalesforce

from tests.adapters.test_salesforce_contract import APP_KEY
from tests.harness import CLAIRE, Gateway, start_gateway

SECRET = "salesforce-outbound-token-for-tests"
ORG = "00D5g000004ABCDEAA"
ACK = "{http://schemas.xmlsoap.org/soap/envelope/}Body/{http://soap.sforce.com/2005/09/outbound}notificationsResponse/{http://soap.sforce.com/2005/09/outbound}Ack"


@pytest.fixture
async def gateway(sqlite_url: str, vendor_dir: Path | None) -> AsyncIterator[Gateway]:
    gw = await start_gateway(
        sqlite_url,
        vendor_dir,
        SAV_BRIDGE_HELPDESK="salesforce",
        SAV_BRIDGE_SALESFORCE__CONSUMER_KEY="3MVG9-sav-bridge-tests",
        SAV_BRIDGE_SALESFORCE__USERNAME="sav-bridge@mabanque.fr",
        SAV_BRIDGE_SALESFORCE__PRIVATE_KEY=APP_KEY,
        SAV_BRIDGE_SALESFORCE__ORGANIZATION_ID=ORG,
        SAV_BRIDGE_SALESFORCE__WEBHOOK_SECRET=SECRET,
    )
    yield gw
    await gw.client.aclose()
    await gw.runtime.close()
    assert gw.sandbox.violations == [], "requests broke the vendors' contracts"


def org(gw: Gateway) -> FakeSalesforce:
    fake = gw.sandbox.helpdesk
    assert isinstance(fake, FakeSalesforce)
    return fake


async def deliver(
    gw: Gateway, headers: dict[str, str], body: bytes, path: str | None = None
) -> httpx.Response:
    return await gw.client.post(path or org(gw).outbound_path(), content=body, headers=headers)


def acknowledged(response: httpx.Response) -> bool:
    if response.status_code != 200 or not response.headers["content-type"].startswith("text/xml"):
        return False
    ack = fromstring(response.content).find(ACK)
    return ack is not None and ack.text == "true"


async def open_case(gw: Gateway) -> str:
    assert (await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque ma carte est bloquée"))).status_code == 200
    await gw.drain()
    [case_id] = org(gw).cases
    return case_id


async def test_a_mention_becomes_a_case_and_an_agent_comment_a_post_once(gateway: Gateway) -> None:
    gw, fake = gateway, org(gateway)
    case_id = await open_case(gw)
    case = fake.cases[case_id]
    contact = fake.contacts[case["ContactId"]]
    assert contact["X_User_Id__c"] == CLAIRE.id and contact["LastName"] == "Dupont"
    assert (
        case["Sav_Bridge_Key__c"]
        and case["Status"] == "New"
        and "ma carte est bloquée" in case["Description"]
    )
    agent = fake.add_user("Amélie Jourdain", "amelie@mabanque.fr")
    comment = fake.agent_reply(case_id, agent, "Bonjour Claire, nous regardons.")
    headers, body = fake.outbound_message([comment])
    first = await deliver(gw, headers, body)
    assert acknowledged(first)
    repeat = await deliver(gw, headers, body)  # Salesforce resends until it has an Ack: absorbed
    assert acknowledged(repeat)
    await gw.settle()
    posts = [p.text for p in gw.x.brand_posts]
    assert posts == ["Bonjour Claire, nous regardons. ^AJ"]
    assert any("Posted on X" in note for note in fake.private_texts(case_id))
    assert (await gw.runtime.store.jobs_by_state()).get("dead", 0) == 0


@pytest.mark.parametrize(
    ("path", "organization", "status"),
    [("/webhooks/salesforce?token=not-the-token-at-all", None, 401), ("/webhooks/salesforce", None, 401),
     (None, "00D5g000009ZZZZEAA", 401)],
    ids=["wrong token", "no token", "another org"],
)  # fmt: skip
async def test_a_message_without_the_token_or_from_another_org_is_refused_and_changes_nothing(
    gateway: Gateway, path: str | None, organization: str | None, status: int
) -> None:
    gw, fake = gateway, org(gateway)
    case_id = await open_case(gw)
    comment = fake.agent_reply(case_id, fake.add_user("Amélie Jourdain", "amelie@mabanque.fr"), "Bonjour")
    headers, body = fake.outbound_message([comment], organization_id=organization)
    response = await deliver(gw, headers, body, path)
    assert response.status_code == status and "Ack" not in response.text
    await gw.settle()
    assert gw.x.brand_posts == []


async def test_an_unreadable_message_with_the_token_is_a_400_kept_in_quarantine(gateway: Gateway) -> None:
    gw = gateway
    headers = {"content-type": "text/xml; charset=utf-8", "soapaction": '""'}
    bomb = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>'
    response = await deliver(gw, headers, bomb)
    assert response.status_code == 400 and "quarantine" in response.json()["error"]


async def test_one_message_may_carry_replies_on_several_cases(gateway: Gateway) -> None:
    gw, fake = gateway, org(gateway)
    first = await open_case(gw)
    assert (await gw.post_x(gw.x.customer_dm(CLAIRE, "Et mon virement ?"))).status_code == 200
    await gw.drain()
    second = next(case for case in fake.cases if case != first)
    agent = fake.add_user("Amélie Jourdain", "amelie@mabanque.fr")
    comments = [
        fake.agent_reply(first, agent, "Réponse publique"),
        fake.agent_reply(second, agent, "Réponse DM"),
    ]
    private = fake.add_comment(first, agent, "Note interne", published=False)
    headers, body = fake.outbound_message([*comments, private])
    assert acknowledged(await deliver(gw, headers, body))
    await gw.settle()
    assert [p.text for p in gw.x.brand_posts] == ["Réponse publique ^AJ"]
    assert [dm["text"] for dm in gw.x.dms] == ["Réponse DM ^AJ"]


async def test_the_json_callout_is_answered_in_json_and_its_repeat_absorbed(gateway: Gateway) -> None:
    gw, fake = gateway, org(gateway)
    case_id = await open_case(gw)
    comment = fake.agent_reply(case_id, fake.add_user("Amélie Jourdain", "amelie@mabanque.fr"), "Bonjour")
    headers, body = fake.flow_callout(case_id, comment)
    first = await gw.client.post("/webhooks/salesforce", content=body, headers=headers)
    again = await gw.client.post("/webhooks/salesforce", content=body, headers=headers)
    assert first.json() == {"accepted": 1, "duplicates": 0} and again.json() == {
        "accepted": 0,
        "duplicates": 1,
    }
    forged = fake.flow_callout(case_id, comment, secret="not-the-secret-at-all-000")
    assert (
        await gw.client.post("/webhooks/salesforce", content=forged[1], headers=forged[0])
    ).status_code == 401
    await gw.settle()
    assert [p.text for p in gw.x.brand_posts] == ["Bonjour ^AJ"]


async def test_an_ended_session_is_renewed_and_nothing_fails(gateway: Gateway) -> None:
    gw, fake = gateway, org(gateway)
    case_id = await open_case(gw)
    fake.expire_sessions()
    comment = fake.agent_reply(case_id, fake.add_user("Amélie Jourdain", "amelie@mabanque.fr"), "Bonjour")
    assert acknowledged(await deliver(gw, *fake.outbound_message([comment])))
    await gw.settle()
    assert [p.text for p in gw.x.brand_posts] == ["Bonjour ^AJ"]
    assert fake.received()["POST /services/oauth2/token"] == 2


async def test_spent_api_requests_hold_the_work_until_the_org_has_some_again(gateway: Gateway) -> None:
    gw, fake = gateway, org(gateway)
    case_id = await open_case(gw)
    fake.daily_api_requests = fake.api_used  # the org's other integrations spent the rest
    comment = fake.agent_reply(case_id, fake.add_user("Amélie Jourdain", "amelie@mabanque.fr"), "Bonjour")
    assert acknowledged(await deliver(gw, *fake.outbound_message([comment])))
    await gw.drain()
    refused = fake.received()
    await gw.drain()  # held: no call is made while the plugin waits
    assert fake.received() == refused and gw.x.brand_posts == []
    metrics = (await gw.client.get("/metrics")).text
    used = re.search(r'sav_bridge_helpdesk_api_usage\{helpdesk="salesforce",measure="used"\} (\S+)', metrics)
    limit = re.search(
        r'sav_bridge_helpdesk_api_usage\{helpdesk="salesforce",measure="limit"\} (\S+)', metrics
    )
    assert used and limit and float(used[1]) >= float(limit[1]) > 0
    gw.clock.advance(6 * 3600)  # hours of waiting use up no attempt: the jobs are paused, not failing
    await gw.drain()
    assert (await gw.runtime.store.jobs_by_state()).get("dead", 0) == 0
    fake.daily_api_requests, fake.api_used = 15000, 0  # the rolling window frees
    await gw.settle()
    assert [p.text for p in gw.x.brand_posts] == ["Bonjour ^AJ"]
    assert (await gw.runtime.store.jobs_by_state()).get("dead", 0) == 0
