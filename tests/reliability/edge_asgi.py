"""Driving the gateway's ASGI app by hand, to see how much of a request body it pulls before answering."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message


@dataclass
class Exchange:
    """One request's answer and how many body bytes the app asked for before giving it."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    pulled: int = 0


async def call(
    app: ASGIApp,
    method: str,
    path: str,
    headers: dict[str, str],
    chunks: Iterator[bytes],
    gate: asyncio.Event | None = None,
) -> Exchange:
    """Send `chunks` as the body only when the app asks for them (as a server does), never all at once;
    with a `gate`, the body starts arriving only once it is set (a slow client: the request stays in flight)."""
    answer = Exchange()
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("gateway", 80),
    }
    pending = iter(chunks)
    finished = False

    async def receive() -> Message:
        nonlocal finished
        if gate is not None:
            await gate.wait()
        if finished:
            return {"type": "http.disconnect"}
        chunk = next(pending, None)
        if chunk is None:
            finished = True
            return {"type": "http.request", "body": b"", "more_body": False}
        answer.pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    await app(scope, receive, send)
    return answer


def endless(size: int = 64 * 1024) -> Iterator[bytes]:
    """A body that never ends, as a client streaming without a length could send."""
    while True:
        yield b"x" * size
