"""What the console's forms change: drafts, activations, tests, held replies, and signing in with a token.

Every form is checked for its CSRF token and origin before anything else (403 otherwise), read no
further than its limit, and answered the way a browser expects: a redirect to the page that shows the
result (303), or the same page again with what is wrong. The page's script asks for the same answers
as JSON (validation as you type) or as a stream of progress lines (a long test).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from jose import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from sav_bridge.console import operations
from sav_bridge.console.audit import count_or_none
from sav_bridge.console.auth import NotAuthenticated, Principal, TokenVerifier
from sav_bridge.console.labels import LABELS, language
from sav_bridge.console.pages import PAGES, SECURITY_HEADERS, as_someone, login_page, refusal, render
from sav_bridge.console.requests import BadForm, client_address, read_form
from sav_bridge.console.session import CSRF_FIELD, CSRF_HEADER, SessionSealer, csrf_problem, set_session
from sav_bridge.model import Audience
from sav_bridge.runtime import Runtime
from sav_bridge.store.approvals import APPROVED, REJECTED
from sav_bridge.store.policies import PolicyVersion

DAY = 86400.0
Form = dict[str, str]
Action = Callable[[Request, Runtime, Principal, Form], Awaitable[Response]]


def posted(role: str, action: Action) -> Callable[[Request], Awaitable[Response]]:
    """`action` for a form of ours (CSRF, origin) sent by someone holding `role`."""

    async def endpoint(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        try:
            form = await read_form(request)
        except BadForm as exc:
            return refusal(request, exc.status, str(exc))
        submitted = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
        problem = csrf_problem(request, submitted, runtime.settings.public_url)
        if problem:
            return refusal(request, 403, problem)
        return await as_someone(request, role, lambda who: action(request, runtime, who, form))

    return endpoint


async def _version(request: Request, runtime: Runtime) -> PolicyVersion:
    return await runtime.store.policies.get(count_or_none(request.path_params.get("id")) or -1)


def _see(path: str) -> RedirectResponse:
    return RedirectResponse(path, 303, headers=SECURITY_HEADERS)


# -- versions ----------------------------------------------------------------------------------------------
async def validate(request: Request, runtime: Runtime, who: Principal, form: Form) -> Response:
    """The errors of the text being typed, for the editor's script: every one, with its line."""
    return JSONResponse({"errors": await operations.validate(form.get("yaml", ""))}, headers=SECURITY_HEADERS)


async def create(request: Request, runtime: Runtime, who: Principal, form: Form) -> Response:
    text, comment = form.get("yaml", ""), form.get("comment", "")
    try:
        if not text.strip():
            raise operations.Refused(
                422, "the policy is empty", [{"line": 1, "key": "", "message": "is empty"}]
            )
        version = await operations.create_version(runtime, who, text, comment, client_address(request))
    except operations.Refused as refused:
        return render(request, "editor.html", refused.status, who=who, text=text, comment=comment,
                      problems=refused.errors, page="new")  # fmt: skip
    return _see(f"/console/versions/{version.id}?done=created")


async def activate(request: Request, runtime: Runtime, who: Principal, form: Form) -> Response:
    version = await _version(request, runtime)
    await operations.activate_version(runtime, who, version, client_address(request))
    return _see(f"/console/versions/{version.id}?done=activated")


async def test(request: Request, runtime: Runtime, who: Principal, form: Form) -> Response:
    """Replay pasted replies, or the audited ones of the last days; as a page, or as progress lines
    (`Accept: application/x-ndjson`) ending with the results' HTML, for the page's progress bar."""
    version = await _version(request, runtime)
    try:
        samples = await _samples(runtime, form)
    except ValueError as exc:
        return refusal(request, 400, str(exc))
    if "application/x-ndjson" not in request.headers.get("accept", ""):
        run = await operations.replay_all(runtime, version, samples)
        return render(request, "test_page.html", who=who, version=version, run=run, page="version")
    lang = language(request)
    steps = operations.replay(runtime, version, samples)

    async def lines() -> AsyncIterator[str]:
        try:
            async for run in steps:
                line: dict[str, object] = {"done": len(run.results), "total": run.total}
                if len(run.results) == run.total:
                    html = PAGES.get_template("test_results.html").render(t=LABELS[lang], run=run)
                    line.update(changed=run.changed, html=html)
                yield json.dumps(line) + "\n"
        except operations.Refused as refused:
            yield json.dumps({"error": refused.message, "errors": refused.errors}) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson", headers=SECURITY_HEADERS)


async def _samples(runtime: Runtime, form: Form) -> list[operations.Sample]:
    if form.get("source") == "audit":
        days = form.get("days", "30")
        number = count_or_none(days)
        if number is None or not 1 <= number <= 366:
            raise ValueError("days: 1 to 366")
        since = runtime.clock() - number * DAY
        samples = await operations.audited_samples(runtime, since, operations.MAX_REPLAY)
        if not samples:
            raise ValueError(f"the audit kept no posted reply in the last {days} days")
        return samples
    audience = Audience.DM if form.get("audience") == "dm" else Audience.PUBLIC
    texts = [line.strip() for line in form.get("texts", "").splitlines() if line.strip()]
    if not 1 <= len(texts) <= operations.MAX_REPLAY:
        raise ValueError(f"paste 1 to {operations.MAX_REPLAY} replies, one per line")
    return [(text, audience) for text in texts]


# -- held replies ------------------------------------------------------------------------------------------
async def approve(request: Request, runtime: Runtime, who: Principal, form: Form) -> Response:
    return await _decide(request, runtime, who, form, APPROVED)


async def reject(request: Request, runtime: Runtime, who: Principal, form: Form) -> Response:
    return await _decide(request, runtime, who, form, REJECTED)


async def _decide(request: Request, runtime: Runtime, who: Principal, form: Form, status: str) -> Response:
    held = count_or_none(request.path_params.get("id"))
    comment = form.get("comment", "")
    await operations.decide_held(runtime, who, held, status, comment, client_address(request))
    return _see(f"/console/approvals?done={status}")


# -- signing in with a token -----------------------------------------------------------------------------
async def token_login(request: Request) -> Response:
    """A pasted token (the identity provider's, or the sandbox's demo one) opens a console session."""
    runtime: Runtime = request.app.state.runtime
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    sealer: SessionSealer | None = getattr(request.app.state, "session_sealer", None)
    if verifier is None or sealer is None:
        return refusal(request, 404, "signing in with a token needs console.jwt and secrets_key")
    try:
        form = await read_form(request, 64 * 1024)
    except BadForm as exc:
        return refusal(request, exc.status, str(exc))
    problem = csrf_problem(request, form.get(CSRF_FIELD), runtime.settings.public_url)
    if problem:
        return refusal(request, 403, problem)
    scheme, _, rest = form.get("token", "").strip().partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else scheme  # pasted with its header's prefix, or not
    try:
        who = await verifier.verify(f"Bearer {token}")
    except NotAuthenticated as exc:
        return login_page(request, 401, str(exc))
    expires = jwt.get_unverified_claims(token).get("exp")  # verified above
    value, max_age = sealer.seal(who, float(expires) if isinstance(expires, (int, float)) else time.time())
    await runtime.store.admin_log.write(who.subject, "console.login", "console", client_address(request),
                                        {"method": "token"})  # fmt: skip
    response = _see("/console/")
    set_session(response, request, value, max_age)
    return response


ROUTES = [
    Route("/console/login", token_login, methods=["POST"]),
    Route("/console/validate", posted("editor", validate), methods=["POST"]),
    Route("/console/versions", posted("editor", create), methods=["POST"]),
    Route("/console/versions/{id}/activate", posted("approver", activate), methods=["POST"]),
    Route("/console/versions/{id}/test", posted("editor", test), methods=["POST"]),
    Route("/console/approvals/{id}/approve", posted("approver", approve), methods=["POST"]),
    Route("/console/approvals/{id}/reject", posted("approver", reject), methods=["POST"]),
]
