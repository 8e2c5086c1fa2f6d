"""Whatever a browser, a script or an attacker sends the console and the compliance API: never a 500.

Random forms, bodies, ids and query strings go to every route that reads them, signed in as an approver
with a valid CSRF token (so that they reach the code behind the checks), on SQLite and on PostgreSQL
(which refuses NUL characters in text).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import strategies as odd
from tests.console.test_api import AUDIENCE, ISSUER, LENIENT, PUBLIC_PEM, token
from tests.live import Live, live_gateway

CSRF = "c" * 43
HEADERS = {"authorization": f"Bearer {token('olga', ['approver'], exp=2**40)}", "x-csrf-token": CSRF,
           "cookie": f"sav_bridge_csrf={CSRF}"}  # fmt: skip
FORM_ROUTES = ["/console/validate", "/console/versions", "/console/versions/{id}/activate",
               "/console/versions/{id}/test", "/console/approvals/{id}/approve", "/console/approvals/{id}/reject",
               "/console/login", "/console/logout"]  # fmt: skip
JSON_ROUTES = ["/api/v1/policies", "/api/v1/policies/{id}/activate", "/api/v1/policies/{id}/test",
               "/api/v1/decide", "/api/v1/approvals/{id}/approve", "/api/v1/approvals/{id}/reject"]  # fmt: skip
PAGES = ["/console/", "/console/versions/new", "/console/versions/{id}", "/console/audit", "/console/audit.csv",
         "/console/approvals", "/console/log", "/console/login", "/console/callback", "/api/v1/audit",
         "/api/v1/policies/{id}/diff", "/api/v1/admin-log", "/api/v1/approvals"]  # fmt: skip
FIELDS = ["yaml", "comment", "texts", "source", "days", "audience", "token", "csrf", "state", "code"]

texts = st.sampled_from(odd.TRICKY_STRINGS) | st.text(max_size=40)
ids = st.sampled_from(["1", "2", "0", "-1", "9" * 40, "1e3", "%00", "x"]) | st.integers(0, 5).map(str)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, vendor_dir: Path | None
) -> Iterator[Live]:
    yield from live_gateway(
        request.param, tmp_path_factory, vendor_dir, SAV_BRIDGE_SECRETS_KEY=Fernet.generate_key().decode(),
        SAV_BRIDGE_CONSOLE__JWT__PUBLIC_KEY=PUBLIC_PEM, SAV_BRIDGE_CONSOLE__JWT__ISSUER=ISSUER,
        SAV_BRIDGE_CONSOLE__JWT__AUDIENCE=AUDIENCE,
    )  # fmt: skip


def send(live: Live, method: str, path: str, **kwargs: Any) -> int:
    async def call() -> int:
        response = await live.gw.client.request(method, path, **kwargs)
        assert response.status_code < 500, (method, path, response.status_code, response.text[:500], kwargs)
        return response.status_code

    return live.loop.run_until_complete(call())


@settings(odd.FUZZ, max_examples=250)
@given(route=st.sampled_from(FORM_ROUTES), id_=ids, fields=st.dictionaries(st.sampled_from(FIELDS), texts))
def test_odd_forms_never_500(live: Live, route: str, id_: str, fields: dict[str, str]) -> None:
    body = urlencode({"csrf": CSRF, **fields}, errors="surrogatepass").encode()  # lone surrogates: not UTF-8
    headers = {**HEADERS, "content-type": "application/x-www-form-urlencoded"}
    send(
        live, "POST", route.replace("{id}", quote(id_, errors="surrogatepass")), content=body, headers=headers
    )


@settings(odd.FUZZ, max_examples=200)
@given(route=st.sampled_from(JSON_ROUTES + FORM_ROUTES), id_=ids, document=odd.json_values,
       content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain", ""]))  # fmt: skip
def test_odd_bodies_never_500(live: Live, route: str, id_: str, document: Any, content_type: str) -> None:
    headers = {**HEADERS, "content-type": content_type}
    send(
        live,
        "POST",
        route.replace("{id}", quote(id_, errors="surrogatepass")),
        content=json.dumps(document).encode(),
        headers=headers,
    )


@settings(odd.FUZZ, max_examples=200)
@given(route=st.sampled_from(PAGES), id_=ids, query=st.dictionaries(st.sampled_from(
    ["since", "until", "action", "rule", "agent", "version", "before", "limit", "format", "against", "from",
     "done", "status", "next", "state", "code", "error"]), texts))  # fmt: skip
def test_odd_queries_never_500(live: Live, route: str, id_: str, query: dict[str, str]) -> None:
    path = route.replace("{id}", quote(id_, errors="surrogatepass"))
    send(live, "GET", f"{path}?{urlencode(query, errors='surrogatepass')}", headers=HEADERS)


@pytest.mark.parametrize("text", ["a\x00b", "\ud800", "\x00"])
def test_text_a_database_refuses_is_refused_clearly(live: Live, text: str) -> None:
    """PostgreSQL refuses NUL in text: a comment, a policy or a rejection carrying one is a 4xx, not lost."""
    form = {**HEADERS, "content-type": "application/x-www-form-urlencoded"}
    created = send(live, "POST", "/console/versions", headers=form,
                   content=urlencode({"csrf": CSRF, "yaml": LENIENT, "comment": text}, errors="surrogatepass").encode())  # fmt: skip
    assert created in (303, 400, 422)
    body = json.dumps({"yaml": LENIENT + f"# {text}\n", "comment": text}).encode()  # \\u escapes
    api = send(
        live,
        "POST",
        "/api/v1/policies",
        content=body,
        headers={**HEADERS, "content-type": "application/json"},
    )
    assert api in (201, 400, 422)


@pytest.mark.parametrize(
    "yaml", ["version: 2026-13-45\nrules: []\n", "[" * 5000 + "]" * 5000, "a: 99999-01-01"]
)
def test_yaml_python_cannot_build_is_an_error_at_the_editor_not_a_500(live: Live, yaml: str) -> None:
    """Dates that do not exist and nesting too deep make PyYAML raise outside its own errors."""
    form = {**HEADERS, "content-type": "application/x-www-form-urlencoded"}
    assert (
        send(live, "POST", "/console/validate", headers=form, content=urlencode({"yaml": yaml}).encode())
        == 200
    )
    created = send(live, "POST", "/api/v1/policies", json={"yaml": yaml, "comment": ""}, headers=HEADERS)
    assert created == 422


@pytest.mark.parametrize("path", ["/console/audit", "/api/v1/audit", "/console/audit.csv"])
def test_an_audit_filter_with_a_nul_finds_nothing_instead_of_failing(live: Live, path: str) -> None:
    """PostgreSQL refuses NUL in a query parameter: a version filter holding one matches no decision."""
    query = urlencode({"version": "v1\x00"})
    assert send(live, "GET", f"{path}?{query}", headers=HEADERS) < 500
