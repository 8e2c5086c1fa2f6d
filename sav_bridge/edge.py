"""What the gateway does at its HTTP edge, before any handler's own logic: bounded request bodies.

Every inbound body (webhooks, the console's forms and JSON API) is read through `read_body`, the one
place that enforces a route's limit: a declared `Content-Length` over the limit is refused (413) before
a byte of the body is read, and a body without one (chunked) is cut off and refused as soon as it passes
the limit, so no request is ever buffered whole past its limit and nothing is stored for it.
"""

from __future__ import annotations

from starlette.requests import Request

from sav_bridge.errors import PayloadTooLarge


def size_text(limit: int) -> str:
    """A byte count as people write limits: '1 MiB', '512 KiB', '1000 bytes'."""
    for unit, name in ((1024 * 1024, "MiB"), (1024, "KiB")):
        if limit >= unit and limit % unit == 0:
            return f"{limit // unit} {name}"
    return f"{limit} bytes"


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body of `request`, never more than `limit` bytes of it; `PayloadTooLarge` (413) otherwise.

    A declared length is believed only when it is too large: a shorter one than what arrives changes
    nothing, since the bytes are counted as they come."""
    refusal = f"the body is over the {size_text(limit)} limit"
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(refusal)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(refusal)
        chunks.append(chunk)
    return b"".join(chunks)
