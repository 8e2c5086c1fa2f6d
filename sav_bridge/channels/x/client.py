"""Posting to X: a public reply (`POST /2/tweets`) or a DM (`POST /2/dm_conversations/with/{id}/messages`)."""

from __future__ import annotations

import httpx

from sav_bridge.errors import PermanentError
from sav_bridge.http import VendorErrors, json_body, send

X_ERRORS = VendorErrors(
    name="x",
    retry_after_headers=("retry-after",),
    reset_epoch_headers=("x-rate-limit-reset",),
)


class XClient:
    """The brand account's write access to X, through an injected `httpx.AsyncClient`."""

    def __init__(self, client: httpx.AsyncClient, api_url: str, access_token: str) -> None:
        self._client = client
        self._api_url = api_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {access_token}"}

    async def post_reply(self, text: str, in_reply_to: str) -> str:
        """Publish `text` as a reply; return the new post id."""
        response = await send(
            self._client,
            X_ERRORS,
            "POST",
            f"{self._api_url}/2/tweets",
            json={"text": text, "reply": {"in_reply_to_tweet_id": in_reply_to}},
            headers=self._headers,
        )
        return _field(json_body(response), "id")

    async def send_dm(self, participant_id: str, text: str) -> str:
        """Send `text` as a DM to `participant_id`; return the DM event id."""
        response = await send(
            self._client,
            X_ERRORS,
            "POST",
            f"{self._api_url}/2/dm_conversations/with/{participant_id}/messages",
            json={"text": text},
            headers=self._headers,
        )
        return _field(json_body(response), "dm_event_id")


def _field(body: object, name: str) -> str:
    data = body.get("data") if isinstance(body, dict) else None
    value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, str):
        raise PermanentError("x", f"answer without data.{name}")
    return value
