"""Who calls the compliance API: the identity provider's JWT, verified with python-jose, and its roles.

Tokens are checked against `console.jwt.public_key` (PEM) or the keys at `console.jwt.jwks_url` (cached;
fetched again once when a token names a `kid` the cache lacks), with an explicit algorithm list (RS256,
ES256: never `none`, never an HMAC keyed with a public key), the issuer, the audience, expiry and
not-before with `leeway_seconds`. Roles come from the `roles_claim` claim (a list or one string), each
either a role name or a company group mapped by `console.roles`; roles are ranked, so an approver may
also edit and view. `operator` (the outbox's jobs and the quarantine, `sav_bridge.ops.api`) stands apart
from that ladder: neither held by the compliance roles nor holding any of them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from jose import JOSEError, JWTError, jwt

from sav_bridge.config import JwtSettings

ROLES = ("viewer", "editor", "approver")
OPERATOR = "operator"
#: An unknown `kid` fetches the key set again at most this often: random kids cannot hammer the provider.
REFETCH_SECONDS = 10.0
#: The JWK key type each accepted algorithm verifies with.
KEY_TYPES = {"RS256": "RSA", "ES256": "EC"}


class NotAuthenticated(Exception):
    """No token, or one that is not the identity provider's, current and meant for us (401)."""


class Forbidden(Exception):
    """A valid token without the role the request needs (403)."""


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    #: The token's `email` claim: most providers' `sub` is an opaque id, and helpdesks know agents by e-mail.
    email: str | None = None

    def is_one_of(self, names: Iterable[object]) -> bool:
        """Whether this person goes by one of `names` (their subject or e-mail, case aside): four eyes."""
        mine = {n.strip().casefold() for n in (self.subject, self.email) if n and n.strip()}
        return any(str(name).strip().casefold() in mine for name in names if name is not None)

    def require(self, role: str) -> None:
        if not self.has(role):
            held = ", ".join(sorted(self.roles)) or "no console role"
            raise Forbidden(f"this needs the {role} role; {self.subject} has {held}")

    def has(self, role: str) -> bool:
        if role not in ROLES:
            return role in self.roles
        return any(ROLES.index(held) >= ROLES.index(role) for held in self.roles if held in ROLES)


class TokenVerifier:
    def __init__(
        self,
        settings: JwtSettings,
        group_roles: Mapping[str, str],
        client: httpx.AsyncClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._group_roles = dict(group_roles)
        self._client = client
        self._clock = clock
        self._jwks: dict[str, Any] | None = None
        self._jwks_at = 0.0
        self._lock = asyncio.Lock()

    async def verify(self, authorization: str | None) -> Principal:
        """The caller of a request whose `Authorization` header is `authorization`."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated(
                "an Authorization: Bearer <token> header from the identity provider is required"
            )
        return (await self.identify(token.strip()))[0]

    async def identify(self, token: str) -> tuple[Principal, dict[str, Any]]:
        """The person a bare JWT names, with all its claims (the OIDC callback also checks `nonce` and keeps
        `exp`); `NotAuthenticated` as `verify` for anything that is not current, ours and signed."""
        try:
            header = jwt.get_unverified_header(token)
        except JWTError:
            raise NotAuthenticated("the token is not a JWT") from None
        if header.get("alg") not in self._settings.algorithms:
            raise NotAuthenticated(
                f"the token's algorithm is not one of {', '.join(self._settings.algorithms)}"
            )
        key = await self._key(header.get("kid"), header["alg"])
        try:
            claims = jwt.decode(
                token, key, algorithms=list(self._settings.algorithms), audience=self._settings.audience,
                issuer=self._settings.issuer, options={"leeway": self._settings.leeway_seconds, "require_exp": True,
                                                       "require_sub": True},
            )  # fmt: skip
        except JOSEError as exc:  # JWTError, and a JWKError for a key python-jose cannot use
            raise NotAuthenticated(f"the token is refused: {exc}") from None
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        return Principal(
            str(claims["sub"]), self._roles(claims.get(self._settings.roles_claim)), email
        ), claims

    def _roles(self, value: Any) -> frozenset[str]:
        names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        mapped = {self._group_roles.get(name, name) for name in names if isinstance(name, str)}
        return frozenset(mapped & {*ROLES, OPERATOR})

    async def _key(self, kid: Any, alg: str) -> Any:
        if self._settings.public_key:
            return self._settings.public_key
        jwks = await self._keys(refresh=False)
        if kid is not None and not any(k.get("kid") == kid for k in _listed(jwks)):
            jwks = await self._keys(refresh=True)  # the provider rotated its keys
        # python-jose tries every key of a set and fails on one of another type: only the token's may be tried
        fitting = [k for k in _listed(jwks) if k.get("kty") == KEY_TYPES.get(alg) and k.get("use", "sig") == "sig"
                   and (kid is None or k.get("kid") == kid)]  # fmt: skip
        if not fitting:
            named = f" named {str(kid)[:60]!r}" if kid is not None else ""
            raise NotAuthenticated(f"the identity provider's keys have no {alg} signing key{named}")
        return {"keys": fitting}

    async def _keys(self, refresh: bool) -> dict[str, Any]:
        async with self._lock:
            if self._jwks is None or (refresh and self._clock() - self._jwks_at > REFETCH_SECONDS):
                self._jwks = await self._fetch()
                self._jwks_at = self._clock()
            return self._jwks

    async def _fetch(self) -> dict[str, Any]:
        url = self._settings.jwks_url or ""
        try:
            response = await self._client.get(url, timeout=10.0)
            data = response.json() if response.is_success else None
        except (httpx.HTTPError, ValueError):
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise NotAuthenticated(f"the identity provider's keys ({url}) cannot be read now")
        return data


def _listed(jwks: dict[str, Any]) -> list[dict[str, Any]]:
    return [k for k in jwks.get("keys", []) if isinstance(k, dict)]
