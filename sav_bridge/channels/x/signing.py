"""X webhook authentication: the CRC answer and the `x-twitter-webhooks-signature` check.

Both are HMAC-SHA256 keyed with the app's consumer secret, base64-encoded, prefixed with `sha256=`.
`sign()` is shipped for tests and the demo, which sign bodies exactly as X does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from sav_bridge.errors import Unauthorized

SIGNATURE_HEADER = "x-twitter-webhooks-signature"


def sign(consumer_secret: str, message: bytes) -> str:
    digest = hmac.new(consumer_secret.encode(), message, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def crc_response(consumer_secret: str, crc_token: str) -> dict[str, str]:
    """The JSON body X expects in answer to `GET ?crc_token=…`."""
    return {"response_token": sign(consumer_secret, crc_token.encode())}


def verify_signature(consumer_secret: str, body: bytes, header: str | None) -> None:
    """Raise `Unauthorized` unless `header` is X's signature of `body`."""
    if not header:
        raise Unauthorized(f"missing {SIGNATURE_HEADER} header")
    if not header.startswith("sha256="):
        raise Unauthorized(f"{SIGNATURE_HEADER} must start with sha256=")
    if not hmac.compare_digest(sign(consumer_secret, body).encode(), header.strip().encode()):
        raise Unauthorized(f"{SIGNATURE_HEADER} does not match the body")
