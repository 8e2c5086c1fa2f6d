"""Reading what a browser or a script sent the console: a bounded form body and the caller's address."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

MAX_FORM = 512 * 1024


class BadForm(ValueError):
    """A body that is not a form one of our pages could have sent."""


async def read_form(request: Request, limit: int = MAX_FORM) -> dict[str, str]:
    """The fields of an `application/x-www-form-urlencoded` body of at most `limit` bytes (starlette's
    `request.form()` would need python-multipart, and reads without a limit)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise BadForm("the body must be a form (application/x-www-form-urlencoded)")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BadForm(f"the form is over {limit // 1024} KiB")
    try:
        return dict(parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=50))
    except ValueError as exc:  # also a body that is not UTF-8
        raise BadForm(f"the form cannot be read: {exc}") from None


def client_address(request: Request) -> str:
    """Who called, for the administration log (the proxy's address behind a proxy, unless uvicorn is told
    to trust its forwarded headers)."""
    return request.client.host if request.client else "unknown"
