"""Structured JSON logs: ISO-8601 UTC times, secrets masked, third-party chatter held at INFO.

Customer and reply texts are never logged: our own lines name ids, and libraries that would log SQL
parameters or request bodies at DEBUG (aiosqlite, psycopg, httpx) stay at INFO or above whatever
`log_level` says. `AccessLog` writes one line per request: method, path without its query, status,
duration and request id, never a body or a signature.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonEncoder, JsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MASK = "***"
#: Loggers whose DEBUG lines may carry customer data (SQL parameters, bodies); never below INFO.
OWN_LOGGER = "sav_bridge"
#: Attributes some libraries add that have no place in a JSON line (uvicorn's ANSI-coloured copy).
NOISE_ATTRIBUTES = ("color_message",)
#: A request id we echo must be short and plain, or we make our own.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RedactSecrets(logging.Filter):
    """Replace secret values in a record's message and arguments before any handler sees them."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        # One search says whether a record holds any secret at all (most never do: an access line
        # per request); only then is each value cleaned, secret by secret, longest first.
        self._any = re.compile("|".join(map(re.escape, self._secrets))) if self._secrets else None

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        for key in NOISE_ATTRIBUTES:
            record.__dict__.pop(key, None)
        texts = {key: value for key, value in vars(record).items() if isinstance(value, str)}
        if self._any is not None and self._any.search("\n".join(texts.values())):
            for key, value in texts.items():
                setattr(record, key, self._clean(value))
        return True


class QuietLibraries(logging.Filter):
    """Drop DEBUG lines of every logger but ours: a database driver's DEBUG holds customer texts."""

    def filter(self, record: logging.LogRecord) -> bool:
        ours = record.name == OWN_LOGGER or record.name.startswith(OWN_LOGGER + ".")
        return ours or record.levelno >= logging.INFO


class UtcJsonFormatter(JsonFormatter):
    """JSON lines whose `time` is ISO-8601 in UTC with milliseconds ("2026-11-25T02:17:38.123Z"): `time`,
    `level`, `logger`, `message`, then the record's extra fields.

    A plain record (a text message, no exception, no stack: every access line) is written by a short path
    that gives the same line as python-json-logger's general one, at half its cost; any other goes the
    general way."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
        self._not_extra = frozenset(self.reserved_attrs) | {"asctime", "message"}
        self._encoder = json.JSONEncoder(default=JsonEncoder().default, ensure_ascii=self.json_ensure_ascii)

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text or record.stack_info or not isinstance(record.msg, str):
            return super().format(record)
        line = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._not_extra and not key.startswith("_"):
                line[key] = value
        return self._encoder.encode(line)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def configure(level: str, secrets: Iterable[str], stream: object = None) -> None:
    """JSON lines on stderr for the whole process; called once by the CLI."""
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(UtcJsonFormatter())
    handler.addFilter(QuietLibraries())
    handler.addFilter(RedactSecrets(secrets))
    # What the lines never show is not gathered either (the logging HOWTO's "Optimization"): the
    # caller's frame, thread and process of every record, a third of an access line's cost.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        server_log = logging.getLogger(name)  # through the root handler, as JSON, at the root's level
        server_log.handlers[:] = []
        server_log.propagate = True
        server_log.setLevel(logging.NOTSET)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Alembic narrates each start at INFO (its plugins, its context); `store.migrations` says what it applied.
    logging.getLogger("alembic").setLevel(logging.WARNING)


class AccessLog:
    """ASGI middleware: one `sav_bridge.access` line per HTTP request, and an `x-request-id` header."""

    def __init__(self, app: ASGIApp, logger: logging.Logger | None = None) -> None:
        self.app = app
        self.log = logger or logging.getLogger("sav_bridge.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id  # `request.state.request_id` for handlers
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            fields: dict[str, Any] = {
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "request_id": request_id,
            }
            self.log.info(
                "%s %s %s %.1f ms",
                fields["method"],
                fields["path"],
                status,
                fields["duration_ms"],
                extra=fields,
            )


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if REQUEST_ID.fullmatch(candidate):
                return candidate
    return os.urandom(16).hex()  # as random as uuid4().hex, a third of its cost
