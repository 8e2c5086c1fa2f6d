"""The console's own sign-in: OpenID Connect authorization code with PKCE, then a session cookie.

`GET /console/login/oidc?next=/console/…` sends the browser to the provider with a fresh state, nonce and
PKCE challenge (S256), kept for ten minutes in `sav_bridge_oidc`, a sealed HttpOnly cookie of this
browser. `GET /console/callback` takes the provider's answer only in the browser that asked for it (the
state, compared in constant time), exchanges the code with the PKCE verifier, checks the ID token and its
nonce, seals the person into the session cookie (session.py) and returns to `next`, which is always a
console path of ours. `POST /console/logout` (CSRF-checked) ends the session.

A refusal changes nothing and says what went wrong. Errors become pages in `_answering`, at one point:

    SignInProblem          400: an answer this browser's sign-in cannot take
    ├── CsrfRefused        403: a logout that is not from one of our pages
    ├── NotConfigured      404: no `console.oidc`
    └── NoSessionKey       503: no `secrets_key` to seal sessions with
    ProviderUnavailable    502: (provider.py) the identity provider failed us
    NotAuthenticated       400: (auth.py) its ID token is not valid for us
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from html import escape
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from sav_bridge.config import OidcSettings
from sav_bridge.console.auth import NotAuthenticated
from sav_bridge.console.pages import SECURITY_HEADERS
from sav_bridge.console.provider import IdentityProvider, ProviderUnavailable
from sav_bridge.console.requests import BadForm, client_address, read_form
from sav_bridge.console.session import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SessionSealer,
    clear_session,
    csrf_problem,
    secure,
    set_session,
)
from sav_bridge.runtime import Runtime

log = logging.getLogger(__name__)

LOGIN_PATH = "/console/login/oidc"
CALLBACK_PATH = "/console/callback"
LOGOUT_PATH = "/console/logout"
#: The console's sign-in page, where a logout lands.
SIGN_IN_PAGE = "/console/login"
HOME = "/console/"
FLOW_COOKIE = "sav_bridge_oidc"
FLOW_PURPOSE = "oidc-flow"
#: How long the browser may spend at the provider between the login and the callback.
FLOW_SECONDS = 600
#: The logout form is one field; anything longer is not ours.
MAX_FORM_BYTES = 4096
#: `next` after sign-in: a console path and query of ours (RFC 3986 characters, no `//`, no `..`).
SAFE_NEXT = re.compile(r"/console/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*")
TITLES = {400: "Sign-in refused", 403: "Request refused", 404: "Sign-in is off",
          502: "The identity provider is unavailable", 503: "Sign-in is off"}  # fmt: skip

Handler = Callable[[Request], Awaitable[Response]]


class SignInProblem(Exception):
    """A sign-in step that cannot go on: the provider's answer is not for this browser, or is an error."""

    status = 400


class CsrfRefused(SignInProblem):
    """A state-changing form that did not come from one of our pages."""

    status = 403


class NotConfigured(SignInProblem):
    """`console.oidc` is not set: the console has no sign-in of its own."""

    status = 404


class NoSessionKey(SignInProblem):
    """No key to seal sessions with: the gateway has no `secrets_key`."""

    status = 503


def _answering(handler: Handler) -> Handler:
    """The route, with every refusal turned into a page that says what went wrong."""

    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except SignInProblem as exc:
            status, message = exc.status, str(exc)
        except ProviderUnavailable as exc:
            status, message = 502, str(exc)
        except NotAuthenticated as exc:
            status, message = 400, f"the identity provider's ID token is not accepted ({exc})"
        log.warning("console sign-in: %s (%d)", message, status)
        return _page(status, message)

    return answer


def _page(status: int, message: str) -> HTMLResponse:
    title = escape(TITLES[status])
    again = f'<p><a href="{LOGIN_PATH}">Sign in again</a></p>' if status in (400, 502) else ""
    body = (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>sav-bridge: {title}</title>'
            f"</head>\n<body><main><h1>{title}</h1><p>{escape(message)}</p>{again}</main></body></html>\n")  # fmt: skip
    return HTMLResponse(body, status, headers=SECURITY_HEADERS)


def _parts(request: Request) -> tuple[Runtime, IdentityProvider, SessionSealer]:
    provider: IdentityProvider | None = getattr(request.app.state, "oidc_provider", None)
    if provider is None:
        raise NotConfigured("console.oidc is not set: the console has no sign-in of its own")
    sealer: SessionSealer | None = getattr(request.app.state, "session_sealer", None)
    if sealer is None:
        raise NoSessionKey("signing in needs secrets_key in the configuration: it seals the session cookie")
    return request.app.state.runtime, provider, sealer


def challenge(verifier: str) -> str:
    """The PKCE S256 code challenge of `verifier` (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def safe_next(value: str | None) -> str:
    """Where to go once signed in: `value` when it is a console path of ours, else the console's home."""
    if value and SAFE_NEXT.fullmatch(value) and "//" not in value and ".." not in value.split("/"):
        return value
    return HOME


def redirect_uri(request: Request, settings: OidcSettings, public_url: str | None) -> str:
    """The callback the provider must know: `redirect_url`, else under `public_url`, else this address."""
    if settings.redirect_url:
        return settings.redirect_url
    base = public_url or str(request.base_url)
    return base.rstrip("/") + CALLBACK_PATH


@_answering
async def login(request: Request) -> Response:
    runtime, provider, sealer = _parts(request)
    found = await provider.discovery()
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    callback_uri = redirect_uri(request, provider.settings, runtime.settings.public_url)
    flow = {"state": state, "nonce": nonce, "verifier": verifier, "redirect_uri": callback_uri,
            "next": safe_next(request.query_params.get("next")), "created": runtime.clock()}  # fmt: skip
    query = urlencode({
        "response_type": "code", "client_id": provider.settings.client_id, "redirect_uri": callback_uri,
        "scope": " ".join(provider.settings.scopes), "state": state, "nonce": nonce,
        "code_challenge": challenge(verifier), "code_challenge_method": "S256",
    })  # fmt: skip
    separator = "&" if "?" in found.authorization_endpoint else "?"
    response = RedirectResponse(f"{found.authorization_endpoint}{separator}{query}", 302, SECURITY_HEADERS)
    response.set_cookie(FLOW_COOKIE, sealer.seal_value(FLOW_PURPOSE, flow), max_age=FLOW_SECONDS,
                        path="/console", httponly=True, samesite="lax",
                        secure=secure(request))  # fmt: skip
    return response


@_answering
async def callback(request: Request) -> Response:
    runtime, provider, sealer = _parts(request)
    flow = sealer.open_value(request.cookies.get(FLOW_COOKIE), FLOW_PURPOSE, FLOW_SECONDS)
    if flow is None:
        raise SignInProblem(
            "this browser has no sign-in in progress (it was finished already, took over "
            f"{FLOW_SECONDS // 60} minutes, or started elsewhere): sign in again"
        )
    params = request.query_params
    if not hmac.compare_digest(params.get("state", "").encode(), str(flow.get("state")).encode()):
        raise SignInProblem(
            "the provider's answer is not for the sign-in this browser started (state differs)"
        )
    if error := params.get("error"):
        description = params.get("error_description")
        raise SignInProblem(
            f"the identity provider refused: {error}" + (f" ({description})" if description else "")
        )
    code = params.get("code")
    if not code:
        raise SignInProblem("the identity provider's answer carries no authorization code")
    id_token = await provider.exchange(code, str(flow["redirect_uri"]), str(flow["verifier"]))
    principal, claims = await provider.identify(id_token)
    if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), str(flow["nonce"]).encode()):
        raise SignInProblem("the ID token is not the one this sign-in asked for (nonce differs)")
    value, max_age = sealer.seal(principal, float(claims["exp"]))
    await runtime.store.admin_log.write(
        principal.subject, "console.login", "console", client_address(request), {"method": "oidc"}
    )
    response = RedirectResponse(safe_next(str(flow.get("next"))), 303, SECURITY_HEADERS)
    set_session(response, request, value, max_age)
    response.delete_cookie(FLOW_COOKIE, path="/console")
    return response


@_answering
async def logout(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        submitted = (await read_form(request, MAX_FORM_BYTES)).get(CSRF_FIELD)
    except BadForm:
        submitted = None
    problem = csrf_problem(request, submitted, runtime.settings.public_url)
    if problem is not None:
        raise CsrfRefused(f"you are still signed in: {problem}")
    sealer: SessionSealer | None = getattr(request.app.state, "session_sealer", None)
    session = sealer.open(request.cookies.get(SESSION_COOKIE)) if sealer else None
    if session is not None:
        await runtime.store.admin_log.write(
            session.principal.subject, "console.logout", "console", client_address(request), {}
        )
    response = RedirectResponse(SIGN_IN_PAGE, 303, SECURITY_HEADERS)
    clear_session(response)
    return response


ROUTES = [
    Route(LOGIN_PATH, login, methods=["GET"]),
    Route(CALLBACK_PATH, callback, methods=["GET"]),
    Route(LOGOUT_PATH, logout, methods=["POST"]),
]
