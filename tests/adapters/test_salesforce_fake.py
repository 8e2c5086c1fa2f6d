"""The Salesforce fake itself: it answers as Salesforce documents, so that the plugin's mistakes show."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from defusedxml.ElementTree import fromstring
from jose import jwt
from sav_bridge_salesforce import spec
from sav_bridge_salesforce.sandbox import FakeSalesforce

LOGIN = "https://login.salesforce.com"
INSTANCE = "https://mabanque.my.salesforce.com"
API = f"{INSTANCE}/services/data/v66.0"
KEY = "3MVG9consumer.key.for.tests"
USERNAME = "integration@mabanque.fr"
ORG = "00D5g000004XyZa"
SECRET = "salesforce-webhook-secret-for-tests"
START = 1_700_000_000.0
SELECT = ("SELECT Id, ParentId, CommentBody, IsPublished, CreatedDate, CreatedById, CreatedBy.Name, "
          "CreatedBy.Email, CreatedBy.UserType FROM CaseComment WHERE ParentId = '{}' "
          "ORDER BY CreatedDate, Id")  # fmt: skip
OUTBOUND = "{http://soap.sforce.com/2005/09/outbound}"
SF = "{urn:sobject.enterprise.soap.sforce.com}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="module")
def private_key() -> str:
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def other_key() -> str:
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


class Org:
    """The fake, a clock the test moves, and an async client that reaches it."""

    def __init__(self, private_key: str, **options: Any) -> None:
        self.now = [START]
        self.key = private_key
        self.fake = FakeSalesforce(KEY, USERNAME, private_key, ORG, SECRET, lambda: self.now[0], **options)
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(self.fake.handle))
        self.token = ""

    def assertion(self, key: str | None = None, algorithm: str = "RS256", **claims: Any) -> str:
        body = {"iss": KEY, "sub": USERNAME, "aud": LOGIN, "exp": int(self.now[0]) + 180, **claims}
        return str(
            jwt.encode({k: v for k, v in body.items() if v is not None}, key or self.key, algorithm=algorithm)
        )

    async def ask_token(self, assertion: str) -> httpx.Response:
        form = {"grant_type": spec.JWT_GRANT, "assertion": assertion}
        return await self.client.post(f"{LOGIN}/services/oauth2/token", data=form)

    async def login(self) -> dict[str, Any]:
        answer = await self.ask_token(self.assertion())
        assert answer.status_code == 200, answer.text
        grant: dict[str, Any] = answer.json()
        self.token = grant["access_token"]
        return grant

    async def call(self, method: str, path: str, body: Any = None, **params: str) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.token}"}
        url = path if path.startswith("https://") else f"{API}/{path}"
        return await self.client.request(method, url, json=body, params=params or None, headers=headers)

    async def upsert_case(self, key: str, **fields: Any) -> httpx.Response:
        body = {
            "Subject": "Carte bloquée",
            "Description": "Ma carte est bloquée",
            "Origin": "Web",
            "Status": "New",
        }
        return await self.call("PATCH", f"sobjects/Case/Sav_Bridge_Key__c/{key}", body | fields)

    def refusal(self, answer: httpx.Response) -> tuple[int, str]:
        problems = answer.json()
        assert isinstance(problems, list) and len(problems) == 1, problems
        return answer.status_code, problems[0]["errorCode"]


@pytest.fixture
async def org(private_key: str) -> AsyncIterator[Org]:
    org = Org(private_key)
    await org.login()
    yield org
    await org.client.aclose()


# -- OAuth 2.0 JWT bearer ------------------------------------------------------------------------------
async def test_token_answer_names_the_org_user_and_instance(private_key: str) -> None:
    org = Org(private_key)
    grant = await org.login()
    assert grant["id"] == f"{LOGIN}/id/{spec.to18(ORG)}/{org.fake.api_user}"
    assert (grant["instance_url"], grant["token_type"]) == (INSTANCE, "Bearer")
    assert grant["access_token"].startswith(ORG + "!") and {"scope", "issued_at", "signature"} <= set(grant)
    user = await org.call("GET", f"sobjects/User/{org.fake.api_user}", fields="Name,Username")
    assert user.status_code == 200 and user.json()["Username"] == USERNAME
    assert set(user.json()) == {"attributes", "Name", "Username", "Id"}
    assert org.fake.violations == []


async def test_exp_as_a_numeric_string_is_accepted_as_the_docs_example_sends_it(private_key: str) -> None:
    org = Org(private_key)
    answer = await org.ask_token(org.assertion(exp=str(int(START) + 120)))
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("claims", "error", "description"),
    [
        ({"iss": "another-app"}, "invalid_client_id", "client identifier invalid"),
        ({"aud": "https://test.salesforce.com"}, "invalid_grant", "audience is invalid"),
        ({"aud": LOGIN + "/"}, "invalid_grant", "audience is invalid"),
        ({"exp": int(START) - 1}, "invalid_grant", "expired authorization code"),
        ({"exp": int(START) + 3600}, "invalid_grant", "expired authorization code"),
        ({"exp": None}, "invalid_grant", "expired authorization code"),
        ({"sub": "nobody@mabanque.fr"}, "invalid_grant", "user hasn't approved this consumer"),
    ],
)
async def test_token_refusals_say_what_salesforce_says(
    private_key: str, claims: dict[str, Any], error: str, description: str
) -> None:
    org = Org(private_key)
    answer = await org.ask_token(org.assertion(**claims))
    assert (answer.status_code, answer.json()) == (400, {"error": error, "error_description": description})


async def test_bad_signatures_and_garbage_are_invalid_assertions(private_key: str, other_key: str) -> None:
    org = Org(private_key)
    for assertion in [
        org.assertion(key=other_key),
        org.assertion(key="shared", algorithm="HS256"),
        "not.a.jwt",
    ]:
        answer = await org.ask_token(assertion)
        assert answer.json() == {"error": "invalid_grant", "error_description": "invalid assertion"}


async def test_users_must_be_pre_authorised_and_unlocked(private_key: str) -> None:
    org = Org(private_key)
    agent = org.fake.add_user("Amélie Martin", "amelie@mabanque.fr", username="amelie@mabanque.fr")
    refused = await org.ask_token(org.assertion(sub="amelie@mabanque.fr"))
    assert refused.json()["error_description"] == "user hasn't approved this consumer"
    org.fake.authorised_users.add(org.fake.users[agent]["Username"])
    assert (await org.ask_token(org.assertion(sub="amelie@mabanque.fr"))).status_code == 200
    org.fake.locked_users.add(USERNAME)
    assert (await org.ask_token(org.assertion())).json()["error_description"] == "user is locked"


async def test_the_assertion_window_can_be_opened_for_a_harness_whose_clocks_differ(private_key: str) -> None:
    org = Org(private_key)
    org.fake.max_assertion_seconds = None
    assert (await org.ask_token(org.assertion(exp=int(START) + 86400 * 365))).status_code == 200


async def test_token_request_must_be_a_form(private_key: str) -> None:
    org = Org(private_key)
    answer = await org.client.post(
        f"{LOGIN}/services/oauth2/token", json={"grant_type": spec.JWT_GRANT, "assertion": org.assertion()}
    )
    assert answer.json() == {
        "error": "unsupported_grant_type",
        "error_description": "grant type not supported",
    }
    assert org.fake.violations and "not a form" in org.fake.violations[0].problem


async def test_sessions_end_when_expired_or_after_their_lifetime(org: Org) -> None:
    path = f"sobjects/User/{org.fake.api_user}"
    assert (await org.call("GET", path)).status_code == 200
    org.fake.expire_sessions()
    expired = await org.call("GET", path)
    assert (expired.status_code, expired.json()) == (
        401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])  # fmt: skip
    await org.login()
    org.now[0] += org.fake.session_seconds
    assert (await org.call("GET", path)).status_code == 401
    anonymous = await org.client.get(f"{API}/{path}")
    assert anonymous.status_code == 401


# -- limits --------------------------------------------------------------------------------------------
async def test_every_call_is_counted_and_calls_past_the_allocation_are_refused(private_key: str) -> None:
    org = Org(private_key, daily_api_requests=3)
    await org.login()
    path = f"sobjects/User/{org.fake.api_user}"
    usage = [(await org.call("GET", path)).headers["sforce-limit-info"] for _ in range(3)]
    assert usage == ["api-usage=1/3", "api-usage=2/3", "api-usage=3/3"]
    refused = await org.call("GET", path)
    assert refused.status_code == 403 and "retry-after" not in refused.headers
    assert refused.json() == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    org.fake.reset_usage()
    assert (await org.call("GET", path)).headers["sforce-limit-info"] == "api-usage=1/3"


async def test_limit_fault_is_the_quota_403_on_one_route(org: Org) -> None:
    path = f"sobjects/User/{org.fake.api_user}"
    org.fake.faults.add(
        org.fake.limit_fault("GET", r"/services/data/v66\.0/sobjects/User/\w+", concurrent=True)
    )
    refused = await org.call("GET", path)
    assert refused.status_code == 403 and "retry-after" not in refused.headers
    assert refused.json() == [
        {"message": "ConcurrentPerOrgLongTxn Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert (await org.call("GET", path)).status_code == 200


# -- contacts and cases --------------------------------------------------------------------------------
async def test_contact_upsert_creates_then_updates(org: Org) -> None:
    path = "sobjects/Contact/X_User_Id__c/2100000000000000001"
    created = await org.call("PATCH", path, {"LastName": "Dupont", "FirstName": "Claire"})
    assert created.status_code == 201
    assert created.json() | {"id": "?"} == {"id": "?", "success": True, "errors": [], "created": True}
    updated = await org.call("PATCH", path, {"LastName": "Dupont-Martin"})
    assert (updated.status_code, updated.json()["created"], updated.json()["id"]) == (
        200,
        False,
        created.json()["id"],
    )
    contact = org.fake.contacts[created.json()["id"]]
    assert (contact["Name"], contact["X_User_Id__c"]) == ("Claire Dupont-Martin", "2100000000000000001")
    assert created.json()["id"].startswith("003") and len(created.json()["id"]) == 18
    assert org.fake.violations == []


async def test_before_api_46_an_update_answers_204_and_a_create_has_no_created_flag(org: Org) -> None:
    path = f"{INSTANCE}/services/data/v45.0/sobjects/Contact/X_User_Id__c/42"
    created = await org.call("PATCH", path, {"LastName": "Dupont"})
    assert (created.status_code, "created" in created.json()) == (201, False)
    updated = await org.call("PATCH", path, {"LastName": "Dupont"})
    assert (updated.status_code, updated.content) == (204, b"")


async def test_contact_insert_needs_a_last_name(org: Org) -> None:
    answer = await org.call("PATCH", "sobjects/Contact/X_User_Id__c/42", {"FirstName": "Claire"})
    assert org.refusal(answer) == (400, "REQUIRED_FIELD_MISSING") and answer.json()[0]["fields"] == [
        "LastName"
    ]
    assert org.fake.contacts == {} and len(org.fake.violations) == 1


@pytest.mark.parametrize("field", ["Id", "X_User_Id__c", "x_user_id__c"])
async def test_upsert_body_must_not_carry_id_nor_the_external_id(org: Org, field: str) -> None:
    answer = await org.call("PATCH", "sobjects/Contact/X_User_Id__c/42", {"LastName": "Dupont", field: "42"})
    assert org.refusal(answer) == (400, "INVALID_FIELD")
    assert [spec.error_code(v) for v in org.fake.violations] == ["INVALID_FIELD"]


async def test_upsert_on_a_field_the_org_lacks_is_not_found(org: Org) -> None:
    answer = await org.call("PATCH", "sobjects/Contact/Twitter_Id__c/42", {"LastName": "Dupont"})
    assert org.refusal(answer) == (404, "NOT_FOUND")
    assert (
        answer.json()[0]["message"]
        == "Provided external ID field does not exist or is not accessible: Twitter_Id__c"
    )


async def test_case_upsert_and_a_key_matching_two_cases(org: Org) -> None:
    created = await org.upsert_case("x_message_dm_1")
    again = await org.upsert_case("x_message_dm_1")
    assert (created.status_code, again.status_code, again.json()["id"]) == (201, 200, created.json()["id"])
    first = org.fake.add_case("Doublon", key="dup")
    second = org.fake.add_case("Doublon", key="dup")
    before = {k: dict(v) for k, v in org.fake.cases.items()}
    answer = await org.upsert_case("dup", Subject="Changed")
    assert answer.status_code == 300
    assert answer.json() == [
        f"/services/data/v66.0/sobjects/Case/{first}",
        f"/services/data/v66.0/sobjects/Case/{second}",
    ]
    assert org.fake.cases == before, "nothing is written on a 300"
    read = await org.call("GET", "sobjects/Case/Sav_Bridge_Key__c/dup")
    assert read.status_code == 300 and len(read.json()) == 2


async def test_a_key_with_a_dotted_suffix_is_not_found_as_the_docs_warn(org: Org) -> None:
    assert org.refusal(await org.upsert_case("x.message.inc")) == (404, "NOT_FOUND")


async def test_case_read_has_every_field_and_closing_is_derived_from_status(org: Org) -> None:
    contact = (await org.call("PATCH", "sobjects/Contact/X_User_Id__c/7", {"LastName": "Dupont"})).json()[
        "id"
    ]
    case_id = (await org.upsert_case("k1", ContactId=contact)).json()["id"]
    case = (await org.call("GET", f"sobjects/Case/{case_id}")).json()
    assert case["attributes"] == {"type": "Case", "url": f"/services/data/v66.0/sobjects/Case/{case_id}"}
    assert (case["Status"], case["IsClosed"], case["ContactId"], case["Sav_Bridge_Key__c"]) == (
        "New",
        False,
        contact,
        "k1",
    )
    assert {
        "CaseNumber",
        "Subject",
        "Description",
        "Origin",
        "OwnerId",
        "CreatedDate",
        "Sav_Bridge_Reply_By_DM__c",
    } <= set(case)
    org.fake.close(case_id)
    closed = (await org.call("GET", "sobjects/Case/Sav_Bridge_Key__c/k1")).json()
    assert (closed["Status"], closed["IsClosed"]) == ("Closed", True) and closed["ClosedDate"]
    reopened = await org.call("PATCH", f"sobjects/Case/{case_id}", {"Status": "New"})
    assert (reopened.status_code, org.fake.is_closed(case_id)) == (204, False)


async def test_unknown_records_are_not_found(org: Org) -> None:
    for path in [
        "sobjects/Case/500000000000000AAA",
        "sobjects/Case/999999999",
        "sobjects/Case/Sav_Bridge_Key__c/none",
    ]:
        answer = await org.call("GET", path)
        assert answer.json() == [
            {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
        ]
    assert org.refusal(await org.call("PATCH", "sobjects/Case/500000000000000AAA", {"Status": "New"})) == (
        404,
        "NOT_FOUND",
    )


async def test_a_case_field_the_org_lacks_is_refused(org: Org) -> None:
    answer = await org.upsert_case("k1", Twitter_Handle__c="@claire")
    assert org.refusal(answer) == (400, "INVALID_FIELD") and org.fake.cases == {}


# -- comments ------------------------------------------------------------------------------------------
async def test_comment_is_created_by_the_token_user_and_does_not_reopen_a_closed_case(org: Org) -> None:
    case_id = org.fake.add_case("Carte", "Ma carte est bloquée")
    org.fake.close(case_id)
    answer = await org.call(
        "POST", "sobjects/CaseComment", {"ParentId": case_id, "CommentBody": "Merci", "IsPublished": True}
    )
    assert answer.status_code == 201 and answer.json()["success"] is True
    comment = org.fake.comments[answer.json()["id"]]
    assert (comment["CreatedById"], comment["CreatedDate"]) == (
        org.fake.api_user,
        "2023-11-14T22:13:20.000+0000",
    )
    assert answer.json()["id"].startswith("00a") and org.fake.is_closed(case_id)
    note = await org.call("POST", "sobjects/CaseComment", {"ParentId": case_id[:15], "CommentBody": "Note"})
    assert note.status_code == 201, "IsPublished is defaulted (to false) on create"
    assert (org.fake.public_texts(case_id), org.fake.private_texts(case_id)) == (
        ["Ma carte est bloquée", "Merci"],
        ["Note"],
    )


@pytest.mark.parametrize(
    ("parent", "code"),
    [("999999999", "MALFORMED_ID"), ("003000000000000AAA", "FIELD_INTEGRITY_EXCEPTION"),
     ("500000000000000AAA", "INVALID_CROSS_REFERENCE_KEY")],
)  # fmt: skip
async def test_a_comment_on_no_case_is_refused(org: Org, parent: str, code: str) -> None:
    answer = await org.call(
        "POST", "sobjects/CaseComment", {"ParentId": parent, "CommentBody": "n", "IsPublished": False}
    )
    assert org.refusal(answer) == (400, code) and answer.json()[0]["fields"] == ["ParentId"]


async def test_comment_bodies_off_spec_are_recorded(org: Org) -> None:
    case_id = org.fake.add_case("Carte")
    long_text = "é" * 2001  # 2,001 characters, 4,002 bytes: the object reference counts bytes
    for body, code in [
        ({"ParentId": case_id, "CommentBody": long_text}, "STRING_TOO_LONG"),
        ({"ParentId": case_id, "CommentBody": "x", "IsPublished": "yes"}, "JSON_PARSER_ERROR"),
        ({"CommentBody": "x"}, "REQUIRED_FIELD_MISSING"),
        ({"ParentId": case_id, "Body": "x"}, "INVALID_FIELD"),
    ]:
        org.fake.violations.clear()
        answer = await org.call("POST", "sobjects/CaseComment", body)
        assert org.refusal(answer) == (400, code)
        assert [spec.error_code(v) for v in org.fake.violations] == [code]
    assert org.fake.comments == {}


async def test_invalid_json_is_a_parser_error(org: Org) -> None:
    answer = await org.client.post(f"{API}/sobjects/CaseComment", content=b"{not json",
                                   headers={"authorization": f"Bearer {org.token}",
                                            "content-type": "application/json"})  # fmt: skip
    assert org.refusal(answer) == (400, "JSON_PARSER_ERROR") and len(org.fake.violations) == 1


# -- queries -------------------------------------------------------------------------------------------
async def test_comment_query_nests_the_author_and_filters_on_published(org: Org) -> None:
    case_id = org.fake.add_case("Carte", "Bloquée")
    agent = org.fake.add_user("Amélie Martin", "amelie@mabanque.fr")
    reply = org.fake.agent_reply(case_id, agent, "Bonjour Claire")
    org.now[0] += 1
    org.fake.add_comment(case_id, agent, "Vérifier l'identité", published=False)
    answer = await org.call("GET", "query", q=SELECT.format(case_id))
    page = answer.json()
    assert (page["totalSize"], page["done"], "nextRecordsUrl" in page) == (2, True, False)
    first = page["records"][0]
    assert first["attributes"] == {
        "type": "CaseComment",
        "url": f"/services/data/v66.0/sobjects/CaseComment/{reply}",
    }
    author = {"type": "User", "url": f"/services/data/v66.0/sobjects/User/{agent}"}
    assert first["CreatedBy"] == {"attributes": author, "Name": "Amélie Martin",
                                  "Email": "amelie@mabanque.fr", "UserType": "Standard"}  # fmt: skip
    assert (first["Id"], first["IsPublished"], first["CreatedDate"]) == (
        reply,
        True,
        "2023-11-14T22:13:20.000+0000",
    )
    published = await org.call(
        "GET", "query", q=SELECT.format(case_id).replace(" ORDER", " AND IsPublished = true ORDER")
    )
    assert [r["CommentBody"] for r in published.json()["records"]] == ["Bonjour Claire"]
    assert org.fake.violations == []


async def test_query_pages_follow_next_records_url(private_key: str) -> None:
    org = Org(private_key, page_size=2)
    await org.login()
    case_id = org.fake.add_case("Carte")
    for number in range(5):
        org.fake.add_comment(case_id, org.fake.api_user, f"c{number}", published=True)
    answer = (await org.call("GET", "query", q=SELECT.format(case_id))).json()
    bodies = [r["CommentBody"] for r in answer["records"]]
    while not answer["done"]:
        assert answer["nextRecordsUrl"].startswith("/services/data/v66.0/query/01g")
        answer = (await org.call("GET", INSTANCE + answer["nextRecordsUrl"])).json()
        assert answer["totalSize"] == 5
        bodies += [r["CommentBody"] for r in answer["records"]]
    assert bodies == ["c0", "c1", "c2", "c3", "c4"]
    assert org.fake.received()["GET /services/data/v66.0/query/{id}"] == 2
    assert org.fake.violations == []


@pytest.mark.parametrize(
    ("q", "code"),
    [("SELECT Id FROM Case", "MALFORMED_QUERY"),
     ("SELECT Id, Body FROM CaseComment WHERE ParentId = '500000000000000AAA'", "INVALID_FIELD"),
     ("SELECT Id FROM CaseComment WHERE ParentId = '500000000000000AAA' ORDER BY Subject", "MALFORMED_QUERY"),
     ("DELETE FROM CaseComment", "MALFORMED_QUERY")],
)  # fmt: skip
async def test_queries_the_fake_does_not_understand_are_refused(org: Org, q: str, code: str) -> None:
    assert org.refusal(await org.call("GET", "query", q=q)) == (400, code)
    assert [spec.error_code(v) for v in org.fake.violations] == [code]


async def test_a_query_on_a_malformed_case_id_is_refused(org: Org) -> None:
    answer = await org.call("GET", "query", q=SELECT.format("999999999"))
    assert org.refusal(answer) == (400, "INVALID_QUERY_FILTER_OPERATOR") and org.fake.violations == []


def test_soql_grammar_reads_the_design_query() -> None:
    query = spec.parse_soql(
        SELECT.format("500000000000000AAA").lower().replace("'500000000000000aaa'", "'500000000000000AAA'")
    )
    assert query.fields[-3:] == ("CreatedBy.Name", "CreatedBy.Email", "CreatedBy.UserType")
    assert (query.parent_id, query.order, query.published) == (
        "500000000000000AAA",
        (("CreatedDate", False), ("Id", False)),
        None,
    )


def test_ids_get_salesforce_checksum_suffixes() -> None:
    assert spec.to18("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert spec.to18("001A0000006Vm9rIAC") == "001A0000006Vm9rIAC"


# -- what Salesforce sends the gateway -----------------------------------------------------------------
def test_outbound_message_is_the_documented_soap_envelope(private_key: str) -> None:
    fake = FakeSalesforce(KEY, USERNAME, private_key, ORG, SECRET, lambda: START)
    case_id = fake.add_case("Carte")
    agent = fake.add_user("Amélie Martin", "amelie@mabanque.fr")
    comments = [
        fake.agent_reply(case_id, agent, "Bonjour"),
        fake.add_comment(case_id, agent, "n", published=False),
    ]
    headers, body = fake.outbound_message(comments)
    assert headers == {"content-type": "text/xml; charset=utf-8", "soapaction": '""'}
    envelope = fromstring(body)
    assert envelope.tag == "{http://schemas.xmlsoap.org/soap/envelope/}Envelope"
    notifications = envelope.find(
        "{http://schemas.xmlsoap.org/soap/envelope/}Body/" + OUTBOUND + "notifications"
    )
    assert notifications is not None
    assert [child.tag.rpartition("}")[2] for child in notifications] == [
        "OrganizationId", "ActionId", "SessionId", "EnterpriseUrl", "PartnerUrl",
        "Notification", "Notification"]  # fmt: skip
    assert notifications.findtext(OUTBOUND + "OrganizationId") == spec.to18(ORG)
    assert notifications.findtext(OUTBOUND + "ActionId", "").startswith("04k")
    session = notifications.find(OUTBOUND + "SessionId")
    assert session is not None and session.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"
    items = notifications.findall(OUTBOUND + "Notification")
    assert all(item.findtext(OUTBOUND + "Id", "").startswith("04l") for item in items)
    record = items[0].find(OUTBOUND + "sObject")
    assert record is not None and record.get(XSI_TYPE) == "sf:CaseComment"
    assert {field.tag.removeprefix(SF): field.text for field in record} == {
        "Id": comments[0], "ParentId": case_id, "IsPublished": "true", "CreatedById": agent}  # fmt: skip
    private = items[1].find(OUTBOUND + "sObject")
    assert private is not None and private.findtext(SF + "IsPublished") == "false"
    _, again = fake.outbound_message(
        comments[:1], notification_ids=["04l5g0000000001AAA"], organization_id="00Dother"
    )
    assert b"<Id>04l5g0000000001AAA</Id>" in again and b"<OrganizationId>00Dother</OrganizationId>" in again
    with pytest.raises(ValueError, match="1 to 100"):
        fake.outbound_message([])
    case_record = fromstring(fake.outbound_case_message([case_id])[1]).find(f".//{OUTBOUND}sObject")
    assert case_record is not None and case_record.get(XSI_TYPE) == "sf:Case"


def test_outbound_path_and_flow_callout_are_signed_as_the_apex_class_signs(private_key: str) -> None:
    fake = FakeSalesforce(KEY, USERNAME, private_key, ORG, SECRET, lambda: START)
    path = urlsplit(fake.outbound_path())
    assert (path.path, parse_qs(path.query)) == ("/webhooks/salesforce", {"token": [SECRET]})
    case_id = fake.add_case("Carte")
    headers, body = fake.flow_callout(case_id, at=START - 10)
    assert json.loads(body) == {"case_id": case_id}
    expected = hmac.new(SECRET.encode(), f"{int(START) - 10}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers == {"content-type": "application/json", "x-sav-bridge-timestamp": str(int(START) - 10),
                       "x-sav-bridge-signature": f"sha256={expected}"}  # fmt: skip
    forged, _ = fake.flow_callout(case_id, "00a5g0000000001AAA", secret="not-the-secret")
    assert forged["x-sav-bridge-signature"] != headers["x-sav-bridge-signature"]


def test_received_counts_operations_with_ids_replaced(private_key: str) -> None:
    fake = FakeSalesforce(KEY, USERNAME, private_key, ORG, SECRET, lambda: START)
    handle: Callable[[httpx.Request], httpx.Response] = fake.handle
    with httpx.Client(transport=httpx.MockTransport(handle)) as client:
        client.get(f"{API}/sobjects/Case/500000000000000AAA")
        client.patch(f"{API}/sobjects/Case/Sav_Bridge_Key__c/x_message_1", json={})
    assert fake.received() == {
        "GET /services/data/v66.0/sobjects/Case/{id}": 1,
        "PATCH /services/data/v66.0/sobjects/Case/Sav_Bridge_Key__c/{id}": 1,
    }


def test_from_settings_reads_the_salesforce_section(private_key: str, tmp_path: Any) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_text(private_key)

    class Settings:
        def helpdesk_section(self) -> dict[str, Any]:
            return {"consumer_key": KEY, "username": USERNAME, "private_key_file": str(key_file),
                    "organization_id": ORG, "webhook_secret": SECRET, "login_url": "https://test.salesforce.com",
                    "case_external_id": "Cle__c"}  # fmt: skip

    fake = FakeSalesforce.from_settings(Settings(), None, lambda: START)  # type: ignore[arg-type]
    assert fake.hosts == ("test.salesforce.com", "mabanque.my.salesforce.com")
    assert fake.external_ids == {"Contact": "X_User_Id__c", "Case": "Cle__c"}
    assert fake.organization_id == spec.to18(ORG)
