"""Validly signed bodies of every odd shape: never a 500, never a job that can never succeed.

Thousands of signed random bodies go through the real app on a real database (SQLite, and PostgreSQL,
which refuses NUL characters, when configured); after each, the outbox is drained and every job must
have succeeded against the sandboxes. A fixed set of nasty cases is pinned besides.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st

from sav_bridge.app import create_app
from sav_bridge.channels.x.signing import SIGNATURE_HEADER, sign
from sav_bridge.config import load_settings
from sav_bridge.sandbox import Sandbox
from tests import strategies as odd
from tests.harness import ACCOUNT_ID, CONSUMER_SECRET, gateway_env
from tests.live import Live, live_gateway


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, vendor_dir: Path | None
) -> Iterator[Live]:
    """SQLite, and PostgreSQL (which refuses NUL and lone surrogates) when configured."""
    yield from live_gateway(request.param, tmp_path_factory, vendor_dir)


@settings(odd.FUZZ, max_examples=600)
@given(data=st.data())
def test_signed_mutations_of_real_envelopes_never_500_nor_poison_a_job(live: Live, data: Any) -> None:
    live.post_x(data.draw(odd.mutated(live.templates)))


@settings(odd.FUZZ, max_examples=300)
@given(document=odd.json_values)
def test_signed_random_json_never_500(live: Live, document: Any) -> None:
    live.post_x(json.dumps(document).encode())


@settings(odd.FUZZ, max_examples=200)
@given(body=st.binary(max_size=300))
def test_signed_random_bytes_never_500(live: Live, body: bytes) -> None:
    live.post_x(body)


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (
            odd.deeply_nested(100_000, ACCOUNT_ID),
            "application/json",
            400,
        ),  # RecursionError in the JSON parser
        (odd.deeply_nested(900, ACCOUNT_ID), "application/json", 400),  # parses, but the items are lists
        (b'{"for_user_id": "1\\u0000", "user_event": {}}', "application/json", 400),
        (
            b'{"for_user_id": "%s", "tweet_create_events": [{"id_str": "\\u0000"}]}' % ACCOUNT_ID.encode(),
            "application/json",
            400,
        ),
        (b'{"for_user_id": "\\ud800"}', "application/json", 400),
        (b'{"user_event": {"revoke": {"source": {"user_id": "\\u0000"}}}}', "application/json", 200),
        (b"for_user_id=1", "application/x-www-form-urlencoded", 415),
        (b'{"for_user_id": "1"}', "text/plain", 415),
        (b"\x00\xff\xfe", "application/json", 400),
    ],
)
def test_pinned_odd_bodies_get_a_clear_answer(
    live: Live, body: bytes, content_type: str, status: int
) -> None:
    assert live.post_x(body, content_type) == status


def test_a_missing_content_type_is_read_as_json(live: Live) -> None:
    assert live.post_x(json.dumps(live.templates[0]).encode(), content_type=None) == 200


# -- the keep-alive connection survives every refusal -------------------------------------------------
@pytest.fixture
def served(tmp_path: Path) -> Iterator[int]:
    """The real app behind uvicorn on a loopback port, as in production."""
    config = load_settings(None, gateway_env(f"sqlite:///{tmp_path / 'sav-bridge.db'}"))
    app = create_app(config, transport=Sandbox(config, None).transport())
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(10)


def exchange(conn: socket.socket, head: bytes, body: bytes = b"") -> int:
    """Send one request on an open connection and read exactly one response; its status."""
    conn.sendall(head + body)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    header, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in header.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(rest) < length:
        rest += conn.recv(65536)
    return int(header.split(b" ", 2)[1])


def post_head(body_length: int | None, extra: bytes = b"") -> bytes:
    length = (
        b"Transfer-Encoding: chunked\r\n" if body_length is None else b"Content-Length: %d\r\n" % body_length
    )
    return (
        b"POST /webhooks/x HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        + length
        + extra
        + b"\r\n"
    )


def test_the_keep_alive_connection_serves_the_next_request_after_every_refusal(served: int) -> None:
    good = b'{"for_user_id": "1", "favorite_events": []}'
    signed = b"%s: %s\r\n" % (SIGNATURE_HEADER.encode(), sign(CONSUMER_SECRET, good).encode())
    big = b"x" * (2 * 1024 * 1024)
    chunked_big = b"%x\r\n%s\r\n0\r\n\r\n" % (len(big), big)
    with socket.create_connection(("127.0.0.1", served), timeout=10) as conn:
        assert exchange(conn, post_head(len(good)), good) == 401  # unsigned
        assert exchange(conn, post_head(len(big)), big) == 413  # refused before it is read
        assert exchange(conn, post_head(None), chunked_big) == 413  # no length given: cut while reading
        assert exchange(conn, post_head(4, signed), b"nope") == 401  # signature of another body
        assert exchange(conn, post_head(len(good), signed), good) == 200  # and the connection still works
