"""Salesforce's calls to the gateway, read as Salesforce documents them: SOAP outbound messages and the
signed JSON callout. Bodies here are written from the documentation's envelope, not by the fake."""

from __future__ import annotations

import json
from xml.etree.ElementTree import fromstring

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sav_bridge_salesforce import webhook
from sav_bridge_salesforce.webhook import OutboundMessage

from sav_bridge.errors import MalformedRequest, Unauthorized
from sav_bridge.helpdesks import WebhookNotice
from tests.strategies import FUZZ

SECRET = "salesforce-outbound-token-0123456789"
ORG_18 = "00D5g000004ABCDEAA"
ORG_15 = ORG_18[:15]
NOW = 1_780_000_000.0
XML = {"content-type": "text/xml; charset=utf-8", "soapaction": '""'}


def notification(notification_id: str, sobject: str) -> str:
    return f"<Notification><Id>{notification_id}</Id>{sobject}</Notification>"


def comment(comment_id: str, case_id: str, published: str = "true") -> str:
    return (
        '<sObject xsi:type="sf:CaseComment" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<sf:Id>{comment_id}</sf:Id><sf:IsPublished>{published}</sf:IsPublished>"
        f"<sf:ParentId>{case_id}</sf:ParentId></sObject>"
    )


def envelope(*notifications: str, org: str = ORG_18) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{org}</OrganizationId><ActionId>04k5g000000AbCdAAK</ActionId>"
        '<SessionId xsi:nil="true"/><EnterpriseUrl>https://mabanque.my.salesforce.com/services/Soap/c/66.0/'
        f"{org[:15]}</EnterpriseUrl><PartnerUrl>https://mabanque.my.salesforce.com/services/Soap/u/66.0/"
        f"{org[:15]}</PartnerUrl>{''.join(notifications)}</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


TWO_COMMENTS = envelope(
    notification("04l5g00000AAAAAAAA", comment("00a5g00000AAAAAAAA", "5005g00000CASE1AAA")),
    notification("04l5g00000BBBBBBBB", comment("00a5g00000BBBBBBBB", "5005g00000CASE2AAA")),
)


def test_each_notification_is_a_delivery_of_its_own_keyed_by_its_id() -> None:
    notice = webhook.parse(XML, TWO_COMMENTS)
    assert isinstance(notice, OutboundMessage)
    assert notice.deliveries() == [
        ("notification:04l5g00000AAAAAAAA:5005g00000CASE1AAA", "5005g00000CASE1AAA"),
        ("notification:04l5g00000BBBBBBBB:5005g00000CASE2AAA", "5005g00000CASE2AAA"),
    ]


def test_a_private_comment_is_acknowledged_but_asks_for_nothing() -> None:
    body = envelope(
        notification("04l5g00000AAAAAAAA", comment("00a5g00000AAAAAAAA", "5005g00000CASE1AAA", "false"))
    )
    notice = webhook.parse(XML, body)
    assert notice.deliveries() == [] and webhook.answer(notice) is not None


def test_a_case_notification_names_the_case_itself() -> None:
    case = (
        '<sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        "<sf:Id>5005g00000CASE1AAA</sf:Id></sObject>"
    )
    assert webhook.parse(XML, envelope(notification("04l5g00000AAAAAAAA", case))).ticket_ids == (
        "5005g00000CASE1AAA",
    )


def test_the_acknowledgement_is_the_documented_soap_envelope() -> None:
    answer = webhook.answer(webhook.parse(XML, TWO_COMMENTS))
    assert answer is not None and answer.media_type.startswith("text/xml") and answer.status == 200
    root = fromstring(answer.body)
    ack = root.find(
        "{http://schemas.xmlsoap.org/soap/envelope/}Body/"
        "{http://soap.sforce.com/2005/09/outbound}notificationsResponse/"
        "{http://soap.sforce.com/2005/09/outbound}Ack"
    )
    assert ack is not None and ack.text == "true"


def test_a_json_notice_gets_no_soap_answer() -> None:
    assert webhook.answer(WebhookNotice("comment:x", ("5005g00000CASE1AAA",))) is None


@pytest.mark.parametrize(
    ("query", "org", "accepted"),
    [
        ({"token": SECRET}, ORG_18, True),
        ({"token": SECRET}, ORG_15, True),  # the configured id may be the 15-character form
        ({"token": "not-the-token-at-all-000"}, ORG_18, False),
        ({}, ORG_18, False),
        ({"token": SECRET}, "00D5g000009ZZZZEAA", False),  # another org's message
    ],
)
def test_an_outbound_message_needs_the_url_token_and_the_configured_org(
    query: dict[str, str], org: str, accepted: bool
) -> None:
    body = TWO_COMMENTS if org != "00D5g000009ZZZZEAA" else envelope(org=org)
    configured = org if org in (ORG_18, ORG_15) else ORG_18
    verify = lambda: webhook.verify(SECRET, configured, XML, query, body, NOW, 300)  # noqa: E731
    if accepted:
        verify()
    else:
        with pytest.raises(Unauthorized):
            verify()


def signed(body: bytes, at: float, secret: str = SECRET) -> dict[str, str]:
    timestamp = str(int(at))
    return {
        "content-type": "application/json",
        "x-sav-bridge-timestamp": timestamp,
        "x-sav-bridge-signature": webhook.sign(secret, timestamp, body),
    }


CALLOUT = json.dumps({"case_id": "5005g00000CASE1AAA", "comment_id": "00a5g00000AAAAAAAA"}).encode()


@pytest.mark.parametrize(
    ("headers", "body", "accepted"),
    [
        (signed(CALLOUT, NOW), CALLOUT, True),
        (signed(CALLOUT, NOW - 301), CALLOUT, False),
        (signed(CALLOUT, NOW, "another-secret-0123456789"), CALLOUT, False),
        (signed(CALLOUT, NOW), CALLOUT + b" ", False),
        ({"content-type": "application/json"}, CALLOUT, False),
        ({**signed(CALLOUT, NOW), "x-sav-bridge-timestamp": "soon"}, CALLOUT, False),
    ],
    ids=["good", "stale", "forged", "tampered", "unsigned", "unreadable time"],
)
def test_the_json_callout_is_signed_and_recent(headers: dict[str, str], body: bytes, accepted: bool) -> None:
    query = {"token": SECRET}  # the URL token alone never admits a JSON body
    if accepted:
        webhook.verify(SECRET, ORG_18, headers, query, body, NOW, 300)
        assert webhook.parse(headers, body).deliveries() == [
            ("comment:00a5g00000AAAAAAAA:5005g00000CASE1AAA", "5005g00000CASE1AAA")
        ]
    else:
        with pytest.raises(Unauthorized):
            webhook.verify(SECRET, ORG_18, headers, query, body, NOW, 300)


def test_a_callout_without_a_comment_id_is_a_new_delivery_each_time() -> None:
    body = b'{"case_id": "5005g00000CASE1AAA"}'
    first, second = (webhook.parse({"content-type": "application/json"}, body) for _ in range(2))
    assert first.ticket_ids == second.ticket_ids == ("5005g00000CASE1AAA",) and first.key != second.key


BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    b"<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'><soapenv:Body>&lol2;"
    b"</soapenv:Body></soapenv:Envelope>"
)
EXTERNAL = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>'


@pytest.mark.parametrize(
    "body",
    [
        BOMB,
        EXTERNAL,
        b"",
        b"not xml",
        b"<a/>",
        envelope(),  # no Notification
        envelope(*[notification("04l5g00000AAAAAAAA", comment("00a5g00000AAAAAAAA", "5005g00000CASE1AAA"))] * 101),
        envelope(notification("04l5g00000AAAAAAAA", comment("00a5g00000AAAAAAAA", "'; DROP"))),
        envelope(notification("04l5g00000AAAAAAAA", '<sObject xsi:type="sf:Account"/>')),
        TWO_COMMENTS.replace(b"http://soap.sforce.com/2005/09/outbound", b"urn:other"),
    ],
    ids=["entity bomb", "external entity", "empty", "text", "other xml", "no notification", "101",
         "bad case id", "other object", "other namespace"],
)  # fmt: skip
def test_anything_but_an_outbound_message_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedRequest):
        webhook.parse(XML, body)


@FUZZ
@given(st.binary(max_size=2000) | st.text(max_size=500).map(str.encode), st.booleans())
def test_no_body_breaks_the_reader(body: bytes, as_json: bool) -> None:
    headers = {"content-type": "application/json"} if as_json else XML
    try:
        webhook.verify(SECRET, ORG_18, headers, {"token": SECRET}, body, NOW, 300)
        webhook.parse(headers, body)
    except (MalformedRequest, Unauthorized):
        pass


@FUZZ
@given(st.data())
def test_no_mutation_of_a_real_message_breaks_the_reader(data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(TWO_COMMENTS)))
    insert = data.draw(st.binary(max_size=40))
    body = TWO_COMMENTS[:cut] + insert + TWO_COMMENTS[cut + data.draw(st.integers(0, 40)) :]
    try:
        webhook.verify(SECRET, ORG_18, XML, {"token": SECRET}, body, NOW, 300)
        notice = webhook.parse(XML, body)
    except (MalformedRequest, Unauthorized):
        return
    assert all(len(ticket) in (15, 18) for ticket in notice.ticket_ids)
