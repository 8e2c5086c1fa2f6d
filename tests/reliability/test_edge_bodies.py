"""Body limits at the edge: a body over its route's limit is refused (413) before it is read when its
length is declared, and as soon as it passes the limit when it is not; nothing is stored for it."""

from __future__ import annotations

import ast
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt
from starlette.routing import Route

from sav_bridge.channels.x.signing import SIGNATURE_HEADER, sign
from tests.harness import CLAIRE, CONSUMER_SECRET, Gateway, start_gateway
from tests.reliability.edge_asgi import call, endless

ISSUER, AUDIENCE = "https://idp.mabanque.fr", "sav-bridge-console"
KEY = ec.generate_private_key(ec.SECP256R1())
MIB = 1024 * 1024
CHUNK = 64 * 1024
SOURCES = Path(__file__).resolve().parents[2]


def bearer(*roles: str) -> dict[str, str]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": now,
        "exp": now + 3600,
        "roles": list(roles),
    }
    pem = KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {"authorization": "Bearer " + jwt.encode(claims, pem, algorithm="ES256")}


@pytest.fixture
async def gateway(sqlite_url: str, vendor_dir: Path | None) -> AsyncIterator[Gateway]:
    public = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    gw = await start_gateway(
        sqlite_url,
        vendor_dir,
        SAV_BRIDGE_CONSOLE__JWT__PUBLIC_KEY=public.decode(),
        SAV_BRIDGE_CONSOLE__JWT__ISSUER=ISSUER,
        SAV_BRIDGE_CONSOLE__JWT__AUDIENCE=AUDIENCE,
        SAV_BRIDGE_SECRETS_KEY="Z2F0ZXdheS1zZWNyZXRzLWtleS1mb3ItdGVzdHMtMzI=",
    )
    yield gw
    await gw.client.aclose()
    await gw.runtime.close()


async def stored(gw: Gateway) -> dict[str, int]:
    store = gw.runtime.store
    return {table: await store.count(table) for table in ("events", "jobs", "quarantine")}


#: (path, headers, limit): one route of each kind, with what a legitimate caller sends.
ROUTES = [
    ("/webhooks/x", {"content-type": "application/json", SIGNATURE_HEADER: "sha256=AAAA"}, MIB),
    ("/webhooks/zendesk", {"content-type": "application/json"}, MIB),
    ("/api/v1/decide", {"content-type": "application/json", **bearer("viewer")}, MIB),
    ("/console/login", {"content-type": "application/x-www-form-urlencoded"}, 64 * 1024),
]


@pytest.mark.parametrize(("path", "headers", "limit"), ROUTES, ids=[r[0] for r in ROUTES])
async def test_a_declared_length_over_the_limit_is_refused_before_a_byte_is_read(
    gateway: Gateway, path: str, headers: dict[str, str], limit: int
) -> None:
    answer = await call(
        gateway.client._transport.app,  # type: ignore[attr-defined]
        "POST",
        path,
        {**headers, "content-length": str(10 * 1024**3)},
        endless(),
    )
    assert answer.status == 413, answer.body
    assert answer.pulled == 0
    assert "limit" in answer.body.decode() or "KiB" in answer.body.decode()


@pytest.mark.parametrize(("path", "headers", "limit"), ROUTES, ids=[r[0] for r in ROUTES])
async def test_a_body_without_a_length_is_cut_off_as_soon_as_it_passes_the_limit(
    gateway: Gateway, path: str, headers: dict[str, str], limit: int
) -> None:
    app = gateway.client._transport.app  # type: ignore[attr-defined]
    answer = await call(app, "POST", path, {**headers, "transfer-encoding": "chunked"}, endless(CHUNK))
    assert answer.status == 413, answer.body
    assert limit < answer.pulled <= limit + CHUNK  # never read on, never buffered whole
    assert await stored(gateway) == {"events": 0, "jobs": 0, "quarantine": 0}


def _concrete(path: str) -> str:
    return path.replace("{helpdesk}", "zendesk").replace("{id}", "1")


async def test_no_route_that_takes_a_body_reads_past_a_declared_length_over_its_limit(
    gateway: Gateway,
) -> None:
    """Every route, found in the app itself (a route added later is covered too), with credentials of
    every role: none pulls a byte of a 10 GiB body (those that take none may still act: an activation)."""
    app = gateway.client._transport.app  # type: ignore[attr-defined]
    routes = [
        (method, _concrete(route.path))
        for route in app.routes
        if isinstance(route, Route)
        for method in sorted((route.methods or set()) - {"GET", "HEAD"})
    ]
    assert len(routes) >= 15, routes
    for method, path in routes:
        headers = {"content-length": str(10 * 1024**3), **bearer("viewer", "editor", "approver")}
        answer = await call(app, method, path, headers, endless())
        assert answer.pulled == 0, (method, path)
        assert answer.status < 500, (method, path, answer.status, answer.body[:200])


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "streamed"])
async def test_an_authentic_body_over_the_limit_stores_nothing(gateway: Gateway, declared: bool) -> None:
    post = gateway.x.customer_post(CLAIRE, "@MaBanque hi")
    post["padding"] = "x" * MIB
    body = json.dumps(post).encode()
    signed = {"content-type": "application/json", SIGNATURE_HEADER: sign(CONSUMER_SECRET, body)}
    if declared:
        response = await gateway.client.post("/webhooks/x", content=body, headers=signed)
    else:

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), CHUNK):
                yield body[start : start + CHUNK]

        response = await gateway.client.post("/webhooks/x", content=chunks(), headers=signed)
    assert response.status_code == 413
    ring_headers, ring = gateway.zendesk.doorbell(1)
    padded = ring[:-1] + b', "padding": "' + b"x" * MIB + b'"}'
    response = await gateway.client.post("/webhooks/zendesk", content=padded, headers=ring_headers)
    assert response.status_code == 413
    assert await stored(gateway) == {"events": 0, "jobs": 0, "quarantine": 0}


BODY_READERS = frozenset({"body", "stream", "form", "json"})


def _reads_a_body(tree: ast.AST) -> list[int]:
    """Lines where `request.body()`, `.stream()`, `.form()` or `.json()` is called on a `request`."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in BODY_READERS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in {"request", "req"}
    ]


def _modules() -> Iterator[Path]:
    yield from (SOURCES / "sav_bridge").rglob("*.py")
    yield from (SOURCES / "adapters").glob("*/sav_bridge_*/**/*.py")


def test_every_inbound_body_is_read_through_the_one_bounded_reader() -> None:
    """`sav_bridge.edge.read_body` is the only reader of an inbound body (the sandboxes' fakes read the
    requests our own clients send them, with httpx: `request.read()`, not these)."""
    found: dict[str, list[int]] = {}
    for module in _modules():
        relative = str(module.relative_to(SOURCES))
        if relative == "sav_bridge/edge.py" or "/sandbox" in relative:
            continue
        lines = _reads_a_body(ast.parse(module.read_text(encoding="utf-8")))
        if lines:
            found[relative] = lines
    assert found == {}


def test_the_reader_check_sees_a_planted_direct_read() -> None:
    planted = "async def handler(request):\n    return await request.body()\n"
    assert _reads_a_body(ast.parse(planted)) == [2]
