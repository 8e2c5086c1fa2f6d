"""The console's forms, as a browser sends them: sign in with a token, write a version (errors at their
line, as you type too), test it with progress, activate it (four eyes), roll back, decide held replies.
Every form needs the browser's CSRF token and our own origin."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from sav_bridge.model import Audience
from tests.console.test_api import AUDIENCE, CARD, ISSUER, LENIENT, PUBLIC_PEM, token
from tests.console.test_approvals import HOLD_RULE, REFUND, held_reply
from tests.harness import Gateway, start_gateway

DEFAULT = Path(__file__).parent.parent.parent / "policies" / "default.yaml"
BROKEN = LENIENT.replace("action: redact", "action: shred").replace("detector: {pii: email}", "detector: {}")


@pytest.fixture
async def gateway(sqlite_url: str, vendor_dir: Path | None, tmp_path: Path) -> AsyncIterator[Gateway]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(DEFAULT.read_text(encoding="utf-8").replace("rules:\n", HOLD_RULE, 1), encoding="utf-8")
    gw = await start_gateway(
        sqlite_url, vendor_dir, SAV_BRIDGE_POLICY__PATH=str(policy), SAV_BRIDGE_SECRETS_KEY=Fernet.generate_key().decode(),
        SAV_BRIDGE_CONSOLE__JWT__PUBLIC_KEY=PUBLIC_PEM, SAV_BRIDGE_CONSOLE__JWT__ISSUER=ISSUER,
        SAV_BRIDGE_CONSOLE__JWT__AUDIENCE=AUDIENCE,
    )  # fmt: skip
    yield gw
    await gw.client.aclose()
    await gw.runtime.close()


def browser(gw: Gateway) -> httpx.AsyncClient:
    """A browser of its own: its own cookies, the gateway's address."""
    return httpx.AsyncClient(transport=gw.client._transport, base_url="http://gateway")


async def sign_in(gw: Gateway, subject: str, role: str, **claims: Any) -> tuple[httpx.AsyncClient, str]:
    """A browser signed in with a pasted token, and the CSRF value its pages carry."""
    person = browser(gw)
    page = await person.get("/console/login")
    csrf = _csrf(page.text)
    signed = await person.post(
        "/console/login", data={"token": token(subject, [role], **claims), "csrf": csrf}
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/console/"
    return person, csrf


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" content="([^"]+)"', html)
    assert found, "every page carries the CSRF token"
    return found[1]


async def test_a_pasted_token_opens_a_session_whose_cookie_is_locked_down(gateway: Gateway) -> None:
    person = browser(gateway)
    anonymous = await person.get("/console/")
    assert anonymous.status_code == 401 and 'id="token-login"' in anonymous.text
    csrf = _csrf(anonymous.text)
    forged = await person.post("/console/login", data={"token": token("mallory", ["approver"])[:-4] + "AAAA",
                                                        "csrf": csrf})  # fmt: skip
    assert forged.status_code == 401 and "refused" in forged.text
    assert "sav_bridge_session" not in forged.headers.get("set-cookie", "")
    no_csrf = await person.post("/console/login", data={"token": token("victor", ["viewer"])})
    assert no_csrf.status_code == 403 and "reload the page" in no_csrf.text
    signed = await person.post("/console/login", data={"token": token("victor", ["viewer"]), "csrf": csrf})
    cookie = signed.headers["set-cookie"]
    assert signed.status_code == 303 and "sav_bridge_session=" in cookie
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "Path=/console" in cookie
    page = await person.get("/console/")
    assert page.status_code == 200 and 'id="subject">victor<' in page.text
    log = (await person.get("/console/log")).text
    assert "console.login" in log
    tampered = browser(gateway)
    tampered.cookies.set("sav_bridge_session", person.cookies["sav_bridge_session"][:-6] + "AAAAAA")
    assert (await tampered.get("/console/")).status_code == 401


async def test_a_token_pasted_with_its_bearer_prefix_signs_in(gateway: Gateway) -> None:
    person = browser(gateway)
    csrf = _csrf((await person.get("/console/login")).text)
    pasted = f"Bearer {token('victor', ['viewer'])}\n"  # as copied from a curl command or a header
    signed = await person.post("/console/login", data={"token": pasted, "csrf": csrf})
    assert signed.status_code == 303 and (await person.get("/console/")).status_code == 200


async def test_behind_a_tls_proxy_the_cookies_are_secure_when_public_url_is_https(
    sqlite_url: str, vendor_dir: Path | None
) -> None:
    gw = await start_gateway(
        sqlite_url, vendor_dir, SAV_BRIDGE_PUBLIC_URL="https://sav.mabanque.fr",
        SAV_BRIDGE_SECRETS_KEY=Fernet.generate_key().decode(), SAV_BRIDGE_CONSOLE__JWT__PUBLIC_KEY=PUBLIC_PEM,
        SAV_BRIDGE_CONSOLE__JWT__ISSUER=ISSUER, SAV_BRIDGE_CONSOLE__JWT__AUDIENCE=AUDIENCE,
    )  # fmt: skip
    try:
        person = browser(
            gw
        )  # the proxy speaks plain HTTP to the gateway, and uvicorn trusts no proxy by default
        page = await person.get("/console/login")
        csrf = _csrf(page.text)
        person.cookies.set("sav_bridge_csrf", csrf)  # as the browser, on https, sends it back
        signed = await person.post(
            "/console/login", data={"token": token("victor", ["viewer"]), "csrf": csrf}
        )
        cookies = [page.headers["set-cookie"], signed.headers["set-cookie"]]
        assert signed.status_code == 303 and all("; secure" in c.lower() for c in cookies), cookies
    finally:
        await gw.client.aclose()
        await gw.runtime.close()


async def test_an_editor_sees_every_error_at_its_line_then_saves_a_draft(gateway: Gateway) -> None:
    alice, csrf = await sign_in(gateway, "alice", "editor")
    editor = await alice.get("/console/versions/new")
    assert editor.status_code == 200 and "card-number" in editor.text, (
        "the editor starts from the policy in force"
    )
    typed = await alice.post("/console/validate", data={"yaml": BROKEN}, headers={"x-csrf-token": csrf})
    errors = typed.json()["errors"]
    assert typed.status_code == 200 and len(errors) >= 2
    assert {e["line"] for e in errors} >= {6, 8} and all(e["message"] for e in errors)
    refused = await alice.post("/console/versions", data={"yaml": BROKEN, "comment": "looser", "csrf": csrf})
    assert refused.status_code == 422 and "line 8" in refused.text and "shred" in refused.text
    assert BROKEN.splitlines()[7].strip() in refused.text, "the text typed is kept, not lost"
    saved = await alice.post("/console/versions", data={"yaml": LENIENT, "comment": "looser", "csrf": csrf})
    assert saved.status_code == 303 and saved.headers["location"] == "/console/versions/2?done=created"
    page = await alice.get(saved.headers["location"])
    assert (
        "Draft saved." in page.text and 'id="activate-blocked"' in page.text and "approver role" in page.text
    )
    assert "-  - id: card-number" in page.text or "card-number" in page.text


async def test_forms_from_elsewhere_or_without_the_token_change_nothing(gateway: Gateway) -> None:
    alice, csrf = await sign_in(gateway, "alice", "editor")
    form = {"yaml": LENIENT, "comment": "x", "csrf": csrf}
    foreign = await alice.post("/console/versions", data=form, headers={"origin": "https://evil.example"})
    assert foreign.status_code == 403 and "another site" in foreign.text
    stale = await alice.post("/console/versions", data={**form, "csrf": "x" * 43})
    assert stale.status_code == 403
    json_body = await alice.post("/console/versions", json=form)
    assert json_body.status_code == 400
    huge = await alice.post("/console/versions", data={**form, "yaml": "a" * 600_000})
    assert huge.status_code == 413 and "KiB" in huge.text
    viewer, viewer_csrf = await sign_in(gateway, "victor", "viewer")
    as_viewer = await viewer.post("/console/versions", data={**form, "csrf": viewer_csrf})
    assert as_viewer.status_code == 403 and "editor" in as_viewer.text
    assert [v.id for v in await gateway.runtime.store.policies.all()] == [1]


async def test_a_test_shows_changed_decisions_first_and_streams_its_progress(gateway: Gateway) -> None:
    alice, csrf = await sign_in(gateway, "alice", "editor")
    await alice.post("/console/versions", data={"yaml": LENIENT, "comment": "looser", "csrf": csrf})
    replies = ["Merci, bonne journée !"] * 300 + [CARD]
    page = await alice.post("/console/versions/2/test", data={"texts": "\n".join(replies), "audience": "public",
                                                               "source": "texts", "csrf": csrf})  # fmt: skip
    assert page.status_code == 200
    rows = re.findall(r"<tr class=\"(changed)?\"><td>([^<]*)</td>", page.text)
    assert rows[0] == ("changed", CARD) and all(not changed for changed, _ in rows[1:])
    assert "301</strong>" in page.text and "<strong>1</strong>" in page.text
    streamed = await alice.post("/console/versions/2/test", data={"texts": "\n".join(replies), "csrf": csrf},
                                headers={"accept": "application/x-ndjson"})  # fmt: skip
    lines = [json.loads(line) for line in streamed.text.splitlines()]
    assert [line["done"] for line in lines] == [250, 301] and lines[-1]["total"] == 301
    assert lines[-1]["changed"] == 1 and 'class="changed"' in lines[-1]["html"] and "html" not in lines[0]
    empty = await alice.post("/console/versions/2/test", data={"source": "audit", "days": "30", "csrf": csrf})
    assert empty.status_code == 400 and "no posted reply" in empty.text


async def test_an_approver_activates_someone_elses_version_and_rolls_back(gateway: Gateway) -> None:
    alice, alice_csrf = await sign_in(gateway, "alice", "editor")
    await alice.post("/console/versions", data={"yaml": LENIENT, "comment": "looser", "csrf": alice_csrf})
    assert (await alice.post("/console/versions/2/activate", data={"csrf": alice_csrf})).status_code == 403
    bob, csrf = await sign_in(gateway, "bob", "approver")
    assert 'id="activate-button"' in (await bob.get("/console/versions/2")).text
    activated = await bob.post("/console/versions/2/activate", data={"csrf": csrf})
    assert activated.status_code == 303 and activated.headers["location"].endswith("done=activated")
    assert gateway.runtime.policy.current.version.endswith("(v2)")
    assert gateway.runtime.policy.decide(CARD, Audience.PUBLIC).action == "allow"
    back = await bob.get("/console/versions/1")
    assert "Roll back to this version" in back.text
    rolled = await bob.post("/console/versions/1/activate", data={"csrf": csrf})
    assert rolled.status_code == 303 and gateway.runtime.policy.current.version.endswith("(v1)")
    log = (await bob.get("/console/log")).text
    assert log.count("policy.activate") == 2


async def test_an_approver_decides_a_held_reply_from_the_queue(gateway: Gateway) -> None:
    ticket, approval = await held_reply(gateway)
    bob, csrf = await sign_in(gateway, "bob", "approver")
    queue = await bob.get("/console/approvals")
    assert REFUND in queue.text and f"/console/approvals/{approval}/approve" in queue.text
    no_reason = await bob.post(f"/console/approvals/{approval}/reject", data={"comment": " ", "csrf": csrf})
    assert no_reason.status_code == 400 and gateway.x.brand_posts == []
    for subject, claims in (("amelie@mabanque.fr", {}), ("00u1amelie", {"email": "Amelie@MaBanque.fr"})):
        author, author_csrf = await sign_in(gateway, subject, "approver", **claims)
        assert "another approver decides it" in (await author.get("/console/approvals")).text
        own = await author.post(f"/console/approvals/{approval}/approve", data={"csrf": author_csrf})
        assert own.status_code == 403 and "four eyes" in own.text
    approved = await bob.post(f"/console/approvals/{approval}/approve", data={"csrf": csrf})
    assert approved.status_code == 303 and approved.headers["location"] == "/console/approvals?done=approved"
    await gateway.settle()
    assert [p.text for p in gateway.x.brand_posts] == [f"{REFUND} ^AJ"]
    again = await bob.post(f"/console/approvals/{approval}/approve", data={"csrf": csrf})
    assert again.status_code == 409
    assert "bob" in (await bob.get("/console/approvals")).text and ticket


async def test_the_audit_page_filters_and_exports(gateway: Gateway) -> None:
    await held_reply(gateway)
    victor, _ = await sign_in(gateway, "victor", "viewer")
    page = await victor.get("/console/audit?action=hold")
    assert page.status_code == 200 and "refund-hold" in page.text and "held for approval" in page.text
    assert REFUND not in page.text, "the audit shows no reply text"
    none = await victor.get("/console/audit?action=block")
    assert "No decision matches." in none.text
    exported = await victor.get("/console/audit.csv?action=hold")
    assert exported.headers["content-type"].startswith("text/csv") and "refund-hold" in exported.text
    assert (await victor.get("/console/audit?since=soon")).status_code == 400


async def test_a_rejection_from_the_queue_tells_the_agent_why_and_posts_nothing(gateway: Gateway) -> None:
    ticket, approval = await held_reply(gateway)
    bob, csrf = await sign_in(gateway, "bob", "approver")
    why = "Le montant n'est pas validé par le service client."
    rejected = await bob.post(f"/console/approvals/{approval}/reject", data={"comment": why, "csrf": csrf})
    assert rejected.status_code == 303 and rejected.headers["location"] == "/console/approvals?done=rejected"
    await gateway.settle()
    assert gateway.x.brand_posts == []
    assert (
        gateway.zendesk.notes(ticket)[-1].endswith(why)
        and "rejected by bob" in gateway.zendesk.notes(ticket)[-1]
    )
    page = (await bob.get("/console/approvals?done=rejected")).text
    assert "Rejected: the agent is told why." in page and why.replace("'", "&#39;") in page
