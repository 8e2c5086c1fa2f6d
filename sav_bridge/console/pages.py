"""`/console/`: the compliance page, server-rendered with Jinja2 (autoescaped), French or English.

Read-only for now: the active policy's rules in plain words, the versions, the approval queue. It sits
behind an authenticating proxy (oauth2-proxy) that passes the company's token as `Authorization: Bearer`
or `X-Forwarded-Access-Token`, checked like the API's; without one the page says what is missing (401),
with too small a role what is lacking (403). Every answer forbids scripts, frames and foreign resources
(Content-Security-Policy), and sniffing or leaking the address.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from sav_bridge.console.auth import Forbidden, NotAuthenticated, TokenVerifier
from sav_bridge.runtime import Runtime
from sav_bridge.store.approvals import PENDING, approval_json

HERE = Path(__file__).parent
PAGES = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
LABELS: dict[str, dict[str, Any]] = {
    "en": {
        "title": "sav-bridge: posting policy", "signed_in_as": "Signed in as", "active_policy": "Policy in force",
        "rule": "Rule", "what": "What it looks for", "where": "Where", "action": "What happens",
        "versions": "Versions", "status": "Status", "author": "Author", "comment": "Comment",
        "activated_by": "Activated by", "approvals": "Replies waiting for approval", "ticket": "Ticket",
        "agent": "Agent", "rules": "Rules", "reply": "Reply", "overdue": "overdue",
        "no_approvals": "No reply is waiting.", "api": "Changes go through the API:",
        "actions": {"block": "never posted", "require_dm": "only as a DM", "hold": "held for approval",
                    "redact": "masked", "warn": "posted, with a warning", "allow": "never a finding"},
        "statuses": {"active": "active", "draft": "draft", "retired": "retired"},
        "no_token": "Sign in first: this page needs your company token (Authorization: Bearer …), which the "
                    "sign-in proxy adds.",
        "forbidden": "Your token does not give access to this page",
    },
    "fr": {
        "title": "sav-bridge : politique de publication", "signed_in_as": "Connecté·e en tant que",
        "active_policy": "Politique en vigueur", "rule": "Règle", "what": "Ce qu'elle cherche", "where": "Où",
        "action": "Ce qui se passe", "versions": "Versions", "status": "État", "author": "Auteur·rice",
        "comment": "Commentaire", "activated_by": "Activée par", "approvals": "Réponses en attente de validation",
        "ticket": "Ticket", "agent": "Agent", "rules": "Règles", "reply": "Réponse", "overdue": "en retard",
        "no_approvals": "Aucune réponse en attente.", "api": "Les modifications passent par l'API :",
        "actions": {"block": "jamais publiée", "require_dm": "seulement en DM", "hold": "soumise à validation",
                    "redact": "masquée", "warn": "publiée, avec un avertissement", "allow": "jamais signalée"},
        "statuses": {"active": "active", "draft": "brouillon", "retired": "retirée"},
        "no_token": "Connectez-vous d'abord : cette page demande le jeton de votre entreprise "
                    "(Authorization: Bearer …), que le proxy de connexion ajoute.",
        "forbidden": "Votre jeton ne donne pas accès à cette page",
    },
}  # fmt: skip


def language(request: Request) -> str:
    """French when the browser prefers it to English, else English."""
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LABELS:
            return code
    return "en"


def _page(name: str, lang: str, status: int = 200, **values: Any) -> HTMLResponse:
    body = PAGES.get_template(name).render(lang=lang, t=LABELS[lang], **values)
    return HTMLResponse(body, status, headers=SECURITY_HEADERS)


async def console(request: Request) -> Response:
    lang = language(request)
    runtime: Runtime = request.app.state.runtime
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        return _page("refusal.html", lang, 404, message="console.jwt is not set: the console is off.")
    forwarded = request.headers.get("x-forwarded-access-token")
    authorization = request.headers.get("authorization") or (f"Bearer {forwarded}" if forwarded else None)
    try:
        who = await verifier.verify(authorization)
        who.require("viewer")
    except NotAuthenticated:
        return _page("refusal.html", lang, 401, message=LABELS[lang]["no_token"])
    except Forbidden as exc:
        return _page("refusal.html", lang, 403, message=f"{LABELS[lang]['forbidden']}: {exc}")
    overdue = runtime.settings.console.approval_timeout_hours * 3600
    held = [
        approval_json(row, overdue, runtime.clock()) for row in await runtime.store.approvals.list(PENDING)
    ]
    return _page(
        "console.html", lang, who=who, roles=", ".join(sorted(who.roles)), policy=runtime.policy.current,
        versions=await runtime.store.policies.all(), approvals=held,
    )  # fmt: skip


async def stylesheet(request: Request) -> Response:
    return FileResponse(HERE / "static" / "console.css", media_type="text/css", headers=SECURITY_HEADERS)


ROUTES = [
    Route("/console/", console, methods=["GET"]),
    Route("/console/static/console.css", stylesheet, methods=["GET"]),
]
