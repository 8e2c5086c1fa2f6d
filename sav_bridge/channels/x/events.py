"""Parse X webhook bodies, in both envelopes, into `SocialMessage`s.

- Account Activity API (v1.1 objects): `{"for_user_id", "tweet_create_events": [...],
  "direct_message_events": [...], "users": {...}}`.
- X Activity API (v2 objects): `{"data": {"event_uuid", "filter": {"user_id"}, "event_type", "payload"}}`.

Pure functions: no I/O. Threading of v1.1 replies (which carry no `conversation_id`) is finished by the
caller with the message links it has stored (`sav_bridge.flows.inbound`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sav_bridge.errors import MalformedRequest
from sav_bridge.model import MessageKind, SocialMessage, SocialUser

CHANNEL = "x"
XAA_POST_EVENTS = {"post.mention.create": MessageKind.MENTION, "post.reply.create": MessageKind.REPLY}
XAA_DM_EVENTS = {"dm.received"}
#: Known event types we acknowledge on purpose without making tickets.
IGNORED_TYPES = frozenset(
    {
        "favorite_events", "follow_events", "block_events", "mute_events", "tweet_delete_events", "user_event",
        "direct_message_indicate_typing_events", "direct_message_mark_read_events",
    }
)  # fmt: skip


@dataclass
class ParsedBody:
    """What one webhook body held: messages to act on, and what was dropped and why."""

    account_id: str
    messages: list[SocialMessage] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


def dm_thread_key(account_id: str, customer_id: str) -> str:
    return f"x:dm:{account_id}:{customer_id}"


def parse_body(body: Any, account_id: str) -> ParsedBody:
    """Turn a decoded webhook body into messages for `account_id` (the brand).

    Raises `MalformedRequest` when the body is neither envelope.
    """
    if not isinstance(body, dict):
        raise MalformedRequest("body must be a JSON object")
    if "for_user_id" in body:
        return _parse_account_activity(body, account_id)
    if isinstance(body.get("data"), dict) and "event_type" in body["data"]:
        return _parse_activity_api(body["data"], account_id)
    raise MalformedRequest("neither an Account Activity nor an X Activity API envelope")


# -- Account Activity API ---------------------------------------------------------------------------
def _parse_account_activity(body: dict[str, Any], account_id: str) -> ParsedBody:
    for_user = _id(body.get("for_user_id"), "for_user_id")
    parsed = ParsedBody(account_id=for_user)
    if for_user != account_id:
        parsed.drop("other_account")
        return parsed
    for key, value in body.items():
        if key == "tweet_create_events":
            for tweet in _list(value, key):
                _add(parsed, _v1_tweet(tweet, for_user))
        elif key == "direct_message_events":
            users = _obj(body.get("users"))
            for event in _list(value, key):
                _add(parsed, _dm_event(event, for_user, users, v2_users=False))
        elif key.endswith("_events") or key == "user_event":
            parsed.drop("ignored_type" if key in IGNORED_TYPES else "unknown_type")
    return parsed


def _v1_tweet(tweet: Any, account_id: str) -> SocialMessage | str:
    if not isinstance(tweet, dict):
        raise MalformedRequest("tweet_create_events items must be objects")
    user = _obj(tweet.get("user"))
    author_id = user.get("id_str")
    if not isinstance(author_id, str):
        raise MalformedRequest("tweet without user.id_str")
    if author_id == account_id:
        return "echo"
    if "retweeted_status" in tweet:
        return "retweet"
    tweet_id = _id(tweet.get("id_str"), "id_str")
    extended = _obj(tweet.get("extended_tweet"))
    text = extended.get("full_text") if extended and tweet.get("truncated") else tweet.get("text")
    text = text if isinstance(text, str) else (tweet.get("full_text") or "")
    entities = (extended or tweet).get("entities") or tweet.get("entities") or {}
    mentions = [m.get("id_str") for m in entities.get("user_mentions", []) if isinstance(m, dict)]
    in_reply_to = tweet.get("in_reply_to_status_id_str")
    in_reply_to = in_reply_to if isinstance(in_reply_to, str) and in_reply_to else None
    return SocialMessage(
        channel=CHANNEL,
        account_id=account_id,
        id=tweet_id,
        kind=MessageKind.REPLY if in_reply_to else MessageKind.MENTION,
        author=SocialUser(author_id, user.get("screen_name"), user.get("name")),
        text=str(text),
        created_at=_v1_time(tweet.get("created_at")),
        thread_key=thread_key_for(tweet_id, in_reply_to, None),
        in_reply_to=in_reply_to,
        mentions_brand=account_id in mentions or tweet.get("in_reply_to_user_id_str") == account_id,
    )


# -- X Activity API ---------------------------------------------------------------------------------
def _parse_activity_api(data: dict[str, Any], account_id: str) -> ParsedBody:
    filter_ = _obj(data.get("filter"))
    for_user = _id(filter_.get("user_id"), "data.filter.user_id")
    parsed = ParsedBody(account_id=for_user)
    if for_user != account_id:
        parsed.drop("other_account")
        return parsed
    event_type = data.get("event_type")
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise MalformedRequest("data.payload must be an object")
    if event_type in XAA_POST_EVENTS:
        users = {u.get("id"): u for u in (data.get("includes") or {}).get("users", []) if isinstance(u, dict)}
        _add(parsed, _v2_post(payload, XAA_POST_EVENTS[str(event_type)], account_id, users))
    elif event_type in XAA_DM_EVENTS:
        v2_users = _obj(payload.get("users"))
        for event in _list(payload.get("direct_message_events"), "payload.direct_message_events"):
            _add(parsed, _dm_event(event, account_id, v2_users, v2_users=True))
    elif event_type == "dm.sent":
        parsed.drop("echo")
    else:
        parsed.drop("unknown_type")
    return parsed


def _v2_post(
    post: dict[str, Any], kind: MessageKind, account_id: str, users: Mapping[Any, Any]
) -> SocialMessage | str:
    author_id = _id(post.get("author_id"), "payload.author_id")
    if author_id == account_id:
        return "echo"
    refs = [r for r in post.get("referenced_tweets") or [] if isinstance(r, dict)]
    if any(r.get("type") == "retweeted" for r in refs):
        return "retweet"
    post_id = _id(post.get("id"), "payload.id")
    in_reply_to = post.get("in_reply_to_tweet_id") or next(
        (r.get("id") for r in refs if r.get("type") == "replied_to"), None
    )
    mentions = [m.get("id") for m in (post.get("entities") or {}).get("mentions", []) if isinstance(m, dict)]
    user = users.get(author_id) or {}
    return SocialMessage(
        channel=CHANNEL,
        account_id=account_id,
        id=post_id,
        kind=MessageKind.REPLY if in_reply_to and kind is MessageKind.REPLY else kind,
        author=SocialUser(author_id, user.get("username"), user.get("name")),
        text=str(post.get("note_tweet", {}).get("text") or post.get("text") or ""),
        created_at=str(post.get("created_at") or ""),
        thread_key=thread_key_for(post_id, in_reply_to, post.get("conversation_id")),
        in_reply_to=in_reply_to,
        mentions_brand=account_id in mentions or post.get("in_reply_to_user_id") == account_id,
    )


# -- shared -----------------------------------------------------------------------------------------
def _dm_event(
    event: Any, account_id: str, users: Mapping[str, Any], *, v2_users: bool
) -> SocialMessage | str:
    if not isinstance(event, dict):
        raise MalformedRequest("direct_message_events items must be objects")
    if event.get("type") != "message_create":
        return "ignored_type"
    create = event.get("message_create")
    if not isinstance(create, dict):
        raise MalformedRequest("message_create event without message_create object")
    sender = _id(create.get("sender_id"), "message_create.sender_id")
    if sender == account_id:
        return "echo"
    raw_user = users.get(sender) or {}
    user = raw_user.get("data", {}) if v2_users else raw_user
    text = (create.get("message_data") or {}).get("text")
    if not isinstance(text, str):
        raise MalformedRequest("message_create without message_data.text")
    return SocialMessage(
        channel=CHANNEL,
        account_id=account_id,
        id=_id(event.get("id"), "direct_message_events.id"),
        kind=MessageKind.DM,
        author=SocialUser(sender, user.get("screen_name") or user.get("username"), user.get("name")),
        text=text,
        created_at=_epoch_ms(event.get("created_timestamp")),
        thread_key=dm_thread_key(account_id, sender),
        mentions_brand=True,
    )


def thread_key_for(post_id: str, in_reply_to: str | None, conversation_id: str | None) -> str:
    """A public thread's key: the conversation id when X gives one, else the reply chain we know.

    Never fetches parents from X (every read is billed): an unknown parent starts its own thread.
    """
    if conversation_id:
        return f"x:thread:{conversation_id}"
    if in_reply_to:
        return f"x:thread:{in_reply_to}"
    return f"x:thread:{post_id}"


def _add(parsed: ParsedBody, item: SocialMessage | str) -> None:
    if isinstance(item, str):
        parsed.drop(item)
    else:
        parsed.messages.append(item)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _id(value: Any, name: str) -> str:
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return value
    raise MalformedRequest(f"{name} must be a numeric string")


def _list(value: Any, name: str) -> Iterator[Any]:
    if not isinstance(value, list):
        raise MalformedRequest(f"{name} must be a list")
    return iter(value)


def _v1_time(value: Any) -> str:
    try:
        return datetime.strptime(str(value), "%a %b %d %H:%M:%S %z %Y").astimezone(UTC).isoformat()
    except ValueError:
        return ""


def _epoch_ms(value: Any) -> str:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC).isoformat()
    except (TypeError, ValueError):
        return ""
