"""Reading what a browser or a script sent the console: a bounded form body and the caller's address."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from sav_bridge.edge import read_body, size_text
from sav_bridge.errors import PayloadTooLarge

MAX_FORM = 512 * 1024


class BadForm(ValueError):
    """A body that is not a form one of our pages could have sent; `status` is the answer's (400, or 413
    for one over its limit)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def read_form(request: Request, limit: int = MAX_FORM) -> dict[str, str]:
    """The fields of an `application/x-www-form-urlencoded` body of at most `limit` bytes (starlette's
    `request.form()` would need python-multipart, and reads without a limit)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise BadForm("the body must be a form (application/x-www-form-urlencoded)")
    try:
        body = await read_body(request, limit)
    except PayloadTooLarge:
        raise BadForm(f"the form is over {size_text(limit)}", 413) from None
    try:
        return dict(parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=50))
    except ValueError as exc:  # also a body that is not UTF-8
        raise BadForm(f"the form cannot be read: {exc}") from None


def client_address(request: Request) -> str:
    """Who called, for the administration log (the proxy's address behind a proxy, unless uvicorn is told
    to trust its forwarded headers)."""
    return request.client.host if request.client else "unknown"
