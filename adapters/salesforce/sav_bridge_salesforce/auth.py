"""The OAuth 2.0 JWT bearer flow: a session for the integration user, asked for with a signed assertion.

No secret travels: the gateway signs a short JWT (RS256, `iss` the connected app's consumer key, `sub`
the integration user, `aud` the login URL, `exp` three minutes ahead) with the private key whose
certificate the admin uploaded to the app, and posts it as a form to `<login_url>/services/oauth2/token`.
The answer carries no refresh token and no lifetime: the session is kept until a call answers 401
(`INVALID_SESSION_ID`), then asked for again once, under a lock so concurrent workers share one renewal.
A refused grant is a `PermanentError` (status 401) naming the likely cause and its fix.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt

from sav_bridge.config import same_secret
from sav_bridge.errors import ConfigError, PermanentError, RetryableError
from sav_bridge.http import VendorErrors, raise_for_vendor, transport_errors

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: Salesforce accepts an assertion that expires within three minutes.
ASSERTION_SECONDS = 180
ALGORITHM = "RS256"
TOKEN_ERRORS = VendorErrors(name="salesforce")

#: What Salesforce's `error_description` means, and what the admin does about it.
CAUSES = {
    "user hasn't approved this consumer": (
        "the integration user is not pre-authorised for the connected app: set its policy to "
        "'Admin approved users are pre-authorized' and add the user's profile or permission set"
    ),
    "audience is invalid": (
        "salesforce.login_url is the wrong audience: https://login.salesforce.com for production, "
        "https://test.salesforce.com for a sandbox"
    ),
    "invalid assertion": (
        "the JWT signature does not match: the certificate uploaded to the connected app is not the one "
        "of salesforce.private_key"
    ),
    "expired authorization code": "the assertion expired on arrival: check this machine's clock",
    "user is locked": "the integration user is locked out in Salesforce",
    "client identifier invalid": "salesforce.consumer_key names no connected app of this org",
    "invalid_client_id": "salesforce.consumer_key names no connected app of this org",
}


@dataclass(frozen=True)
class Session:
    """An access token and where to use it; `user_id` and `organization_id` are read from its `id` URL."""

    access_token: str
    instance_url: str
    user_id: str
    organization_id: str


def load_private_key(pem: str, key: str = "salesforce.private_key") -> rsa.RSAPrivateKey:
    """The RSA key of a PEM text; `ConfigError` naming `key` (never its value) when it is not one."""
    try:
        private = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigError(key, "is not an unencrypted PEM private key") from None
    if not isinstance(private, rsa.RSAPrivateKey):
        raise ConfigError(key, "must be an RSA key (Salesforce signs JWT bearer assertions with RS256)")
    return private


def assertion(
    private_key: rsa.RSAPrivateKey, consumer_key: str, username: str, audience: str, now: float
) -> str:
    """The signed JWT the token endpoint exchanges for a session."""
    claims = {"iss": consumer_key, "sub": username, "aud": audience, "exp": int(now) + ASSERTION_SECONDS}
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    token: str = jwt.encode(claims, pem.decode(), algorithm=ALGORITHM)
    return token


def refusal(response: httpx.Response) -> str:
    """Why the token endpoint said no, with the likely cause; never echoes the assertion."""
    try:
        data = response.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    error = str(data.get("error") or f"HTTP {response.status_code}")[:80]
    description = str(data.get("error_description") or "")[:200]
    cause = CAUSES.get(description) or CAUSES.get(error)
    said = f"{error}: {description}" if description else error
    return f"{said} ({cause})" if cause else said


class TokenSource:
    """One session at a time for the whole plugin, renewed on demand."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        login_url: str,
        consumer_key: str,
        username: str,
        private_key: rsa.RSAPrivateKey,
        timeout: httpx.Timeout,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._login_url = login_url.rstrip("/")
        self._consumer_key = consumer_key
        self._username = username
        self._private_key = private_key
        self._timeout = timeout
        self._clock = clock
        self._session: Session | None = None
        self._lock = asyncio.Lock()

    async def session(self) -> Session:
        """The current session, asked for when there is none."""
        if self._session is None:
            async with self._lock:
                if self._session is None:
                    self._session = await self._grant()
        return self._session

    async def renew(self, stale: Session) -> Session:
        """A new session in place of `stale` (refused with 401); one renewal however many callers saw it."""
        async with self._lock:
            if self._session is None or same_secret(self._session.access_token, stale.access_token):
                self._session = await self._grant()
        return self._session

    async def _grant(self) -> Session:
        signed = assertion(
            self._private_key, self._consumer_key, self._username, self._login_url, self._clock()
        )
        with transport_errors(TOKEN_ERRORS):
            response = await self._client.post(f"{self._login_url}/services/oauth2/token",
                                               data={"grant_type": GRANT_TYPE, "assertion": signed},
                                               timeout=self._timeout)  # fmt: skip
        if response.status_code in (400, 401, 403):
            raise PermanentError(
                "salesforce",
                f"credentials refused by the token endpoint (HTTP {response.status_code}): {refusal(response)}",
                401,
            )
        raise_for_vendor(response, TOKEN_ERRORS, self._clock())
        return _session(response)


def _session(response: httpx.Response) -> Session:
    try:
        data = response.json()
    except ValueError:
        raise RetryableError("salesforce", "the token endpoint answered something else than JSON") from None
    token, instance, identity = (
        data.get(k) if isinstance(data, dict) else None for k in ("access_token", "instance_url", "id")
    )
    if not all(isinstance(v, str) and v for v in (token, instance, identity)):
        raise PermanentError(
            "salesforce", "the token endpoint's answer lacks access_token, instance_url or id"
        )
    parts = urlsplit(str(identity)).path.rstrip("/").split("/")
    if len(parts) < 3 or not parts[-2].startswith("00D"):
        raise PermanentError("salesforce", "the token's id is not .../id/<organization id>/<user id>")
    return Session(str(token), str(instance).rstrip("/"), parts[-1], parts[-2])
