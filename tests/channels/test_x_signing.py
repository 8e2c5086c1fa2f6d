"""X's CRC and webhook signature, checked against the vendor's own test vectors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from sav_bridge.channels.x.signing import crc_response, sign, verify_signature
from sav_bridge.errors import Unauthorized


def test_signature_matches_vendor_vectors(vendor_file: Callable[[str], Path]) -> None:
    vectors = json.loads(vendor_file("test-vectors/signature-vectors.json").read_text())[
        "x_account_activity_signature"
    ]
    for case in vectors["cases"]:
        assert sign(vectors["consumer_secret"], case["body"].encode()) == case["header"]
        verify_signature(vectors["consumer_secret"], case["body"].encode(), case["header"])


def test_crc_uses_the_same_hmac_over_the_token() -> None:
    assert crc_response("test", "test=1&other_test=2") == {
        "response_token": "sha256=25Cu3iwbbiqBTwQRzcKJZwisjf736V2Q8UaTlkfLSoc="
    }


@pytest.mark.parametrize(
    "header", [None, "", "sha256=", "sha256=AAAA", "25Cu3iwbbiqBTwQRzcKJZwisjf736V2Q8UaTlkfLSoc="]
)
def test_wrong_signatures_are_refused(header: str | None) -> None:
    with pytest.raises(Unauthorized):
        verify_signature("test", b"test=1&other_test=2", header)
