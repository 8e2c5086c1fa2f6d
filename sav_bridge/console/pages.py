"""`/console/`: the compliance page, server-rendered with Jinja2 (autoescaped), French or English.

Who is signed in comes from the company's token (`Authorization: Bearer`, or oauth2-proxy's
`X-Forwarded-Access-Token`), checked like the API's, or from a console session cookie (OIDC login or a
pasted token). Without either the page says how to sign in (401); with too small a role, what is lacking
(403). Every answer forbids inline and foreign scripts, frames and foreign resources (CSP), sniffing
and leaking the address; the one script is ours, and the page works without it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from sav_bridge.console import audit as audit_log
from sav_bridge.console import operations
from sav_bridge.console.auth import Forbidden, NotAuthenticated, Principal, TokenVerifier
from sav_bridge.console.labels import LABELS, language
from sav_bridge.console.session import SESSION_COOKIE, SessionSealer, csrf_token, remember_csrf
from sav_bridge.runtime import Runtime
from sav_bridge.store.approvals import PENDING, approval_json
from sav_bridge.store.policies import UnknownVersion

HERE = Path(__file__).parent
PAGES = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
PAGES.filters["utc"] = lambda at: time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(at or 0)))
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: under it Chromium sends `Origin: null` with our own forms, which the origin check refuses.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
STATIC = {"console.css": "text/css", "console.js": "text/javascript"}
View = Callable[[Request, Runtime, Principal], Awaitable[Response]]


def render(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A page in the browser's language, its forms carrying the CSRF token the browser holds."""
    lang, token = language(request), csrf_token(request)
    notice = request.query_params.get("done")
    body = PAGES.get_template(name).render(
        lang=lang, t=LABELS[lang], csrf=token, done=LABELS[lang]["done"].get(notice or ""), **values
    )
    response = HTMLResponse(body, status, headers=SECURITY_HEADERS)
    remember_csrf(response, request, token)
    return response


def refusal(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "refusal.html", status, message=message, who=None)


def console_on(request: Request) -> bool:
    return getattr(request.app.state, "token_verifier", None) is not None or _oidc(request) is not None


def _oidc(request: Request) -> Any:
    runtime: Runtime = request.app.state.runtime
    return runtime.settings.console.oidc


async def signed_in(request: Request) -> Principal:
    """The person behind a request: their token (proxy or script), else their console session."""
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    forwarded = request.headers.get("x-forwarded-access-token")
    authorization = request.headers.get("authorization") or (f"Bearer {forwarded}" if forwarded else None)
    if authorization and verifier is not None:
        return await verifier.verify(authorization)
    sealer: SessionSealer | None = getattr(request.app.state, "session_sealer", None)
    session = sealer.open(request.cookies.get(SESSION_COOKIE)) if sealer else None
    if session is None:
        raise NotAuthenticated("no token and no console session")
    return session.principal


def viewed(role: str, view: View) -> Callable[[Request], Awaitable[Response]]:
    """`view` for people holding `role`; the sign-in page (401) or what they lack (403) otherwise."""

    async def endpoint(request: Request) -> Response:
        return await as_someone(request, role, lambda who: view(request, request.app.state.runtime, who))

    return endpoint


async def as_someone(
    request: Request, role: str, act: Callable[[Principal], Awaitable[Response]]
) -> Response:
    """What `act` answers for the signed-in person if they hold `role`; every refusal as a page."""
    if not console_on(request):
        return refusal(request, 404, "console.jwt is not set: the console is off.")
    try:
        who = await signed_in(request)
        who.require(role)
    except NotAuthenticated:
        return login_page(request, 401)
    except Forbidden as exc:
        return refusal(request, 403, f"{LABELS[language(request)]['forbidden']}: {exc}")
    try:
        return await act(who)
    except UnknownVersion:
        return refusal(request, 404, "no policy version has this id")
    except operations.Refused as refused:
        return refusal(request, refused.status, refused.message)


def login_page(request: Request, status: int = 200, problem: str | None = None) -> HTMLResponse:
    sealer = getattr(request.app.state, "session_sealer", None)
    return render(request, "login.html", status, who=None, oidc=_oidc(request) is not None,
                  token_login=sealer is not None, problem=problem)  # fmt: skip


# -- the views ----------------------------------------------------------------------------------------------
def _held(runtime: Runtime, rows: list[Any]) -> list[dict[str, Any]]:
    overdue = runtime.settings.console.approval_timeout_hours * 3600
    return [approval_json(row, overdue, runtime.clock()) for row in rows]


async def overview(request: Request, runtime: Runtime, who: Principal) -> Response:
    held = _held(runtime, await runtime.store.approvals.list(PENDING))
    return render(request, "console.html", who=who, policy=await runtime.policy.ready(), approvals=held,
                  versions=await runtime.store.policies.all(), page="overview")  # fmt: skip


async def version_page(request: Request, runtime: Runtime, who: Principal) -> Response:
    version = await runtime.store.policies.get(audit_log.count_or_none(request.path_params["id"]) or -1)
    active_id = await runtime.store.policies.active_id()
    against_id = audit_log.count_or_none(request.query_params.get("against")) or active_id or version.id
    against = await runtime.store.policies.get(against_id)
    versions = await runtime.store.policies.all()
    return render(request, "version.html", who=who, version=version, against=against, versions=versions,
                  diff=operations.diff(against, version), refusal=operations.activation_refusal(version, who),
                  can_test=who.has("editor"), page="version")  # fmt: skip


async def editor(request: Request, runtime: Runtime, who: Principal) -> Response:
    source = (
        audit_log.count_or_none(request.query_params.get("from")) or await runtime.store.policies.active_id()
    )
    text = (await runtime.store.policies.get(source)).yaml if source else ""
    return render(request, "editor.html", who=who, text=text, comment="", problems=None, page="new")


async def audit(request: Request, runtime: Runtime, who: Principal) -> Response:
    try:
        page = await audit_log.read(runtime, request.query_params)
    except ValueError as exc:
        return refusal(request, 400, str(exc))
    filters = {name: request.query_params.get(name, "") for name in audit_log.FILTERS}
    return render(request, "audit.html", who=who, entries=page.entries, next_before=page.next_before,
                  filters=filters, query=_query(filters), page="audit")  # fmt: skip


def _query(filters: dict[str, str]) -> str:
    return urlencode({k: v for k, v in filters.items() if v})


async def audit_csv(request: Request, runtime: Runtime, who: Principal) -> Response:
    try:
        entries = await audit_log.read_all(runtime, request.query_params)
    except ValueError as exc:
        return refusal(request, 400, str(exc))
    return audit_log.csv_download(entries, SECURITY_HEADERS)


async def approvals(request: Request, runtime: Runtime, who: Principal) -> Response:
    pending = _held(runtime, await runtime.store.approvals.list(PENDING))
    decided = [
        a for a in _held(runtime, await runtime.store.approvals.list(None, 50)) if a["status"] != PENDING
    ]
    return render(request, "approvals.html", who=who, pending=pending, decided=decided,
                  can_decide=who.has("approver"), page="approvals")  # fmt: skip


async def admin_log(request: Request, runtime: Runtime, who: Principal) -> Response:
    entries = await runtime.store.admin_log.read(200, None)
    for entry in entries:
        entry["detail_text"] = json.dumps(entry.get("detail"), ensure_ascii=False)[:300]
    return render(request, "log.html", who=who, entries=entries, page="log")


async def login(request: Request) -> Response:
    return login_page(request)


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC:
        return Response("not found", 404, headers=SECURITY_HEADERS)
    return FileResponse(HERE / "static" / name, media_type=STATIC[name], headers=SECURITY_HEADERS)


ROUTES = [
    Route("/console/", viewed("viewer", overview), methods=["GET"]),
    Route("/console/versions/new", viewed("editor", editor), methods=["GET"]),
    Route("/console/versions/{id}", viewed("viewer", version_page), methods=["GET"]),
    Route("/console/audit", viewed("viewer", audit), methods=["GET"]),
    Route("/console/audit.csv", viewed("viewer", audit_csv), methods=["GET"]),
    Route("/console/approvals", viewed("viewer", approvals), methods=["GET"]),
    Route("/console/log", viewed("viewer", admin_log), methods=["GET"]),
    Route("/console/login", login, methods=["GET"]),
    Route("/console/static/{name}", static, methods=["GET"]),
]
