"""Browser sessions of the console: who is signed in (a sealed cookie) and proof that a form is ours (CSRF).

A signed-in browser (OIDC login or a pasted token) holds one cookie, `sav_bridge_session`: the person's
subject, roles and expiry, sealed with Fernet under a key derived (HKDF) from `secrets_key` (in sandbox
mode without one, from the sandbox's own material), so every replica reads it and nobody can forge or
read it. It is HttpOnly, SameSite=Lax (the provider's redirect back is a cross-site navigation), Secure
over HTTPS (or when `public_url` is https), and never outlives the token that opened it nor
`console.session_hours`.

Every form and every script call that changes something carries a CSRF token equal to the random
`sav_bridge_csrf` cookie (SameSite=Strict, HttpOnly; the page prints the value into its forms), and an
`Origin` or `Referer` naming another site is refused: a page elsewhere can neither read the value nor
post as the person, whether they are signed in by cookie or by an authenticating proxy.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.requests import Request
from starlette.responses import Response

from sav_bridge.config import Settings, same_secret
from sav_bridge.console.auth import ROLES, Principal

SESSION_COOKIE = "sav_bridge_session"
CSRF_COOKIE = "sav_bridge_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
#: The field that marks a sealed value that is not a session (`seal_value`).
PURPOSE = "for"


def session_key(settings: Settings) -> bytes | None:
    """The Fernet key that seals console sessions; None when the gateway has no secret to derive it from."""
    if settings.secrets_key is not None:
        material = settings.secrets_key.reveal().encode()
    elif settings.sandbox:
        material = settings.x.consumer_secret.reveal().encode() + b"\0" + settings.database_url.encode()
    else:
        return None
    derived = HKDF(hashes.SHA256(), 32, salt=b"sav-bridge console session", info=b"fernet").derive(material)
    return base64.urlsafe_b64encode(derived)


@dataclass(frozen=True)
class BrowserSession:
    principal: Principal
    expires_at: float


class SessionSealer:
    """Seals a signed-in person into the session cookie's value, and opens it again on later requests."""

    def __init__(self, key: bytes, max_hours: float, clock: Callable[[], float] = time.time) -> None:
        self._fernet = Fernet(key)
        self._max_seconds = max_hours * 3600
        self._clock = clock

    def seal(self, principal: Principal, token_expires_at: float) -> tuple[str, int]:
        """The cookie value and its lifetime in seconds (the token's, capped by `session_hours`)."""
        now = self._clock()
        expires_at = min(token_expires_at, now + self._max_seconds)
        body = {"sub": principal.subject, "roles": sorted(principal.roles), "email": principal.email,
                "exp": expires_at}  # fmt: skip
        value = self._fernet.encrypt_at_time(json.dumps(body).encode(), int(now)).decode()
        return value, max(int(expires_at - now), 0)

    def seal_value(self, purpose: str, body: Mapping[str, Any]) -> str:
        """A value for a short-lived cookie of another `purpose` (the OIDC sign-in in progress): only
        `open_value` with the same purpose reads it, never `open`, so it cannot pass for a session."""
        sealed = json.dumps({**body, PURPOSE: purpose}).encode()
        return self._fernet.encrypt_at_time(sealed, int(self._clock())).decode()

    def open_value(self, value: str | None, purpose: str, max_seconds: int) -> dict[str, Any] | None:
        """What `seal_value` sealed for `purpose` at most `max_seconds` ago; None when absent, forged,
        sealed for another purpose or too old."""
        if not value:
            return None
        try:
            body = json.loads(self._fernet.decrypt_at_time(value.encode(), max_seconds, int(self._clock())))
        except (InvalidToken, ValueError, TypeError):
            return None
        return body if isinstance(body, dict) and body.get(PURPOSE) == purpose else None

    def open(self, value: str | None) -> BrowserSession | None:
        """The session a cookie holds; None when absent, forged, sealed with another key or expired."""
        if not value:
            return None
        try:
            body = json.loads(self._fernet.decrypt(value.encode()))
        except (InvalidToken, ValueError, TypeError):
            return None
        if not isinstance(body, dict) or not isinstance(body.get("sub"), str) or PURPOSE in body:
            return None
        expires_at = body.get("exp")
        if not isinstance(expires_at, (int, float)) or expires_at <= self._clock():
            return None
        roles = frozenset(r for r in body.get("roles", []) if r in ROLES)
        email = body.get("email") if isinstance(body.get("email"), str) else None
        return BrowserSession(Principal(body["sub"], roles, email), float(expires_at))


def secure(request: Request) -> bool:
    """Whether the browser speaks HTTPS: this request's scheme, or `public_url`'s behind a proxy that ends
    TLS (uvicorn trusts no proxy's X-Forwarded-Proto by default, so the scheme it sees is http)."""
    public_url = request.app.state.runtime.settings.public_url or ""
    return request.url.scheme == "https" or public_url.startswith("https://")


def set_session(response: Response, request: Request, value: str, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, value, max_age=max_age, path="/console", httponly=True,
                        samesite="lax", secure=secure(request))  # fmt: skip


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/console")


def csrf_token(request: Request) -> str:
    """The value forms carry: the browser's CSRF cookie, or a new one (`remember_csrf` sets it)."""
    current = request.cookies.get(CSRF_COOKIE, "")
    return current if len(current) >= 32 else secrets.token_urlsafe(32)


def remember_csrf(response: Response, request: Request, token: str) -> None:
    if not same_secret(request.cookies.get(CSRF_COOKIE), token):
        response.set_cookie(CSRF_COOKIE, token, path="/console", httponly=True, samesite="strict",
                            secure=secure(request))  # fmt: skip


def csrf_problem(request: Request, submitted: str | None, public_url: str | None = None) -> str | None:
    """Why a state-changing request is not one of our own pages' (None: it is). The page's own address is
    the one the request names, or `public_url` behind a proxy that rewrites the Host header."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    ours = {request.url.netloc, urlsplit(public_url or "").netloc} - {""}
    if origin and urlsplit(origin).netloc not in ours:
        return "this request comes from another site"
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = (submitted or "").encode("utf-8", "replace")  # compare_digest refuses non-ASCII str
    if len(expected) < 32 or not given or not hmac.compare_digest(expected.encode("utf-8", "replace"), given):
        return "the form is stale or did not come from this console: reload the page and try again"
    return None
