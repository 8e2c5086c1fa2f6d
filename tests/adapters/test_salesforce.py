"""The Salesforce plugin's own manners, on answers written from Salesforce's documentation with respx:
the JWT bearer assertion, session renewal, refused grants, the quota 403, HTTP 300 and 204 upserts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt
from sav_bridge_salesforce import SalesforceHelpdesk
from sav_bridge_salesforce.helpdesk import QUOTA_WAIT

from sav_bridge.errors import ConfigError, PermanentError, RetryableError
from sav_bridge.model import MessageKind, SocialMessage, SocialUser, TicketRef

LOGIN = "https://test.salesforce.com"
INSTANCE = "https://mabanque--uat.sandbox.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v66.0"
ORG = "00D5g000004ABCDEAA"
ME = "0055g00000APIUSERAA"[:18]
CASE = "5005g00000CASE1AAA"
NOW = 1_780_000_000.0


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def section(key: rsa.RSAPrivateKey) -> dict[str, str]:
    return {
        "login_url": LOGIN,
        "consumer_key": "3MVG9-consumer-key",
        "username": "sav-bridge@mabanque.fr.uat",
        "private_key": pem(key),
        "organization_id": ORG,
        "webhook_secret": "salesforce-outbound-token-0123456789",
    }


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def granted(token: str = "session-1") -> httpx.Response:
    return httpx.Response(200, json={"access_token": token, "instance_url": INSTANCE, "token_type": "Bearer",
                                     "id": f"{LOGIN}/id/{ORG}/{ME}", "scope": "api", "issued_at": "1780000000000",
                                     "signature": "c2lnbmF0dXJl"})  # fmt: skip


def plugin(section: dict[str, str]) -> SalesforceHelpdesk:
    return SalesforceHelpdesk(httpx.AsyncClient(), section, clock=lambda: NOW)


async def test_the_assertion_is_the_documented_jwt_signed_with_the_apps_key(
    mock: respx.MockRouter, section: dict[str, str], key: rsa.RSAPrivateKey
) -> None:
    token_route = mock.post(f"{LOGIN}/services/oauth2/token").mock(return_value=granted())
    mock.get(f"{DATA}/sobjects/User/{ME}").mock(
        return_value=httpx.Response(200, json={"Name": "SAV Bridge", "Username": section["username"]})
    )
    said = await plugin(section).check_credentials()
    assert "SAV Bridge" in said and ORG in said
    request = token_route.calls.last.request
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = parse_qs(request.content.decode())
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = jwt.decode(form["assertion"][0], public.decode(), algorithms=["RS256"], audience=LOGIN,
                        options={"verify_exp": False})  # fmt: skip
    assert claims["iss"] == section["consumer_key"] and claims["sub"] == section["username"]
    assert (
        0 < claims["exp"] - NOW <= 180 and jwt.get_unverified_header(form["assertion"][0])["alg"] == "RS256"
    )


@pytest.mark.parametrize(
    ("description", "hint"),
    [
        ("user hasn't approved this consumer", "pre-authorized"),
        ("audience is invalid", "https://test.salesforce.com"),
        ("invalid assertion", "certificate"),
    ],
)
async def test_a_refused_grant_names_its_likely_cause(
    mock: respx.MockRouter, section: dict[str, str], description: str, hint: str
) -> None:
    mock.post(f"{LOGIN}/services/oauth2/token").mock(
        return_value=httpx.Response(400, json={"error": "invalid_grant", "error_description": description})
    )
    with pytest.raises(PermanentError) as caught:
        await plugin(section).check_credentials()
    assert caught.value.status == 401 and description in str(caught.value) and hint in str(caught.value)
    assert section["private_key"][40:80] not in str(caught.value)


async def test_an_ended_session_is_renewed_once_and_the_call_repeated(
    mock: respx.MockRouter, section: dict[str, str]
) -> None:
    tokens = mock.post(f"{LOGIN}/services/oauth2/token").mock(side_effect=[granted("old"), granted("new")])
    expired = httpx.Response(
        401, json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    )
    case = mock.get(f"{DATA}/sobjects/Case/{CASE}").mock(
        side_effect=[expired, httpx.Response(200, json={"Id": CASE, "Sav_Bridge_Reply_By_DM__c": True})]
    )
    mock.get(f"{DATA}/query").mock(
        return_value=httpx.Response(200, json={"totalSize": 0, "done": True, "records": []})
    )
    assert await plugin(section).agent_replies(TicketRef("salesforce", CASE)) == []
    assert tokens.call_count == 2 and case.calls.last.request.headers["authorization"] == "Bearer new"


async def test_the_quota_403_holds_every_call_without_asking_again(
    mock: respx.MockRouter, section: dict[str, str]
) -> None:
    mock.post(f"{LOGIN}/services/oauth2/token").mock(return_value=granted())
    spent = httpx.Response(403, json=[{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
                           headers={"Sforce-Limit-Info": "api-usage=15001/15000"})  # fmt: skip
    case = mock.get(f"{DATA}/sobjects/Case/{CASE}").mock(return_value=spent)
    helpdesk = plugin(section)
    for _ in range(2):
        with pytest.raises(RetryableError) as caught:
            await helpdesk.agent_replies(TicketRef("salesforce", CASE))
        assert caught.value.retry_after == QUOTA_WAIT
    assert case.call_count == 1


async def test_api_usage_is_read_from_every_answer(mock: respx.MockRouter, section: dict[str, str]) -> None:
    mock.post(f"{LOGIN}/services/oauth2/token").mock(return_value=granted())
    mock.get(f"{DATA}/sobjects/User/{ME}").mock(
        return_value=httpx.Response(
            200, json={"Name": "SAV"}, headers={"Sforce-Limit-Info": "api-usage=18/5000"}
        )
    )
    helpdesk = plugin(section)
    assert helpdesk.api_usage() == {}
    await helpdesk.check_credentials()
    assert helpdesk.api_usage() == {"used": 18.0, "limit": 5000.0}


def message() -> SocialMessage:
    user = SocialUser("2100000000000000001", "claire_dupont", "Claire Dupont")
    return SocialMessage("x", "1500000000000000001", "1900000000000000001", MessageKind.DM, user,
                         "Ma carte est bloquée", "2026-11-25T09:00:00.000Z", "x:dm:1:2")  # fmt: skip


async def test_a_case_key_matching_several_cases_is_permanent_and_says_why(
    mock: respx.MockRouter, section: dict[str, str]
) -> None:
    mock.post(f"{LOGIN}/services/oauth2/token").mock(return_value=granted())
    mock.patch(url__regex=rf"{DATA}/sobjects/Contact/X_User_Id__c/\d+").mock(
        return_value=httpx.Response(
            201, json={"id": "0035g00000CONTACT1", "success": True, "errors": [], "created": True}
        )
    )
    mock.patch(url__regex=rf"{DATA}/sobjects/Case/Sav_Bridge_Key__c/.+").mock(
        return_value=httpx.Response(
            300,
            json=[
                f"/services/data/v66.0/sobjects/Case/{CASE}",
                "/services/data/v66.0/sobjects/Case/5005g00000CASE2AAA",
            ],
        )
    )
    with pytest.raises(PermanentError) as caught:
        await plugin(section).open_ticket(None, message(), "x.message:dm:1")  # type: ignore[arg-type]
    assert caught.value.status == 300 and "Sav_Bridge_Key__c" in str(caught.value)


async def test_an_upsert_answered_204_by_an_older_api_is_read_back(
    mock: respx.MockRouter, section: dict[str, str]
) -> None:
    mock.post(f"{LOGIN}/services/oauth2/token").mock(return_value=granted())
    mock.patch(url__regex=rf"{DATA}/sobjects/Contact/X_User_Id__c/\d+").mock(return_value=httpx.Response(204))
    mock.get(url__regex=rf"{DATA}/sobjects/Contact/X_User_Id__c/\d+").mock(
        return_value=httpx.Response(200, json={"attributes": {"type": "Contact"}, "Id": "0035g00000CONTACT1"})
    )
    upsert = mock.patch(url__regex=rf"{DATA}/sobjects/Case/Sav_Bridge_Key__c/.+").mock(
        return_value=httpx.Response(201, json={"id": CASE, "success": True, "errors": [], "created": True})
    )
    ticket = await plugin(section).open_ticket(None, message(), "x.message:dm:1")  # type: ignore[arg-type]
    body = json.loads(upsert.calls.last.request.content)
    assert ticket.id == CASE and body["ContactId"] == "0035g00000CONTACT1"
    assert "Sav_Bridge_Key__c" not in body and "Id" not in body and body["Status"] == "New"
    key = upsert.calls.last.request.url.path.rsplit("/", 1)[1]  # "x.message:dm:1" has a dot: digested
    assert key.startswith("k-") and "." not in key and ":" not in key


def test_an_unreadable_key_is_a_configuration_error_naming_the_key(
    section: dict[str, str], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        plugin(
            {**section, "private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"}
        )
    assert caught.value.key == "salesforce.private_key" and "not a key" not in str(caught.value)
    without = {k: v for k, v in section.items() if k != "private_key"}
    with pytest.raises(ConfigError) as caught:
        plugin({**without, "private_key_file": str(tmp_path / "missing.pem")})
    assert caught.value.key == "salesforce.private_key_file"
    (tmp_path / "app.pem").write_text(section["private_key"])
    plugin({**without, "private_key_file": str(tmp_path / "app.pem")})
