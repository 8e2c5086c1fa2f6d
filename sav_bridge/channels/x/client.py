"""Posting to X: a public reply (`POST /2/tweets`) or a DM (`POST /2/dm_conversations/with/{id}/messages`),
and reading them back (`GET /2/users/{id}/tweets`, `GET /2/dm_conversations/with/{id}/dm_events`) to
tell whether a write whose answer was lost happened. Reads are billed per item returned (the brand's
own posts at $0.001 each since April 2026) and rate-limited (900 timeline and 15 DM-event reads per
user per 15 minutes), so they are made only for such a write and bounded by its time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from sav_bridge.channels.x.billing import Kind, Meter, post_kind
from sav_bridge.channels.x.readback import Written, find
from sav_bridge.errors import PermanentError
from sav_bridge.http import VendorErrors, json_body, send

X_ERRORS = VendorErrors(
    name="x",
    retry_after_headers=("retry-after",),
    reset_epoch_headers=("x-rate-limit-reset",),
)


class XClient:
    """The brand account's write access to X, through an injected `httpx.AsyncClient`."""

    #: Pages read back before giving up: 500 posts is over an hour of posting at X's own write limit.
    TIMELINE_PAGES = 5
    #: DM events are billed per event returned and read 15 times per 15 minutes at most: small pages,
    #: newest first, stopping at the intent's time.
    DM_PAGE_SIZE = 20
    DM_PAGES = 5
    #: Counts every billed call (`billing`); set by the runtime, None where nothing is counted (`check`).
    meter: Meter | None = None

    def __init__(
        self, client: httpx.AsyncClient, api_url: str, auth: httpx.Auth, account_id: str | None = None
    ) -> None:
        """`auth` acts as the brand account: OAuth 1.0a signing or an OAuth 2.0 bearer (`auth.x_access`)."""
        self._client = client
        self._api_url = api_url.rstrip("/")
        self._auth = auth
        self.account_id = account_id

    @property
    def auth(self) -> httpx.Auth:
        """The brand's authorization, for the other calls made as the brand (`media.XMedia`)."""
        return self._auth

    async def post_reply(self, text: str, in_reply_to: str, media_ids: tuple[str, ...] = ()) -> str:
        """Publish `text` as a reply, with the uploaded `media_ids` attached; return the new post id."""
        body: dict[str, Any] = {"text": text, "reply": {"in_reply_to_tweet_id": in_reply_to}}
        if media_ids:
            body["media"] = {"media_ids": list(media_ids)}
        response = await send(
            self._client,
            X_ERRORS,
            "POST",
            f"{self._api_url}/2/tweets",
            json=body,
            auth=self._auth,
        )
        if self.meter is not None:
            await self.meter.record_write(post_kind(text, reply=True))
        return _field(json_body(response), "id")

    async def send_dm(self, participant_id: str, text: str, media_id: str | None = None) -> str:
        """Send `text` as a DM to `participant_id`, with an uploaded `media_id`; return the DM event id."""
        body: dict[str, Any] = {"text": text}
        if media_id:
            body["attachments"] = [{"media_id": media_id}]
        response = await send(
            self._client,
            X_ERRORS,
            "POST",
            f"{self._api_url}/2/dm_conversations/with/{participant_id}/messages",
            json=body,
            auth=self._auth,
        )
        if self.meter is not None:
            await self.meter.record_write(Kind.WRITE_DM)
        return _field(json_body(response), "dm_event_id")

    async def find_reply(self, in_reply_to: str, digest: str, since: float) -> str | None:
        """The id of the brand's post answering `in_reply_to` whose text has `digest` (see `readback`),
        among those made after `since` (epoch seconds); None when X has no such post.

        Raises `PermanentError` when more posts were made since than this reads back: then nobody can
        say without looking whether the reply went out."""
        if not self.account_id:
            raise PermanentError("x", "x.account_id is needed to read the brand's posts back")
        params: dict[str, Any] = {
            "max_results": 100,
            "start_time": rfc3339(since),
            "exclude": "retweets",
            "post.fields": "created_at",
            "expansions": "referenced_posts",
        }
        url = f"{self._api_url}/2/users/{self.account_id}/tweets"
        for _ in range(self.TIMELINE_PAGES):
            page = await self._get(url, params)
            await self._billed(Kind.READ_POSTS, page)
            found = find([_post(item) for item in _items(page)], in_reply_to, digest)
            token = next_token(page)
            if found is not None or token is None:
                return found
            params["pagination_token"] = token
        raise PermanentError(
            "x",
            f"could not tell whether this reply is on X: the brand made more than "
            f"{100 * self.TIMELINE_PAGES} posts since it was sent; look at the account's posts before "
            "posting it again",
        )

    async def find_dm(self, participant_id: str, digest: str, since: float) -> str | None:
        """The id of the brand's DM event to `participant_id` whose text has `digest`, sent after `since`;
        None when X has no such DM. Raises `PermanentError` when the read back does not reach `since`."""
        params: dict[str, Any] = {
            "max_results": self.DM_PAGE_SIZE,
            "event_types": "MessageCreate",
            "dm_event.fields": "created_at,event_type,id,text",
            "expansions": "sender_id",
        }
        url = f"{self._api_url}/2/dm_conversations/with/{participant_id}/dm_events"
        for _ in range(self.DM_PAGES):
            page = await self._get(url, params)
            await self._billed(Kind.READ_DM_EVENTS, page)
            events = _items(page)
            written = [_dm(event, participant_id, self.account_id) for event in events]
            found = find(written, participant_id, digest)
            token = next_token(page)
            if found is not None or token is None or _older_than(events, since):
                return found
            params["pagination_token"] = token
        raise PermanentError(
            "x",
            "could not tell whether this DM was sent: the conversation has too many messages since; "
            "look at it on X before sending it again",
        )

    async def _get(self, url: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        response = await send(self._client, X_ERRORS, "GET", url, params=dict(params), auth=self._auth)
        return json_body(response)

    async def get_json(self, path: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """`GET path` (e.g. "/2/dm_events") as the brand, billed to the meter by its caller (the poller)."""
        return await self._get(f"{self._api_url}{path}", params)

    async def _billed(self, kind: Kind, page: Mapping[str, Any]) -> None:
        if self.meter is not None:
            await self.meter.record_read(kind, [str(item.get("id")) for item in _items(page)])

    async def verify_credentials(self) -> tuple[str, str]:
        """`GET /2/users/me` with the configured token (`sav-bridge check --online`): (id, username).

        Raises `PermanentError` with status 401 when X refuses the token; posts nothing.
        """
        response = await send(self._client, X_ERRORS, "GET", f"{self._api_url}/2/users/me", auth=self._auth)
        body = json_body(response)
        return _field(body, "id"), _field(body, "username")


def _field(body: object, name: str) -> str:
    data = body.get("data") if isinstance(body, dict) else None
    value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, str):
        raise PermanentError("x", f"answer without data.{name}")
    return value


def rfc3339(epoch: float) -> str:
    """Epoch seconds as the UTC time X's `start_time` and `end_time` take (whole seconds)."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _items(page: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    data = page.get("data")
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


def next_token(page: Mapping[str, Any]) -> str | None:
    """The token of the page after `page` (`meta.next_token`); None on the last page."""
    meta = page.get("meta")
    token = meta.get("next_token") if isinstance(meta, dict) else None
    return token if isinstance(token, str) and token else None


def _post(item: Mapping[str, Any]) -> Written:
    # 2.167 of X's spec names the field `referenced_posts`; earlier versions `referenced_tweets`.
    refs = item.get("referenced_posts") or item.get("referenced_tweets") or []
    answered = [r.get("id") for r in refs if isinstance(r, dict) and r.get("type") == "replied_to"]
    target = answered[0] if answered and isinstance(answered[0], str) else None
    return Written(str(item.get("id", "")), str(item.get("text", "")), target)


def _dm(event: Mapping[str, Any], participant_id: str, account_id: str | None) -> Written:
    # A DM is ours only when X says the brand sent it: one without `sender_id` may be the customer's,
    # and a customer's text identical to ours must never confirm a DM that was not sent.
    sender = event.get("sender_id")
    known = isinstance(sender, str) and bool(sender)
    ours = known and (sender == account_id or (account_id is None and sender != participant_id))
    return Written(str(event.get("id", "")), str(event.get("text", "")), participant_id if ours else None)


def _older_than(events: list[Mapping[str, Any]], since: float) -> bool:
    """True when the page reaches back before `since` (events come newest first)."""
    for event in reversed(events):
        created = event.get("created_at")
        if isinstance(created, str):
            try:
                return datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp() < since
            except ValueError:
                return False
    return False
