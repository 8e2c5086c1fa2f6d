"""No secret in clear: full flows on the sandboxes, failures included, then every log record (as emitted, before
any filter, and as the JSON lines `logs.configure` writes) and every row of every table are searched for
every configured secret and every token the fakes issued, in clear, base64 (any alignment) or URL-encoded.

The flows: a customer mention becomes a ticket, the agent's answer is posted on X, a DM, X's OAuth 2.0
access token refreshed (and again after X refuses one with 401), Zendesk answering 503 then recovering, a
forged X webhook and a forged Zendesk one, a console token on the API.
"""

from __future__ import annotations

import base64
import io
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import psycopg
import pytest

from sav_bridge import logs
from sav_bridge.console.session import session_key
from sav_bridge.sandbox import Fault
from tests.channels.x_auth_helpers import oauth2_env
from tests.console.test_api import AUDIENCE, ISSUER, PUBLIC_PEM, token
from tests.harness import CLAIRE, MARC, Gateway, start_gateway

JWT_ENV = {
    "SAV_BRIDGE_CONSOLE__JWT__PUBLIC_KEY": PUBLIC_PEM,
    "SAV_BRIDGE_CONSOLE__JWT__ISSUER": ISSUER,
    "SAV_BRIDGE_CONSOLE__JWT__AUDIENCE": AUDIENCE,
}
OPERATOR = {"authorization": f"Bearer {token('olivia', ['operator', 'viewer'])}"}
#: Loggers `logs.configure` sets a level on; restored afterwards like the root's handlers.
TOUCHED = ("uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "alembic")


class Snapshots(logging.Handler):
    """Every record's texts as they were emitted: ahead of the JSON handler, whose filter masks in place."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        extras = [str(v) for k, v in vars(record).items() if k not in ("msg", "args", "exc_info")]
        self.texts.append("\n".join([record.getMessage(), exc, *extras]))


@pytest.fixture
def captured() -> Iterator[tuple[Snapshots, io.StringIO]]:
    """The process's logging as `serve` configures it at DEBUG, into a buffer, plus a raw snapshot of each
    record; restored afterwards. The secrets the filter knows are set by the test (`secrets_known`)."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {name: logging.getLogger(name).level for name in TOUCHED}
    stream, raw = io.StringIO(), Snapshots()
    yield raw, stream
    root.handlers[:], level, levels = saved
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)


def encodings(secret: str) -> set[str]:
    """The secret as it could show up: in clear, URL-encoded, and base64 (standard or URL-safe) at each of
    the three byte alignments it may have inside a longer encoded text (Basic auth, a sealed value)."""
    data = secret.encode()
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * offset + data).decode()
            start = {0: 0, 1: 2, 2: 3}[offset]  # the first characters also hold the padding bytes
            forms.add(text[start:-4])  # the last ones depend on what follows
    return {form for form in forms if len(form) >= 8}


def dump_tables(database_url: str) -> list[str]:
    """Every value of every row of every table, as text (bytes both decoded and in hex)."""
    values: list[object] = []
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                values += [v for row in conn.execute(f'SELECT * FROM "{table}"') for v in row]
    else:
        with psycopg.connect(database_url) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")]  # fmt: skip
            for table in tables:
                values += [v for row in conn.execute(f'SELECT * FROM "{table}"') for v in row]
    assert "jobs" in tables and "events" in tables, tables
    texts: list[str] = []
    for value in values:
        if isinstance(value, bytes | memoryview):
            raw = bytes(value)
            texts += [raw.decode("latin-1"), raw.hex()]
        elif value is not None:
            texts.append(str(value))
    return texts


async def flows(gw: Gateway) -> None:
    """Every path a secret or token travels: requests to X and Zendesk, refreshes, refusals, retries."""
    x, zendesk = gw.x, gw.zendesk
    assert (await gw.post_x(x.customer_post(CLAIRE, "@MaBanque ma carte est bloquée"))).status_code == 200
    await gw.drain()
    ticket = gw.only_ticket()
    agent = zendesk.add_agent("Amélie Durand", "amelie@mabanque.fr")
    zendesk.agent_comment(ticket, agent, "Bonjour Claire, c'est débloqué.")
    assert (await gw.ring(ticket)).status_code == 200
    await gw.drain()
    assert len(x.brand_posts) == 1
    assert (await gw.post_x(x.customer_dm(MARC, "Bonjour, un virement a disparu"))).status_code == 200
    # Zendesk down for a while: the delivery fails, is logged, retried later, and lands once.
    zendesk.faults.add(Fault("POST", r"/api/v2/tickets(\.json)?", 503, times=3))
    await gw.settle(step=600)
    assert len(zendesk.tickets) == 2
    # X forgets the access token: a 401, one refresh, the call again; then two hours pass, another refresh.
    assert x.oauth2 is not None
    x.oauth2.access.clear()
    await gw.runtime.x.verify_credentials()
    gw.clock.advance(2 * 3600)
    await gw.runtime.x.verify_credentials()
    assert len(x.refresh_calls) >= 3 and x.refused
    # Forged webhooks, an OAuth callback nobody started, a console call.
    forged = await gw.post_x(x.customer_post(CLAIRE, "@MaBanque faux"), secret="not-the-consumer-secret")
    assert forged.status_code == 401
    headers, body = zendesk.doorbell(ticket)
    headers = {**headers, "x-zendesk-webhook-signature": "Zm9yZ2Vk"}
    assert (await gw.client.post("/webhooks/zendesk", content=body, headers=headers)).status_code == 401
    assert (await gw.client.get("/api/v1/jobs", headers=OPERATOR)).status_code == 200


async def test_no_secret_or_token_in_logs_or_database(
    database_url: str, vendor_dir: Path | None, captured: tuple[Snapshots, io.StringIO]
) -> None:
    raw, stream = captured
    gw = await start_gateway(database_url, vendor_dir, **oauth2_env(), **JWT_ENV)
    logs.configure("DEBUG", gw.settings.secrets(), stream)
    logging.getLogger().handlers.insert(0, raw)
    try:
        await flows(gw)
    finally:
        await gw.client.aclose()
        await gw.runtime.close()
    assert gw.x.oauth2 is not None
    key = session_key(gw.settings)
    issued = [*gw.x.oauth2.access, *gw.x.oauth2.refresh, *gw.x.refresh_calls]
    secrets = {*gw.settings.secrets(), *issued, *([key.decode()] if key else [])}
    assert len(secrets) >= 10 and all(len(s) >= 8 for s in secrets), secrets
    json_lines, records = stream.getvalue(), "\n".join(raw.texts)
    assert len(raw.texts) >= 10 and json_lines.count("\n") >= 10, "too little was logged to prove anything"
    assert '"level": "WARNING"' in json_lines, "the failures were not logged"
    rows = "\n".join(dump_tables(gw.settings.database_url))
    found = [(where, secret[:6] + "…", form != secret)
             for secret in sorted(secrets) for form in encodings(secret)
             for where, text in (("JSON log", json_lines), ("log record", records), ("database", rows))
             if form in text]  # fmt: skip
    assert found == [], "secrets in clear (where, which, encoded)"
