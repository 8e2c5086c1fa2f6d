"""X's OAuth 2.0 authorization-code flow with PKCE (RFC 6749 §4.1 and §6, RFC 7636): the address the brand
account approves the app at, the code exchange and the refresh grant. Nothing here stores anything.

X's facts: the consent page is `https://x.com/i/oauth2/authorize` (the spec's securitySchemes name
api.x.com/2/oauth2/authorize, which X's documentation and its own SDK do not use for the browser); the
token endpoint is `POST /2/oauth2/token`, form-encoded, with HTTP Basic client authentication for a
confidential client; access tokens live two hours (`expires_in: 7200`); refresh tokens are single-use and
each refresh answers a new one.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from sav_bridge.channels.x.client import X_ERRORS
from sav_bridge.config import Secret
from sav_bridge.errors import PermanentError, RetryableError
from sav_bridge.http import json_body, send

AUTHORIZE_URL = "https://x.com/i/oauth2/authorize"
TOKEN_PATH = "/2/oauth2/token"
#: What the gateway does as the brand account: read and write posts (tweet.*) and DMs (dm.*), look users
#: up, upload an agent's image (media.write), and keep its access without a person (offline.access: X
#: issues a refresh token only with it). No scope fetches a DM's media: X serves it to OAuth 1.0a only.
SCOPES = ("tweet.read", "tweet.write", "users.read", "dm.read", "dm.write", "media.write", "offline.access")


class TokenRefused(Exception):
    """X refused the grant (a code or refresh token invalid, expired, revoked or already used): only a
    person can restore access, with `sav-bridge x connect`."""


@dataclass(frozen=True)
class Tokens:
    """One grant as stored: the access token may be missing (seeded from a refresh token only)."""

    access_token: str | None
    refresh_token: str | None
    expires_at: float
    scope: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "scope": self.scope,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tokens:
        return cls(
            data.get("access_token"),
            data.get("refresh_token"),
            float(data.get("expires_at") or 0),
            str(data.get("scope") or ""),
        )


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str
    method: str = "S256"


def new_pkce() -> Pkce:
    """A fresh verifier (86 unreserved characters, RFC 7636 allows 43 to 128) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    return Pkce(verifier, create_s256_code_challenge(verifier))


def new_state() -> str:
    return secrets.token_urlsafe(32)


def authorize_url(
    client_id: str, redirect_uri: str, state: str, pkce: Pkce, base: str = AUTHORIZE_URL
) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(SCOPES),
        "state": state,
        "code_challenge": pkce.challenge,
        "code_challenge_method": pkce.method,
    }
    return f"{base}?{urlencode(query, quote_via=quote)}"


class OAuth2Client:
    """Calls to X's token endpoint for one app (`x.client_id`, and `x.client_secret` when confidential).

    Each call is sent once, never retried inline (a code and a refresh token are single-use: a repeat
    after a lost answer would be refused, and X may revoke the grant), and takes `timeout` seconds at
    most in all, so that a lease held around it can be sized from it.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_url: str,
        client_id: str,
        client_secret: Secret | None,
        clock: Callable[[], float],
        timeout: float = 10.0,
    ) -> None:
        self._http = http
        self._url = api_url.rstrip("/") + TOKEN_PATH
        self.client_id = client_id
        self._secret = client_secret
        self._clock = clock
        self.timeout = timeout

    async def exchange(self, code: str, verifier: str, redirect_uri: str) -> Tokens:
        """The tokens for an authorisation `code` (from X's redirect), proven by the PKCE `verifier`."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        return await self._token(form, None)

    async def refresh(self, refresh_token: str) -> Tokens:
        """A new access token and a new refresh token; `refresh_token` is spent whatever happens next."""
        return await self._token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}, refresh_token
        )

    async def _token(self, form: dict[str, str], previous_refresh: str | None) -> Tokens:
        form["client_id"] = self.client_id
        auth = httpx.BasicAuth(self.client_id, self._secret.reveal()) if self._secret else None
        try:
            async with asyncio.timeout(self.timeout):
                response = await send(
                    self._http,
                    X_ERRORS,
                    "POST",
                    self._url,
                    attempts=1,
                    timeout=self.timeout,
                    data=form,
                    auth=auth,
                )
        except TimeoutError:
            raise RetryableError("x", f"the token call took over {self.timeout:g} s") from None
        except PermanentError as exc:
            if exc.status in (400, 401, 403):
                raise TokenRefused(f"X refused the {form['grant_type']} grant (HTTP {exc.status})") from None
            raise
        body = json_body(response)
        access, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(access, str) or not isinstance(expires_in, int | float):
            raise PermanentError("x", "token answer without access_token and expires_in")
        refresh = body.get("refresh_token")
        return Tokens(
            access,
            refresh if isinstance(refresh, str) else previous_refresh,
            self._clock() + float(expires_in),
            str(body.get("scope") or ""),
        )
