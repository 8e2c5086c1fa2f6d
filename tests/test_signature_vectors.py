"""Both webhook verifiers against the vendors' published vectors (`test-vectors/signature-vectors.json`).

Positive cases come from the vendors, or from the vendor's documented formula computed here with
`hmac` (not with our own signer); negative cases change one thing each.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sav_bridge_zendesk import webhook

from sav_bridge.channels.x.signing import verify_signature
from sav_bridge.errors import Unauthorized

VECTORS = "test-vectors/signature-vectors.json"


def _vectors(vendor_file: Callable[[str], Path], section: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(vendor_file(VECTORS).read_text(encoding="utf-8"))[section]
    return data


def test_x_published_vectors_are_accepted(vendor_file: Callable[[str], Path]) -> None:
    vectors = _vectors(vendor_file, "x_account_activity_signature")
    assert vectors["cases"]
    for case in vectors["cases"]:
        verify_signature(vectors["consumer_secret"], case["body"].encode(), case["header"])


@pytest.mark.parametrize("change", ["tampered body", "wrong secret", "header without sha256="])
def test_x_published_vectors_changed_in_one_way_are_refused(
    vendor_file: Callable[[str], Path], change: str
) -> None:
    vectors = _vectors(vendor_file, "x_account_activity_signature")
    for case in vectors["cases"]:
        secret, body, header = vectors["consumer_secret"], case["body"].encode(), case["header"]
        if change == "tampered body":
            body += b" "
        elif change == "wrong secret":
            secret += "x"
        else:
            header = header.removeprefix("sha256=")
        with pytest.raises(Unauthorized):
            verify_signature(secret, body, header)


def _at(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def test_zendesk_documented_formula_with_the_static_test_secret_is_accepted(
    vendor_file: Callable[[str], Path],
) -> None:
    """What Zendesk's "Test webhook" button sends: the static secret used as-is, timestamp then body."""
    vectors = _vectors(vendor_file, "zendesk_webhook_signature")
    assert "Timestamp + raw_body" in vectors["current_doc_formula"]
    secret = vectors["test_delivery_static_secret"]
    timestamp, body = "2024-05-01T12:00:00Z", b'{"ticket_id": "35436"}'
    signature = base64.b64encode(
        hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    )
    headers = {webhook.SIGNATURE: signature.decode(), webhook.TIMESTAMP: timestamp}
    webhook.verify(secret, headers, body, _at(timestamp), 300)
    with pytest.raises(Unauthorized, match="does not match"):
        webhook.verify(secret, headers, body + b" ", _at(timestamp), 300)
    with pytest.raises(Unauthorized, match="does not match"):
        webhook.verify(secret[:-1], headers, body, _at(timestamp), 300)


def test_zendesk_legacy_body_then_timestamp_vector_is_refused(vendor_file: Callable[[str], Path]) -> None:
    """The older page's example signs body + timestamp; accepting it would accept a forgery of the order."""
    legacy = _vectors(vendor_file, "zendesk_webhook_signature")["legacy_doc_vector"]
    secret, body, timestamp = legacy["secret"], legacy["body"].encode(), legacy["timestamp"]
    body_first = hmac.new(secret.encode(), body + timestamp.encode(), hashlib.sha256).digest()
    assert base64.b64encode(body_first).decode() == legacy["signature"], "the vector is what it says"
    headers = {webhook.SIGNATURE: legacy["signature"], webhook.TIMESTAMP: timestamp}
    with pytest.raises(Unauthorized, match="does not match"):
        webhook.verify(secret, headers, body, _at(timestamp), 300)
