"""How the fake X knows who calls it: OAuth 1.0a signatures checked for real, OAuth 2.0 tokens it issued.

- OAuth 1.0a user context: the signature is recomputed with oauthlib (RFC 5849 §3.4: query parameters
  and a form-encoded body are signed, a JSON or multipart body is not), against the app's consumer
  secret and the brand's token secret; the consumer key and token must be the configured ones, the
  timestamp within `TIMESTAMP_WINDOW` of the real time (the signer reads the real time), and a nonce is
  accepted once.
- OAuth 2.0 with PKCE: `approve()` plays the brand account (or, `as_user`, another account signed in
  on that browser) approving the app on X's consent page and gives the address X redirects to; `GET
  /2/users/me` with a token answers the account that approved it; `POST /2/oauth2/token` exchanges the code (the PKCE verifier must
  match the S256 challenge) or a refresh token. Access tokens expire after 7200 s on the fake's clock.
  Refresh tokens are single-use and rotate; a refresh token presented a second time revokes its whole
  family (every token descended from the same approval), as OAuth 2.1 and RFC 9700 §4.14.2 recommend
  for detecting a stolen token. X documents the rotation, not what it does on reuse; the fake takes the
  strict reading, so a gateway that passes here cannot lock a brand out there.
- Refusals: a 401 in X's documented shape; token-endpoint errors as X answers them (400 `invalid_request`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from oauthlib.oauth1 import Client
from oauthlib.oauth1.rfc5849 import signature, utils

from sav_bridge.config import Settings, same_secret
from sav_bridge.sandbox.base import Answer
from sav_bridge.sandbox.x.base import FakeXBase

TOKEN_PATH = "/2/oauth2/token"
ACCESS_TOKEN_SECONDS = 7200
CODE_SECONDS = 30
TIMESTAMP_WINDOW = 900
UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
INVALID_TOKEN = {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}
FORM = "application/x-www-form-urlencoded"


@dataclass
class OAuth1Keys:
    consumer_key: str
    consumer_secret: str
    token: str
    token_secret: str


@dataclass
class OAuth2App:
    client_id: str
    client_secret: str | None
    #: access token → (expires at, family); refresh token → (family, spent)
    access: dict[str, tuple[float, str]] = field(default_factory=dict)
    refresh: dict[str, tuple[str, bool]] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    #: family → the account (id, username) that approved it; the brand's when absent.
    owners: dict[str, tuple[str, str]] = field(default_factory=dict)


class UserAuth(FakeXBase):
    oauth1: OAuth1Keys | None = None
    oauth2: OAuth2App | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._nonces: dict[tuple[str, str], int] = {}
        #: Refresh-token grants received, answered or not (tests count them).
        self.refresh_calls: list[str] = []
        self.refused: list[httpx.Request] = []

    # -- set-up --------------------------------------------------------------------------------
    def use_oauth1(self, consumer_key: str, consumer_secret: str, token: str, token_secret: str) -> None:
        self.oauth1 = OAuth1Keys(consumer_key, consumer_secret, token, token_secret)

    def use_oauth2(self, client_id: str, client_secret: str | None) -> None:
        self.oauth2 = OAuth2App(client_id, client_secret)

    def grant_refresh_token(self, token: str | None = None) -> str:
        """A refresh token as if the brand had approved the app earlier (`x.refresh_token`)."""
        app = self._app()
        token = token or secrets.token_urlsafe(32)
        app.refresh[token] = (secrets.token_hex(8), False)
        return token

    def revoke_access(self) -> None:
        """The brand revokes the app on X: every OAuth 2.0 token and the OAuth 1.0a token stop working."""
        if self.oauth2 is not None:
            self.oauth2.revoked |= {family for _, family in self.oauth2.access.values()}
            self.oauth2.revoked |= {family for family, _ in self.oauth2.refresh.values()}
        if self.oauth1 is not None:
            self.oauth1.token = "revoked:" + self.oauth1.token

    def approve(self, authorize_url: str, as_user: tuple[str, str] | None = None) -> str:
        """The brand account (or `as_user`, (id, username) of another account) approves the app on X's
        consent page: the address X sends the browser to."""
        query = dict(parse_qsl(urlsplit(authorize_url).query))
        app = self._app()
        if query.get("client_id") != app.client_id or query.get("response_type") != "code":
            raise ValueError("X shows an error page: unknown client_id or response_type")
        if query.get("code_challenge_method") not in ("S256", "plain") or not query.get("code_challenge"):
            raise ValueError("X shows an error page: PKCE challenge missing")
        code = secrets.token_urlsafe(24)
        app.codes[code] = {**query, "at": self.clock(), "as_user": as_user}
        answer = {"state": query.get("state", ""), "code": code}
        return f"{query['redirect_uri']}?{urlencode(answer)}"

    def _app(self) -> OAuth2App:
        if self.oauth2 is None:
            raise ValueError("this fake X has no OAuth 2.0 app (use_oauth2)")
        return self.oauth2

    # -- who calls -----------------------------------------------------------------------------
    def authorised(self, request: httpx.Request) -> bool:
        header = request.headers.get("authorization", "")
        if header.startswith("OAuth "):
            ok = self._signed(request, header)
        elif header.startswith("Bearer "):
            ok = self._bearer(header[len("Bearer ") :])
        else:
            ok = False
        if not ok:
            self.refused.append(request)
        return ok

    def _bearer(self, token: str) -> bool:
        if self.oauth2 is not None and token in self.oauth2.access:
            expires, family = self.oauth2.access[token]
            return self.clock() < expires and family not in self.oauth2.revoked
        return bool(self.access_token) and hmac.compare_digest(token, self.access_token)

    def _signed(self, request: httpx.Request, header: str) -> bool:
        keys = self.oauth1
        if keys is None:
            return False
        try:
            oauth = {k: utils.unescape(v) for k, v in utils.parse_authorization_header(header)}
        except (ValueError, IndexError):
            return False
        if (
            oauth.get("oauth_consumer_key") != keys.consumer_key
            or not same_secret(oauth.get("oauth_token"), keys.token)
            or oauth.get("oauth_signature_method") != "HMAC-SHA1"
            or oauth.get("oauth_version", "1.0") != "1.0"
            or not self._fresh(oauth.get("oauth_timestamp", ""), oauth.get("oauth_nonce", ""), id(request))
        ):
            return False
        form = request.content.decode() if _is_form(request) else None
        params = signature.collect_parameters(
            uri_query=request.url.query.decode(), body=form, headers={"Authorization": header}
        )
        base = signature.signature_base_string(
            request.method,
            signature.base_string_uri(str(request.url)),
            signature.normalize_parameters(params),
        )
        signer = Client(
            keys.consumer_key, client_secret=keys.consumer_secret, resource_owner_secret=keys.token_secret
        )
        expected = signature.sign_hmac_sha1_with_client(base, signer)
        return hmac.compare_digest(expected, oauth.get("oauth_signature", ""))

    def _fresh(self, timestamp: str, nonce: str, request_id: int) -> bool:
        if not timestamp.isdigit() or not nonce or abs(time.time() - int(timestamp)) > TIMESTAMP_WINDOW:
            return False
        now = time.time()
        for seen in [k for k in self._nonces if abs(now - int(k[0])) > TIMESTAMP_WINDOW]:
            del self._nonces[seen]
        return self._nonces.setdefault((timestamp, nonce), request_id) == request_id

    def _users_me(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        """The token's owner: the account that approved it (OAuth 2.0), else the brand account."""
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        known = self.oauth2.access.get(token) if self.oauth2 is not None else None
        owner = self.oauth2.owners.get(known[1]) if self.oauth2 is not None and known else None
        if owner is None:
            return super()._users_me(request, match, body)
        return httpx.Response(200, json={"data": {"id": owner[0], "name": owner[1], "username": owner[1]}})

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
        if status == 401:
            return httpx.Response(401, json=UNAUTHORIZED, headers=headers)
        return super().error(status, message, headers)

    # -- the token endpoint --------------------------------------------------------------------
    def _dispatch(self, request: httpx.Request) -> Answer:
        if request.url.path == TOKEN_PATH and request.method == "POST":
            return self._token(request)
        return super()._dispatch(request)

    def _token(self, request: httpx.Request) -> httpx.Response:
        app = self.oauth2
        form = dict(parse_qsl(request.content.decode())) if _is_form(request) else {}
        if app is None or not self._client_ok(app, request, form):
            return httpx.Response(401, json={"error": "unauthorized_client", "error_description": "Missing valid authorization header"})  # fmt: skip
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self._code_grant(app, form)
        if grant == "refresh_token":
            self.refresh_calls.append(form.get("refresh_token", ""))
            return self._refresh_grant(app, form.get("refresh_token", ""))
        return httpx.Response(400, json={"error": "unsupported_grant_type"})

    def _client_ok(self, app: OAuth2App, request: httpx.Request, form: dict[str, str]) -> bool:
        if app.client_secret is None:
            return form.get("client_id") == app.client_id
        expected = base64.b64encode(f"{app.client_id}:{app.client_secret}".encode()).decode()
        return hmac.compare_digest(request.headers.get("authorization", ""), f"Basic {expected}")

    def _code_grant(self, app: OAuth2App, form: dict[str, str]) -> httpx.Response:
        code = app.codes.pop(form.get("code", ""), None)
        if code is None or self.clock() - code["at"] > CODE_SECONDS:
            return httpx.Response(400, json=INVALID_TOKEN)
        verifier = form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if code.get("code_challenge_method") == "S256"
            else verifier
        )
        if (
            not hmac.compare_digest(challenge, code["code_challenge"])
            or form.get("redirect_uri") != code["redirect_uri"]
        ):
            return httpx.Response(400, json={"error": "invalid_request", "error_description": "Value passed for the code verifier or redirect_uri was invalid."})  # fmt: skip
        family = secrets.token_hex(8)
        if code.get("as_user"):
            app.owners[family] = code["as_user"]
        return self._issue(app, family, code.get("scope", ""))

    def _refresh_grant(self, app: OAuth2App, token: str) -> httpx.Response:
        known = app.refresh.get(token)
        if known is None or known[0] in app.revoked:
            return httpx.Response(400, json=INVALID_TOKEN)
        family, spent = known
        if spent:
            app.revoked.add(family)  # a replayed refresh token: the whole family is revoked
            return httpx.Response(400, json=INVALID_TOKEN)
        app.refresh[token] = (family, True)
        return self._issue(app, family, "")

    def _issue(self, app: OAuth2App, family: str, scope: str) -> httpx.Response:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        app.access[access] = (self.clock() + ACCESS_TOKEN_SECONDS, family)
        app.refresh[refresh] = (family, False)
        body = {
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "access_token": access,
            "scope": scope or "tweet.read tweet.write users.read dm.read dm.write media.write offline.access",
            "refresh_token": refresh,
        }
        return httpx.Response(200, json=body)


def _is_form(request: httpx.Request) -> bool:
    content_type: str = request.headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower() == FORM


def configure_auth(fake: UserAuth, settings: Settings) -> None:
    """Give the fake the app's and the brand's credentials that the gateway is configured with."""
    x = settings.x
    if x.auth == "oauth2":
        fake.use_oauth2(x.client_id or "", x.client_secret.reveal() if x.client_secret else None)
        if x.refresh_token is not None:
            fake.grant_refresh_token(x.refresh_token.reveal())
        return
    keys = (x.consumer_key, x.access_token, x.access_token_secret)
    if all(key is not None for key in keys):
        key, token, secret = (k.reveal() for k in keys if k is not None)
        fake.use_oauth1(key, x.consumer_secret.reveal(), token, secret)
