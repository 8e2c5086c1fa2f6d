"""Validly signed Zendesk doorbells of every odd shape: never a 500, never a job that can never succeed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sav_bridge_zendesk import webhook

from tests import strategies as odd
from tests.harness import ZENDESK_SECRET
from tests.live import Live, live_gateway


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, vendor_dir: Path | None
) -> Iterator[Live]:
    yield from live_gateway(request.param, tmp_path_factory, vendor_dir)


def ring(live: Live, body: bytes, invocation: str | None = "inv-1") -> int:
    """Post `body` signed exactly as Zendesk signs its webhooks."""
    timestamp = datetime.fromtimestamp(live.gw.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {
        "content-type": "application/json",
        webhook.SIGNATURE: webhook.sign(ZENDESK_SECRET, timestamp, body),
        webhook.TIMESTAMP: timestamp,
    }
    if invocation is not None:
        headers[webhook.INVOCATION] = invocation
    return live.post("/webhooks/zendesk", body, headers)


@settings(odd.FUZZ, max_examples=300)
@given(
    ticket_id=odd.json_values,
    invocation=st.none() | st.text(max_size=40).map(lambda s: s.encode("ascii", "ignore").decode()),
)
def test_signed_doorbells_with_odd_ticket_ids_never_500(
    live: Live, ticket_id: Any, invocation: str | None
) -> None:
    assert ring(live, json.dumps({"ticket_id": ticket_id}).encode(), invocation) in (200, 400)


@settings(odd.FUZZ, max_examples=200)
@given(body=odd.json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=200))
def test_signed_random_doorbells_never_500(live: Live, body: bytes) -> None:
    assert ring(live, body) in (200, 400)


@pytest.mark.parametrize(
    "ticket_id", ["²", "١٢٣", "9" * 40, "12\u0000", "-1", True, 1.5, {"id": 1}, [1], None]
)
def test_ticket_ids_that_are_not_ascii_numbers_are_refused(live: Live, ticket_id: Any) -> None:
    assert ring(live, json.dumps({"ticket_id": ticket_id}).encode()) == 400


def test_deeply_nested_doorbell_is_refused(live: Live) -> None:
    assert ring(live, b"[" * 100_000 + b"]" * 100_000) == 400
