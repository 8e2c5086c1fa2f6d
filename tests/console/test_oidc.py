"""The console's own sign-in against a fake identity provider that checks what a real one checks.

`FakeProvider` follows OpenID Connect Core 1.0 §3.1 (authorization code flow), RFC 6749 §4.1 and §2.3.1
(client authentication) and RFC 7636 §4.6 (PKCE): a code is single use and bound to the client, the
redirect URI and the S256 challenge of the authorization request; the client authenticates as the
discovery document says; the ID token it signs (ES256, its own key) carries iss, aud, sub, nonce, exp,
iat and the person's groups.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

import httpx
import pytest
import respx
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt
from starlette.applications import Starlette
from starlette.requests import Request

from sav_bridge.app import create_app
from sav_bridge.config import OidcSettings, load_settings
from sav_bridge.console.auth import Principal
from sav_bridge.console.oidc import FLOW_COOKIE, redirect_uri, safe_next
from sav_bridge.console.session import CSRF_COOKIE, SESSION_COOKIE, SessionSealer
from sav_bridge.runtime import Runtime
from sav_bridge.sandbox import Sandbox
from tests.harness import Clock, Gateway, gateway_env, pass_fault_time

ISSUER = "https://login.mabanque.fr/realms/staff"
IDP_HOST = "login.mabanque.fr"
CONSOLE = "https://console.mabanque.fr"
CALLBACK = f"{CONSOLE}/console/callback"
CLIENT_ID = "sav-bridge-console"
CLIENT_SECRET = "oidc-client-secret-never-shown"
AUTHORIZE_URL = f"{ISSUER}/protocol/openid-connect/auth"
TOKEN_URL = f"{ISSUER}/protocol/openid-connect/token"
JWKS_URL = f"{ISSUER}/protocol/openid-connect/certs"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Grant:
    """What the provider remembers of an authorization request it answered with a code."""

    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    claims: dict[str, Any]


@dataclass
class FakeProvider:
    """An OpenID Provider: discovery, JWKS and token endpoint as respx routes, and the login page's outcome."""

    secret: str | None = CLIENT_SECRET
    auth_methods: list[str] | None = None
    registered: tuple[str, ...] = (CALLBACK,)
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    codes: dict[str, Grant] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    refusals: list[str] = field(default_factory=list)
    client_auth: list[str] = field(default_factory=list)
    issued: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.router = respx.Router(assert_all_mocked=True)
        self.discovery = self.router.get(f"{ISSUER}/.well-known/openid-configuration").mock(
            side_effect=self._discovery
        )
        self.jwks = self.router.get(JWKS_URL).mock(side_effect=self._jwks)
        self.token = self.router.post(TOKEN_URL).mock(side_effect=self._token)

    def _discovery(self, request: httpx.Request) -> httpx.Response:
        document: dict[str, Any] = {
            "issuer": ISSUER, "authorization_endpoint": AUTHORIZE_URL, "token_endpoint": TOKEN_URL,
            "jwks_uri": JWKS_URL, "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"], "code_challenge_methods_supported": ["S256"],
        }  # fmt: skip
        if self.auth_methods is not None:
            document["token_endpoint_auth_methods_supported"] = self.auth_methods
        return httpx.Response(200, json=document)

    def _jwks(self, request: httpx.Request) -> httpx.Response:
        numbers = self.key.public_key().public_numbers()
        jwk = {"kty": "EC", "crv": "P-256", "kid": "staff-1", "use": "sig", "alg": "ES256",
               "x": b64url(numbers.x.to_bytes(32, "big")), "y": b64url(numbers.y.to_bytes(32, "big"))}  # fmt: skip
        return httpx.Response(200, json={"keys": [jwk]})

    def authorize(
        self, location: str, sub: str = "sophie", groups: Any = ("compliance-leads",), **claims: Any
    ) -> str:
        """The person signs in at the provider: the callback URL it sends the browser to (§3.1.2.5)."""
        assert location.startswith(AUTHORIZE_URL + "?"), location
        query = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
        assert query["response_type"] == "code" and "openid" in query["scope"].split(" ")
        assert query["client_id"] == CLIENT_ID and query["redirect_uri"] in self.registered
        assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
        code = secrets.token_urlsafe(16)
        now = int(time.time())
        body = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "sub": sub,
            "iat": now,
            "exp": now + 300,
            "groups": list(groups),
        }
        if "nonce" in query:
            body["nonce"] = query["nonce"]
        self.codes[code] = Grant(CLIENT_ID, query["redirect_uri"], query["code_challenge"], query.get("nonce"),
                                 {**body, **claims})  # fmt: skip
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"

    def _refuse(self, status: int, error: str, why: str) -> httpx.Response:
        self.refusals.append(why)
        return httpx.Response(status, json={"error": error, "error_description": why})

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {name: values[0] for name, values in parse_qs(request.content.decode()).items()}
        if form.get("grant_type") != "authorization_code":
            return self._refuse(400, "unsupported_grant_type", "grant_type must be authorization_code")
        client_id, problem = self._authenticate(request, form)
        if problem:
            return self._refuse(401, "invalid_client", problem)
        grant = self.codes.get(form.get("code", ""))
        if grant is None or form["code"] in self.used:
            return self._refuse(400, "invalid_grant", "unknown or already used code")
        self.used.add(form["code"])
        if grant.client_id != client_id or form.get("redirect_uri") != grant.redirect_uri:
            return self._refuse(400, "invalid_grant", "client or redirect_uri differs from the request's")
        verifier = form.get("code_verifier", "")
        if (
            not 43 <= len(verifier) <= 128
            or b64url(hashlib.sha256(verifier.encode()).digest()) != grant.challenge
        ):
            return self._refuse(400, "invalid_grant", "code_verifier does not match the challenge")
        self.issued.append(grant.claims)
        id_token = jwt.encode(grant.claims, self._pem(), algorithm="ES256", headers={"kid": "staff-1"})
        return httpx.Response(200, json={"access_token": "at", "token_type": "Bearer", "id_token": id_token})

    def _authenticate(self, request: httpx.Request, form: dict[str, str]) -> tuple[str, str | None]:
        methods = self.auth_methods or ["client_secret_basic"]
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            self.client_auth.append("client_secret_basic")
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            client_id, secret = unquote_plus(user), unquote_plus(password)
            if "client_secret_basic" not in methods:
                return client_id, "client_secret_basic is not allowed"
        elif "client_secret" in form:
            self.client_auth.append("client_secret_post")
            client_id, secret = form.get("client_id", ""), form["client_secret"]
            if "client_secret_post" not in methods:
                return client_id, "client_secret_post is not allowed"
        else:
            self.client_auth.append("none")
            client_id, secret = form.get("client_id", ""), ""
        if client_id != CLIENT_ID:
            return client_id, "unknown client"
        if self.secret is not None and secret != self.secret:
            return client_id, "client authentication failed"
        return client_id, None

    def _pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()


@dataclass
class Console:
    gateway: Gateway
    app: Starlette
    idp: FakeProvider

    @property
    def client(self) -> httpx.AsyncClient:
        return self.gateway.client

    @property
    def sealer(self) -> SessionSealer:
        sealer: SessionSealer = self.app.state.session_sealer
        return sealer

    async def sign_in(self, next_path: str | None = None, **claims: Any) -> httpx.Response:
        """Login, the provider's page, then the callback: the gateway's last answer."""
        query = f"?{urlencode({'next': next_path})}" if next_path is not None else ""
        started = await self.client.get(f"/console/login/oidc{query}")
        assert started.status_code == 302, started.text
        return await self.client.get(self.idp.authorize(started.headers["location"], **claims))


async def start_console(database_url: str, vendor_dir: Path | None, idp: FakeProvider, **env: str) -> Console:
    """A gateway whose HTTP client reaches the fake provider, the other fakes through the sandbox."""
    oidc = {"SAV_BRIDGE_SECRETS_KEY": Fernet.generate_key().decode(), "SAV_BRIDGE_CONSOLE__OIDC__ISSUER": ISSUER,
            "SAV_BRIDGE_CONSOLE__OIDC__CLIENT_ID": CLIENT_ID,
            "SAV_BRIDGE_CONSOLE__ROLES__COMPLIANCE-LEADS": "approver",
            "SAV_BRIDGE_CONSOLE__JWT__ISSUER": ISSUER, "SAV_BRIDGE_CONSOLE__JWT__AUDIENCE": CLIENT_ID,
            "SAV_BRIDGE_CONSOLE__JWT__JWKS_URL": JWKS_URL, "SAV_BRIDGE_CONSOLE__JWT__ROLES_CLAIM": "groups"}  # fmt: skip
    if idp.secret is not None:
        oidc["SAV_BRIDGE_CONSOLE__OIDC__CLIENT_SECRET"] = idp.secret
    settings = load_settings(None, gateway_env(database_url, **{**oidc, **env}))
    clock = Clock()
    sandbox = Sandbox(settings, vendor_dir, clock)
    pass_fault_time(sandbox, clock, settings)
    others = sandbox.transport()

    async def route(request: httpx.Request) -> httpx.Response:
        if request.url.host == IDP_HOST:
            return idp.router.handler(request)
        return await others.handle_async_request(request)

    transport = httpx.MockTransport(cast(Callable[[httpx.Request], httpx.Response], route))
    runtime = await Runtime.start(settings, transport=transport, clock=clock)
    app = create_app(settings, runtime)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=CONSOLE)
    return Console(Gateway(settings, runtime, sandbox, client, clock), app, idp)


@pytest.fixture
def idp() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
async def console(sqlite_url: str, vendor_dir: Path | None, idp: FakeProvider) -> AsyncIterator[Console]:
    started = await start_console(sqlite_url, vendor_dir, idp)
    yield started
    await started.client.aclose()
    await started.gateway.runtime.close()


def cookies(response: httpx.Response) -> dict[str, Any]:
    """The Set-Cookie headers of an answer, by name."""
    jar: dict[str, Any] = {}
    for header in response.headers.get_list("set-cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        jar.update(parsed)
    return jar


def assert_refused(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    for word in words:
        assert word in response.text, response.text
    assert SESSION_COOKIE not in cookies(response)


async def test_signing_in_seals_the_person_into_an_httponly_lax_console_cookie(
    console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    started = await console.client.get("/console/login/oidc?next=/console/approvals")
    assert started.status_code == 302 and started.headers["cache-control"] == "no-store"
    query = parse_qs(urlsplit(started.headers["location"]).query)
    assert query["scope"] == ["openid profile email"] and query["redirect_uri"] == [CALLBACK]
    assert query["code_challenge_method"] == ["S256"] and query["state"][0] != query["nonce"][0]
    flow = cookies(started)[FLOW_COOKIE]
    assert flow["httponly"] and flow["secure"] and flow["samesite"] == "lax"
    assert flow["path"] == "/console" and flow["max-age"] == "600"

    done = await console.client.get(console.idp.authorize(started.headers["location"]))
    assert done.status_code == 303 and done.headers["location"] == "/console/approvals", done.text
    assert console.idp.refusals == [] and console.idp.client_auth == ["client_secret_basic"]
    session = cookies(done)[SESSION_COOKIE]
    assert session["httponly"] and session["secure"] and session["samesite"] == "lax"
    expires_in = console.idp.issued[0]["exp"] - int(console.gateway.clock())
    assert session["path"] == "/console" and int(session["max-age"]) == expires_in  # never past the ID token
    assert cookies(done)[FLOW_COOKIE]["max-age"] == "0"  # the sign-in in progress is over
    opened = console.sealer.open(session.value)
    assert opened is not None and opened.principal == Principal("sophie", frozenset({"approver"}))
    logged = await console.gateway.runtime.store.admin_log.read()
    assert [(e["actor"], e["action"], e["detail"]) for e in logged] == [
        ("sophie", "console.login", {"method": "oidc"})
    ]

    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert CLIENT_SECRET not in caplog.text and basic not in caplog.text
    assert CLIENT_SECRET not in started.headers["location"] and CLIENT_SECRET not in done.text


@pytest.mark.parametrize(
    ("secret", "methods", "expected"),
    [(CLIENT_SECRET, ["client_secret_post"], "client_secret_post"), (None, None, "none")],
    ids=["secret-in-form", "public-client"],
)
async def test_the_client_authenticates_as_the_provider_says(
    sqlite_url: str, vendor_dir: Path | None, secret: str | None, methods: list[str] | None, expected: str
) -> None:
    started = await start_console(sqlite_url, vendor_dir, FakeProvider(secret=secret, auth_methods=methods))
    try:
        done = await started.sign_in()
        assert done.status_code == 303 and done.headers["location"] == "/console/", done.text
        assert started.idp.client_auth == [expected] and started.idp.refusals == []
    finally:
        await started.client.aclose()
        await started.gateway.runtime.close()


async def test_an_answer_for_another_browsers_sign_in_is_refused(console: Console) -> None:
    started = await console.client.get("/console/login/oidc")
    callback = console.idp.authorize(started.headers["location"])
    forged = callback.replace("state=", "state=x")
    assert_refused(await console.client.get(forged), 400, "state differs")
    console.client.cookies.clear()
    assert_refused(await console.client.get(callback), 400, "no sign-in in progress")
    console.client.cookies.set(FLOW_COOKIE, "gAAAAAforged", domain="console.mabanque.fr", path="/console")
    assert_refused(await console.client.get(callback), 400, "no sign-in in progress")
    assert console.idp.token.call_count == 0  # nothing was exchanged


async def test_a_sign_in_left_over_ten_minutes_is_refused(console: Console) -> None:
    started = await console.client.get("/console/login/oidc")
    callback = console.idp.authorize(started.headers["location"])
    console.gateway.clock.advance(601)
    assert_refused(await console.client.get(callback), 400, "took over 10 minutes")


async def test_a_replayed_callback_signs_nobody_in(console: Console) -> None:
    started = await console.client.get("/console/login/oidc")
    flow = cookies(started)[FLOW_COOKIE].value
    callback = console.idp.authorize(started.headers["location"])
    assert (await console.client.get(callback)).status_code == 303
    assert_refused(await console.client.get(callback), 400, "no sign-in in progress")
    # Even with the sign-in cookie kept from before, the provider takes a code once.
    console.client.cookies.clear()
    console.client.cookies.set(FLOW_COOKIE, flow, domain="console.mabanque.fr", path="/console")
    assert_refused(await console.client.get(callback), 502, "invalid_grant", "already used code")


@pytest.mark.parametrize(
    ("claims", "words"),
    [
        ({"nonce": "another-sign-in"}, "nonce differs"),
        ({"aud": "another-app"}, "audience"),
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"iss": "https://login.example.com"}, "issuer"),
    ],
    ids=["nonce", "audience", "expired", "issuer"],
)
async def test_an_id_token_not_meant_for_this_sign_in_is_refused(
    console: Console, claims: dict[str, Any], words: str
) -> None:
    assert_refused(await console.sign_in(**claims), 400, words)
    assert await console.gateway.runtime.store.admin_log.read() == []


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (httpx.Response(400, json={"error": "invalid_grant", "error_description": "code expired"}),
         "answered 400: invalid_grant (code expired)"),
        (httpx.Response(500, text="<html>down</html>"), "answered 500"),
        (httpx.Response(200, text="not json"), "did not answer with a JSON object"),
        (httpx.Response(200, json={"access_token": "at"}), "gave no id_token"),
        (httpx.ReadTimeout, "did not answer within 10 s"),
    ],
    ids=["400", "500", "not-json", "no-id-token", "timeout"],
)  # fmt: skip
async def test_a_failing_token_endpoint_is_a_clear_502(console: Console, answer: Any, words: str) -> None:
    if isinstance(answer, httpx.Response):
        console.idp.token.mock(return_value=answer)
    else:
        console.idp.token.mock(side_effect=answer)
    assert_refused(await console.sign_in(), 502, "token endpoint", words, "Sign in again")


@pytest.mark.parametrize(
    "answer",
    [
        httpx.ConnectError,
        httpx.Response(503),
        httpx.Response(200, json={"issuer": "https://login.example.com"}),
    ],
    ids=["unreachable", "503", "other-issuer"],
)
async def test_an_unreadable_discovery_document_is_a_clear_502(console: Console, answer: Any) -> None:
    if isinstance(answer, httpx.Response):
        console.idp.discovery.mock(return_value=answer)
    else:
        console.idp.discovery.mock(side_effect=answer)
    response = await console.client.get("/console/login/oidc")
    assert_refused(response, 502, "discovery document")
    assert FLOW_COOKIE not in cookies(response)


async def test_the_discovery_document_is_read_once_an_hour(console: Console) -> None:
    for _ in range(3):
        assert (await console.client.get("/console/login/oidc")).status_code == 302
    assert console.idp.discovery.call_count == 1
    console.gateway.clock.advance(3601)
    assert (await console.client.get("/console/login/oidc")).status_code == 302
    assert console.idp.discovery.call_count == 2


async def test_the_providers_error_is_shown_escaped(console: Console) -> None:
    started = await console.client.get("/console/login/oidc")
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    error = urlencode(
        {"error": "access_denied", "error_description": "<script>alert(1)</script>", "state": state}
    )
    response = await console.client.get(f"/console/callback?{error}")
    assert_refused(response, 400, "access_denied", "&lt;script&gt;alert(1)&lt;/script&gt;")
    assert "<script>" not in response.text
    missing = await console.client.get(f"/console/callback?{urlencode({'state': state})}")
    assert_refused(missing, 400, "no authorization code")


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/console/", "/console//evil.example", "/\\evil.example",
     "/consoles", "/console/../metrics", "/console/\r\nSet-Cookie: x=1", ""],
)  # fmt: skip
async def test_next_never_leaves_the_console(console: Console, target: str) -> None:
    done = await console.sign_in(next_path=target)
    assert done.status_code == 303 and done.headers["location"] == "/console/"


def test_safe_next_keeps_console_paths_and_the_callback_address_follows_the_configuration() -> None:
    assert safe_next("/console/versions/3?tab=diff") == "/console/versions/3?tab=diff"
    assert safe_next(None) == "/console/"
    scope = {"type": "http", "scheme": "http", "server": ("10.0.0.7", 8080), "path": "/console/login/oidc",
             "query_string": b"", "headers": [(b"host", b"10.0.0.7:8080")]}  # fmt: skip
    request = Request(scope)
    settings = OidcSettings(ISSUER, CLIENT_ID)
    assert redirect_uri(request, settings, None) == "http://10.0.0.7:8080/console/callback"
    assert (
        redirect_uri(request, settings, "https://sav.mabanque.fr/")
        == "https://sav.mabanque.fr/console/callback"
    )
    assert redirect_uri(request, OidcSettings(ISSUER, CLIENT_ID, redirect_url=CALLBACK), None) == CALLBACK


async def test_logging_out_needs_the_forms_csrf_token(console: Console) -> None:
    assert (await console.sign_in()).status_code == 303
    token = secrets.token_urlsafe(32)
    console.client.cookies.set(CSRF_COOKIE, token, domain="console.mabanque.fr", path="/console")
    assert_refused(await console.client.post("/console/logout"), 403, "still signed in")
    other_site = await console.client.post(
        "/console/logout", data={"csrf": token}, headers={"origin": "https://evil.example"}
    )
    assert_refused(other_site, 403, "another site")
    out = await console.client.post("/console/logout", data={"csrf": token})
    assert out.status_code == 303 and out.headers["location"] == "/console/login"
    assert cookies(out)[SESSION_COOKIE]["max-age"] == "0"
    actions = [e["action"] for e in await console.gateway.runtime.store.admin_log.read()]
    assert actions == ["console.logout", "console.login"]


async def test_without_console_oidc_the_sign_in_says_so(sqlite_gateway: Gateway) -> None:
    off = await sqlite_gateway.client.get("/console/login/oidc")
    assert_refused(off, 404, "console.oidc is not set")
    assert (await sqlite_gateway.client.get("/console/callback?code=x&state=y")).status_code == 404


async def test_without_a_session_key_the_sign_in_says_what_is_missing(console: Console) -> None:
    del console.app.state.session_sealer
    assert_refused(await console.client.get("/console/login/oidc"), 503, "secrets_key")


def test_a_sign_in_cookie_cannot_pass_for_a_session() -> None:
    sealer = SessionSealer(Fernet.generate_key(), 8)
    flow = sealer.seal_value("oidc-flow", {"sub": "mallory", "roles": ["approver"], "exp": time.time() + 60})
    assert sealer.open(flow) is None and sealer.open_value(flow, "oidc-flow", 600) is not None
    session, _ = sealer.seal(Principal("sophie", frozenset({"viewer"})), time.time() + 60)
    assert sealer.open_value(session, "oidc-flow", 600) is None
