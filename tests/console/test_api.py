"""The compliance API end to end: tokens refused or admitted, roles, four eyes, versions, rollback, log."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwt

from sav_bridge.console import audit as audit_log
from tests.harness import CLAIRE, Gateway, start_gateway

ISSUER, AUDIENCE = "https://idp.mabanque.fr", "sav-bridge-console"
IDP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = (
    IDP_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
CARD = "Votre carte 4970 1012 3456 7893 est débloquée"
LENIENT = """version: 2026.12-1
name: e-mail addresses only
rules:
  - id: email
    description: E-mail addresses, in DMs only.
    detector: {pii: email}
    audience: [dm]
    action: redact
"""


def pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def token(
    sub: str, roles: Any, key: Any = IDP_KEY, alg: str = "RS256", kid_header: str | None = None, **claims: Any
) -> str:
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,  # module-level tokens outlive a slow suite
        "roles": roles,
    }
    headers = {"kid": kid_header} if kid_header else None
    return jwt.encode({**body, **claims}, pem(key), algorithm=alg, headers=headers)


def bearer(value: str) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"}


ALICE = bearer(token("alice", ["editor"]))
BOB = bearer(token("bob", ["compliance_leads"]))  # a company group mapped to approver
VICTOR = bearer(token("victor", "viewer"))


@pytest.fixture
async def gateway(sqlite_url: str, vendor_dir: Path | None) -> AsyncIterator[Gateway]:
    gw = await start_gateway(
        sqlite_url,
        vendor_dir,
        SAV_BRIDGE_CONSOLE__JWT__PUBLIC_KEY=PUBLIC_PEM,
        SAV_BRIDGE_CONSOLE__JWT__ISSUER=ISSUER,
        SAV_BRIDGE_CONSOLE__JWT__AUDIENCE=AUDIENCE,
        SAV_BRIDGE_CONSOLE__ROLES__COMPLIANCE_LEADS="approver",
    )
    yield gw
    await gw.client.aclose()
    await gw.runtime.close()


async def test_without_console_jwt_the_api_is_off(sqlite_gateway: Gateway) -> None:
    response = await sqlite_gateway.client.get("/api/v1/policies", headers=ALICE)
    assert response.status_code == 404 and "console.jwt" in response.json()["error"]


def _part(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims() -> dict[str, Any]:
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "mallory",
        "exp": int(time.time()) + 300,
        "roles": ["approver"],
    }


def hs256_with_the_public_key() -> str:
    """The classic confusion attack: HMAC keyed with the provider's public key, which anyone has."""
    signing_input = f"{_part({'alg': 'HS256', 'typ': 'JWT'})}.{_part(_claims())}"
    mac = hmac.new(PUBLIC_PEM.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def unsigned() -> str:
    return f"{_part({'alg': 'none', 'typ': 'JWT'})}.{_part(_claims())}."


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Basic YWxpY2U6eA=="},
        bearer("not-a-jwt"),
        bearer(token("alice", ["approver"], key=OTHER_KEY)),
        bearer(token("alice", ["approver"], exp=int(time.time()) - 3600)),
        bearer(token("alice", ["approver"], nbf=int(time.time()) + 3600)),
        bearer(token("alice", ["approver"], aud="another-app")),
        bearer(token("alice", ["approver"], iss="https://evil.example")),
        bearer(hs256_with_the_public_key()),
        bearer(unsigned()),
        bearer(token("alice", ["approver"], key=ec.generate_private_key(ec.SECP256R1()), alg="ES256")),
    ],
    ids=["none", "basic", "garbage", "other key", "expired", "not yet", "audience", "issuer", "hs256 public key",
         "alg none", "es256 other key"],
)  # fmt: skip
async def test_a_token_that_is_not_the_providers_is_a_401_and_changes_nothing(
    gateway: Gateway, headers: dict[str, str]
) -> None:
    response = await gateway.client.post("/api/v1/policies", json={"yaml": LENIENT}, headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
    assert len(await gateway.runtime.store.policies.all()) == 1


async def test_roles_say_who_may_do_what(gateway: Gateway) -> None:
    client = gateway.client
    refused = await client.post("/api/v1/policies", json={"yaml": LENIENT}, headers=VICTOR)
    assert refused.status_code == 403 and "editor" in refused.json()["error"]
    assert (await client.get("/api/v1/policies", headers=VICTOR)).status_code == 200
    nobody = bearer(token("nina", ["marketing"]))
    assert (await client.get("/api/v1/policies", headers=nobody)).status_code == 403
    draft = (await client.post("/api/v1/policies", json={"yaml": LENIENT}, headers=ALICE)).json()
    denied = await client.post(f"/api/v1/policies/{draft['id']}/activate", headers=ALICE)
    assert denied.status_code == 403 and "approver" in denied.json()["error"]


async def test_an_invalid_policy_is_a_422_listing_every_error_with_line_and_key(gateway: Gateway) -> None:
    bad = LENIENT.replace("action: redact", "action: explode").replace(
        "audience: [dm]", "audience: [everyone]"
    )
    response = await gateway.client.post(
        "/api/v1/policies", json={"yaml": bad, "comment": "x"}, headers=ALICE
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert len(errors) >= 2 and all(e["line"] for e in errors)
    assert {e["line"] for e in errors} >= {7, 8}
    assert (await gateway.client.post("/api/v1/policies", content=b"{", headers=ALICE)).status_code == 400


async def test_draft_four_eyes_activation_decision_rollback_and_the_log(gateway: Gateway) -> None:
    client = gateway.client
    created = await client.post(
        "/api/v1/policies", json={"yaml": LENIENT, "comment": "cards allowed"}, headers=ALICE
    )
    assert (
        created.status_code == 201
        and created.headers["location"] == f"/api/v1/policies/{created.json()['id']}"
    )
    draft = created.json()
    assert (draft["status"], draft["author"]) == ("draft", "alice")
    listed = (await client.get("/api/v1/policies", headers=VICTOR)).json()["policies"]
    assert [(v["id"], v["status"]) for v in listed] == [(draft["id"], "draft"), (1, "active")]
    assert (await client.get(f"/api/v1/policies/{draft['id']}", headers=VICTOR)).json()["yaml"] == LENIENT
    diff = (await client.get(f"/api/v1/policies/{draft['id']}/diff?against=1", headers=VICTOR)).json()["diff"]
    assert "+name: e-mail addresses only" in diff and "-  - id: card-number" in diff
    assert (await client.get("/api/v1/policies/999/diff", headers=VICTOR)).status_code == 404
    before = (await client.post("/api/v1/decide", json={"text": CARD}, headers=VICTOR)).json()
    assert before["action"] == "block" and before["policy_version"] == "2026.12-1 (v1)"
    author = bearer(token("alice", ["approver"]))
    own = await client.post(f"/api/v1/policies/{draft['id']}/activate", headers=author)
    assert own.status_code == 403 and "four eyes" in own.json()["error"]
    same_person = bearer(token("Alice", ["approver"]))
    own = await client.post(f"/api/v1/policies/{draft['id']}/activate", headers=same_person)
    assert own.status_code == 403 and "four eyes" in own.json()["error"]
    activated = await client.post(f"/api/v1/policies/{draft['id']}/activate", headers=BOB)
    assert activated.status_code == 200 and activated.json()["activated_by"] == "bob"
    after = (
        await client.post("/api/v1/decide", json={"text": CARD, "audience": "public"}, headers=VICTOR)
    ).json()
    assert after["action"] == "allow" and after["policy_version"] == f"2026.12-1 (v{draft['id']})"
    assert (await client.get("/readyz")).json()["policy_version"] == f"2026.12-1 (v{draft['id']})"
    rollback = await client.post("/api/v1/policies/1/activate", headers=BOB)
    assert rollback.status_code == 200 and rollback.json()["status"] == "active"
    assert (await client.post("/api/v1/decide", json={"text": CARD}, headers=VICTOR)).json()[
        "action"
    ] == "block"
    log = (await client.get("/api/v1/admin-log", headers=VICTOR)).json()["entries"]
    assert [(e["actor"], e["action"], e["target"]) for e in log] == [
        ("bob", "policy.activate", "policy/1"),
        ("bob", "policy.activate", f"policy/{draft['id']}"),
        ("alice", "policy.create", f"policy/{draft['id']}"),
    ]
    assert log[0]["detail"]["rollback"] is True and all(e["address"] for e in log)


async def test_the_openapi_document_describes_every_route(gateway: Gateway) -> None:
    document = (await gateway.client.get("/api/v1/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/api/v1/policies", "/api/v1/policies/{id}", "/api/v1/policies/{id}/diff",
        "/api/v1/policies/{id}/activate", "/api/v1/policies/{id}/test", "/api/v1/decide", "/api/v1/admin-log", "/api/v1/audit",
        "/api/v1/approvals", "/api/v1/approvals/{id}/approve", "/api/v1/approvals/{id}/reject",
        "/api/v1/jobs", "/api/v1/jobs/{id}", "/api/v1/jobs/{id}/retry", "/api/v1/jobs/{id}/replay",
        "/api/v1/jobs/{id}/skip", "/api/v1/quarantine", "/api/v1/quarantine/{id}", "/api/v1/quarantine/{id}/replay",
        "/webhooks/x", "/webhooks/{helpdesk}",
    }  # fmt: skip


async def test_odd_ids_and_bodies_are_clear_refusals(gateway: Gateway) -> None:
    client = gateway.client
    for path in ("/api/v1/policies/abc", "/api/v1/policies/99999999999999999999", "/api/v1/policies/-1"):
        assert (await client.get(path, headers=VICTOR)).status_code == 404
    for body in ({"yaml": 3}, {"yaml": ""}, [], {"yaml": LENIENT, "comment": {"a": 1}}):
        response = await client.post("/api/v1/policies", json=body, headers=ALICE)
        assert response.status_code == 400, body
    assert (
        await client.post("/api/v1/decide", json={"text": "x", "audience": "all"}, headers=VICTOR)
    ).status_code == 400


async def test_the_audit_lists_decisions_filters_pages_and_exports_csv_without_any_text(
    gateway: Gateway,
) -> None:
    gw, client = gateway, gateway.client
    await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque ma carte est bloquée"))
    await gw.drain()
    ticket = gw.only_ticket()
    agent = gw.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    for text in (CARD, "Bonjour Claire, c'est débloqué."):
        gw.zendesk.agent_comment(ticket, agent, text)
        await gw.ring(ticket)
        await gw.settle()
    entries = (await client.get("/api/v1/audit", headers=VICTOR)).json()["entries"]
    assert [(e["action"], e["rules"], e["agent_name"]) for e in entries] == [
        ("allow", [], "Amélie Jourdain"),
        ("block", ["card-number"], "Amélie Jourdain"),
    ]
    assert entries[0]["ticket"] == f"zendesk:{ticket}" and entries[0]["policy_version"] == "2026.12-1 (v1)"
    blocked = (await client.get("/api/v1/audit?action=block&rule=card-number", headers=VICTOR)).json()[
        "entries"
    ]
    assert [e["id"] for e in blocked] == [entries[1]["id"]]
    assert (await client.get("/api/v1/audit?agent=Bruno", headers=VICTOR)).json()["entries"] == []
    assert (
        len((await client.get("/api/v1/audit?version=2026.12-1 (v1)", headers=VICTOR)).json()["entries"]) == 2
    )
    first = (await client.get("/api/v1/audit?limit=1", headers=VICTOR)).json()
    second = (await client.get(f"/api/v1/audit?limit=1&before={first['next_before']}", headers=VICTOR)).json()
    assert [first["entries"][0]["id"], second["entries"][0]["id"]] == [e["id"] for e in entries]
    future = time.time() + 3600
    assert (await client.get(f"/api/v1/audit?since={future}", headers=VICTOR)).json()["entries"] == []
    assert (await client.get("/api/v1/audit?since=soon", headers=VICTOR)).status_code == 400
    assert (await client.get("/api/v1/audit?since=nan", headers=VICTOR)).status_code == 400
    exported = await client.get("/api/v1/audit?format=csv", headers=VICTOR)
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.splitlines()
    assert (
        lines[0].startswith("id,at,ticket,comment,agent_id,agent_name,audience,action,rules")
        and len(lines) == 3
    )
    assert "4970" not in exported.text and "7893" not in exported.text
    assert (await client.get("/api/v1/audit")).status_code == 401


async def test_a_version_is_tried_on_texts_and_on_audited_replies_before_it_is_activated(
    gateway: Gateway,
) -> None:
    gw, client = gateway, gateway.client
    draft = (await client.post("/api/v1/policies", json={"yaml": LENIENT}, headers=ALICE)).json()
    texts = [{"text": "Bonjour, tout est réglé."}, {"text": CARD, "audience": "public"},
             {"text": "Écrivez à claire@example.com", "audience": "dm"}]  # fmt: skip
    tried = await client.post(f"/api/v1/policies/{draft['id']}/test", json={"texts": texts}, headers=ALICE)
    assert tried.status_code == 200
    result = tried.json()
    assert (result["tested"], result["changed"]) == (3, 2)
    assert result["candidate_version"] == f"2026.12-1 (v{draft['id']})"
    assert (
        result["results"][-1]["text"] == "Bonjour, tout est réglé." and not result["results"][-1]["changed"]
    )
    first = next(r for r in result["results"] if r["text"] == CARD)
    assert first["changed"] is True
    assert (first["active"]["action"], first["candidate"]["action"]) == ("block", "allow")
    assert (
        await client.post(f"/api/v1/policies/{draft['id']}/test", json={"texts": texts}, headers=VICTOR)
    ).status_code == 403
    for body in ({}, {"texts": []}, {"texts": [{"text": 1}]}, {"texts": [{"text": "x", "audience": "all"}]},
                 {"from_audit": {"limit": 0}}, {"from_audit": {"since": "soon"}}):  # fmt: skip
        assert (
            await client.post(f"/api/v1/policies/{draft['id']}/test", json=body, headers=ALICE)
        ).status_code == 400
    assert (
        await client.post("/api/v1/policies/404/test", json={"texts": texts}, headers=ALICE)
    ).status_code == 404
    # Replies the gateway decided on: the audit keeps what was (or would have been) posted, never a blocked text.
    await gw.post_x(gw.x.customer_dm(CLAIRE, "Bonjour"))
    await gw.drain()
    ticket = gw.only_ticket()
    agent = gw.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    for text in (CARD, "Écrivez-nous à support@mabanque.fr"):
        gw.zendesk.agent_comment(ticket, agent, text)
        await gw.ring(ticket)
        await gw.settle()
    replayed = (await client.post(f"/api/v1/policies/{draft['id']}/test", json={"from_audit": {"limit": 50}},
                                  headers=ALICE)).json()  # fmt: skip
    assert replayed["tested"] == 1 and "4970" not in json.dumps(replayed)


async def test_a_body_over_the_limit_is_refused_before_it_is_read(gateway: Gateway) -> None:
    huge = b'{"yaml": "' + b"a" * (300 * 1024) + b'"}'
    response = await gateway.client.post("/api/v1/policies", content=huge, headers=ALICE)
    assert response.status_code == 413 and "over" in response.json()["error"]
    assert len(await gateway.runtime.store.policies.all()) == 1


async def test_a_filtered_audit_pages_past_what_one_request_reads_and_the_csv_has_every_row(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_log, "SCAN", 4)  # rows one request reads at most (5000 in production)
    store = gateway.runtime.store
    agent = {"id": 7, "name": "Amélie Jourdain"}
    await store.audit("policy", "zendesk:1:10", {"action": "block", "agent": agent, "findings": []}, "v1")
    for n in range(9):
        await store.audit("policy", f"zendesk:1:{11 + n}", {"action": "allow", "agent": agent}, "v1")
    found, before, requests = [], "", 0
    while before is not None and requests < 10:
        page = (await gateway.client.get(f"/api/v1/audit?action=block{before}", headers=VICTOR)).json()
        found += [e["comment"] for e in page["entries"]]
        before, requests = page["next_before"] and f"&before={page['next_before']}", requests + 1
    assert found == ["10"], "an older decision beyond the rows one request reads is still found"
    exported = await gateway.client.get("/api/v1/audit?format=csv", headers=VICTOR)
    assert len(exported.text.splitlines()) == 1 + 10, "the export holds every row, not one page"


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_neutralised() -> None:
    names = ['=HYPERLINK("http://evil")', "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "Amélie"]
    rows = [{**dict.fromkeys(audit_log.FIELDS, ""), "rules": [], "agent_name": name} for name in names]
    lines = list(csv.reader(io.StringIO(audit_log.as_csv(rows))))[1:]
    assert [line[5] for line in lines] == ["'" + name for name in names[:-1]] + ["Amélie"]
    assert lines[0][3] == "", "an empty cell stays empty"


async def test_the_openapi_document_names_every_status_a_route_answers(gateway: Gateway) -> None:
    paths = (await gateway.client.get("/api/v1/openapi.json")).json()["paths"]
    tried = [
        ("get", "/api/v1/approvals", "/api/v1/approvals?status=maybe", {"headers": VICTOR}),
        ("post", "/api/v1/approvals/{id}/approve", "/api/v1/approvals/1/approve", {"headers": VICTOR}),
        ("post", "/api/v1/policies", "/api/v1/policies", {"json": {}, "headers": ALICE}),
        ("get", "/api/v1/audit", "/api/v1/audit?since=soon", {"headers": VICTOR}),
        ("post", "/api/v1/decide", "/api/v1/decide", {"json": {"text": 1}, "headers": VICTOR}),
    ]
    for method, path, url, options in tried:
        answered = await gateway.client.request(method.upper(), url, **options)
        assert str(answered.status_code) in paths[path][method]["responses"], (url, answered.status_code)
    approve = paths["/api/v1/approvals/{id}/approve"]["post"]
    assert "400" in approve["responses"] and "requestBody" in approve, "an optional comment, as JSON"
