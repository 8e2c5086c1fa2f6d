"""Freshdesk automation webhooks: authenticated by a shared token header, read for the ticket id.

Freshdesk signs nothing ("Trigger webhook" sends the admin's method, URL, custom headers and body), so
the rule sends `X-Sav-Bridge-Token: <freshdesk.webhook_secret>`, compared in constant time. A shared
token proves who sent the request, not when nor that the body is unaltered: a repeat is harmless
because each reply is published once, by its conversation id.

Dedup key (`WebhookNotice.key`): Freshdesk's notice carries no delivery id and, with the body the
README gives, is the same for every reply on a ticket. So the key is `<ticket id>:<conversation id>`
when the body names the reply (`"conversation_id"`, for integrations that know it), else
`<ticket id>:delivery:<random>`: every delivery is new, a second reply on the same ticket is never
absorbed as a duplicate of the first, and a repeated delivery only costs one more read of the
ticket's conversations.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from collections.abc import Mapping

from sav_bridge.errors import MalformedRequest, Unauthorized

TOKEN_HEADER = "x-sav-bridge-token"
#: Freshdesk ids: ASCII digits ('²'.isdigit() is true).
NUMERIC_ID = re.compile(r"[0-9]{1,19}")


def verify(secret: str, headers: Mapping[str, str]) -> None:
    token = headers.get(TOKEN_HEADER)
    if not token:
        raise Unauthorized(f"missing {TOKEN_HEADER} header")
    if not hmac.compare_digest(token.strip().encode(), secret.encode()):
        raise Unauthorized(f"{TOKEN_HEADER} does not match freshdesk.webhook_secret")


def _numeric(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and NUMERIC_ID.fullmatch(value) else None


def parse(body: bytes) -> tuple[str, str]:
    """The ticket id and the notice's dedup key; `MalformedRequest` unless the body is `{"ticket_id": …}`."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise MalformedRequest("body is not JSON") from None
    if not isinstance(data, dict) or (ticket_id := _numeric(data.get("ticket_id"))) is None:
        raise MalformedRequest('body must be {"ticket_id": <numeric id>}')
    conversation = _numeric(data.get("conversation_id"))
    key = f"{ticket_id}:{conversation}" if conversation else f"{ticket_id}:delivery:{secrets.token_hex(8)}"
    return ticket_id, key
