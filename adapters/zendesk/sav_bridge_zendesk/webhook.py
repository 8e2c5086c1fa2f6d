"""Zendesk webhook authentication: base64(HMAC-SHA256(secret, timestamp + body)) within a time window.

The current Zendesk documentation says timestamp + body; an older page's worked example matches
body + timestamp, which we deliberately do not accept (see vendor CONTRACTS §0.4).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from sav_bridge.errors import Unauthorized

SIGNATURE = "x-zendesk-webhook-signature"
TIMESTAMP = "x-zendesk-webhook-signature-timestamp"
INVOCATION = "x-zendesk-webhook-invocation-id"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float, tolerance: float) -> None:
    signature = headers.get(SIGNATURE)
    timestamp = headers.get(TIMESTAMP)
    if not signature or not timestamp:
        raise Unauthorized(f"missing {SIGNATURE} or {TIMESTAMP} header")
    try:
        sent_at = datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise Unauthorized(f"{TIMESTAMP} is not an ISO-8601 time") from None
    if abs(now - sent_at) > tolerance:
        raise Unauthorized(f"{TIMESTAMP} is outside the ±{int(tolerance)} s window (replayed or clock skew)")
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.strip().encode()):
        raise Unauthorized(f"{SIGNATURE} does not match the body")
