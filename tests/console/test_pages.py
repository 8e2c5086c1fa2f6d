"""The compliance page: shown to viewers behind the sign-in proxy, in French or English, escaped, locked down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.console.test_api import ALICE, AUDIENCE, ISSUER, PUBLIC_PEM, VICTOR, bearer, token
from tests.harness import Gateway, start_gateway


@pytest.fixture
async def gateway(sqlite_url: str, vendor_dir: Path | None) -> AsyncIterator[Gateway]:
    gw = await start_gateway(
        sqlite_url, vendor_dir, SAV_BRIDGE_CONSOLE__JWT__PUBLIC_KEY=PUBLIC_PEM,
        SAV_BRIDGE_CONSOLE__JWT__ISSUER=ISSUER, SAV_BRIDGE_CONSOLE__JWT__AUDIENCE=AUDIENCE,
    )  # fmt: skip
    yield gw
    await gw.client.aclose()
    await gw.runtime.close()


async def test_the_page_shows_the_policy_in_force_versions_and_queue_in_the_browsers_language(
    gateway: Gateway,
) -> None:
    client = gateway.client
    await client.post(
        "/api/v1/policies", json={"yaml": "version: x\nrules: []\n"}, headers=ALICE
    )  # refused: 422
    english = await client.get("/console/", headers={**VICTOR, "accept-language": "en-GB,en;q=0.8"})
    assert english.status_code == 200 and english.headers["content-type"].startswith("text/html")
    assert "Policy in force: 2026.12-1 (v1)" in english.text and "card-number" in english.text
    assert (
        "never posted" in english.text and "No reply is waiting." in english.text and "victor" in english.text
    )
    french = await client.get("/console/", headers={**VICTOR, "accept-language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert "Politique en vigueur: 2026.12-1 (v1)" in french.text
    assert "jamais publiée" in french.text and '<html lang="fr">' in french.text
    csp = english.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self';" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert english.headers["x-content-type-options"] == "nosniff"
    css = await client.get("/console/static/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


async def test_the_proxys_forwarded_token_is_accepted_and_refusals_say_what_is_missing(
    gateway: Gateway,
) -> None:
    client = gateway.client
    forwarded = await client.get("/console/", headers={"x-forwarded-access-token": token("victor", "viewer")})
    assert forwarded.status_code == 200
    anonymous = await client.get("/console/", headers={"accept-language": "fr"})
    assert anonymous.status_code == 401 and "Connectez-vous" in anonymous.text
    outsider = await client.get("/console/", headers=bearer(token("nina", ["marketing"])))
    assert outsider.status_code == 403 and "viewer" in outsider.text


async def test_what_people_wrote_is_shown_escaped(gateway: Gateway) -> None:
    client = gateway.client
    yaml = (
        'version: "<script>alert(1)</script>"\nrules:\n  - id: email\n'
        '    description: "<img src=x onerror=alert(1)>"\n    detector: {pii: email}\n    action: redact\n'
    )
    created = await client.post(
        "/api/v1/policies", json={"yaml": yaml, "comment": "<b>bold</b>"}, headers=ALICE
    )
    assert created.status_code == 201
    page = (await client.get("/console/", headers=VICTOR)).text
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
