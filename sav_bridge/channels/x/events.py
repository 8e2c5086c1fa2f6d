"""Parse X webhook bodies, in both envelopes, into `SocialMessage`s.

- Account Activity API (v1.1 objects): `{"for_user_id", "tweet_create_events": [...],
  "direct_message_events": [...], "users": {...}}`; `user_event` (a revocation) comes without
  `for_user_id`.
- X Activity API (v2 objects): `{"data": {"event_uuid", "filter": {"user_id"}, "event_type", "payload"}}`.

Every event type X documents is acknowledged: messages become `SocialMessage`s, the brand's own posts
become `Echo`s (no ticket, but their place in a thread is kept, so a customer answering an agent who
replied natively on X lands on the same ticket), a revocation of the brand account is flagged, the
rest is counted as dropped. A body that is neither envelope raises `MalformedRequest`; one item that
cannot be read is set aside in `problems` without losing its neighbours. Every message is checked
against `schemas/event.schema.json` before it leaves this module.

Pure functions: no I/O. Threading of v1.1 replies (which carry no `conversation_id`) is finished by the
caller with the message links it has stored (`sav_bridge.flows.inbound`).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import fastjsonschema
import jsonschema

from sav_bridge import SCHEMA_DIR
from sav_bridge.channels.x import fields as f
from sav_bridge.channels.x import media as xm
from sav_bridge.errors import MalformedRequest
from sav_bridge.model import MessageKind, SocialMessage, SocialUser

CHANNEL = "x"
XAA_POST_EVENTS = {"post.mention.create": MessageKind.MENTION, "post.reply.create": MessageKind.REPLY}
XAA_DM_EVENTS = frozenset({"dm.received"})
#: The brand's own activity, in the X Activity API: echoes of what we (or an agent on X) posted.
XAA_OWN_EVENTS = frozenset({"dm.sent", "post.create"})
XAA_REVOKE = "oauth.revoke"
#: Event types the X Activity API documents that make no ticket.
XAA_IGNORED_TYPES = frozenset(
    {
        "block.block", "block.unblock", "broadcast.chat", "broadcast.end", "broadcast.start", "chat.received",
        "chat.sent", "chat.conversation_join", "dm.indicate_typing", "dm.read", "follow.follow",
        "follow.unfollow", "like.create", "mute.mute", "mute.unmute", "news.new", "post.delete",
        "post.quote.create", "post.repost.create", "profile.update.affiliate_badge",
        "profile.update.banner_picture", "profile.update.bio", "profile.update.geo", "profile.update.handle",
        "profile.update.profile_picture", "profile.update.screenname", "profile.update.url",
        "profile.update.verified_badge", "spaces.end", "spaces.start",
    }
)  # fmt: skip
#: Account Activity event keys we acknowledge on purpose without making tickets.
IGNORED_TYPES = frozenset(
    {
        "favorite_events", "follow_events", "unfollow_events", "block_events", "unblock_events",
        "mute_events", "unmute_events", "tweet_delete_events", "direct_message_indicate_typing_events",
        "direct_message_mark_read_events",
    }
)  # fmt: skip
AAA_MESSAGE_TYPES = frozenset({"tweet_create_events", "direct_message_events"})
AAA_TYPES = IGNORED_TYPES | AAA_MESSAGE_TYPES | {"user_event"}


@dataclass(frozen=True)
class Echo:
    """One of the brand's own posts coming back: no ticket, but a place in a thread."""

    id: str
    in_reply_to: str | None
    thread_key: str


@dataclass
class ParsedBody:
    """What one webhook body held: messages to act on, echoes to thread, what was dropped and why."""

    account_id: str
    messages: list[SocialMessage] = field(default_factory=list)
    echoes: list[Echo] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    #: Why items of this body could not be read (the caller keeps the body in quarantine).
    problems: list[str] = field(default_factory=list)
    #: The brand account took back the app's access (X stops delivering its events).
    brand_revoked: bool = False

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    @property
    def usable(self) -> bool:
        """Whether anything in the body was understood, even if only to be ignored on purpose."""
        return bool(self.messages or self.echoes or set(self.dropped) - {"malformed"})


def dm_thread_key(account_id: str, customer_id: str) -> str:
    return f"x:dm:{account_id}:{customer_id}"


def parse_body(body: Any, account_id: str) -> ParsedBody:
    """Turn a decoded webhook body into messages for `account_id` (the brand).

    Raises `MalformedRequest` when the body is neither envelope.
    """
    if not isinstance(body, dict):
        raise MalformedRequest("body must be a JSON object")
    if "for_user_id" in body or AAA_TYPES & body.keys():
        return _parse_account_activity(body, account_id)
    data = body.get("data")
    if isinstance(data, dict) and isinstance(data.get("event_type"), str):
        return _parse_activity_api(data, account_id)
    raise MalformedRequest("neither an Account Activity nor an X Activity API envelope")


def read_item(parsed: ParsedBody, name: str, item: Any, reader: Any, *args: Any) -> None:
    """Run one item's reader, setting the item aside (not the whole body) when it cannot be read."""
    try:
        result = reader(item, *args)
        if isinstance(result, SocialMessage):
            check_message(result)
    except MalformedRequest as exc:
        parsed.drop("malformed")
        parsed.problems.append(f"{name}: {exc.reason}")
        return
    if isinstance(result, str):
        parsed.drop(result)
    elif isinstance(result, Echo):
        parsed.echoes.append(result)
        parsed.drop("echo")
    else:
        parsed.messages.append(result)


# -- Account Activity API ---------------------------------------------------------------------------
def _parse_account_activity(body: dict[str, Any], account_id: str) -> ParsedBody:
    # A body without for_user_id (X sends `user_event` so) is for the one brand this gateway serves.
    for_user = f.required_id(body["for_user_id"], "for_user_id") if "for_user_id" in body else account_id
    parsed = ParsedBody(account_id=for_user)
    if for_user != account_id:
        parsed.drop("other_account")
        return parsed
    for key, value in body.items():
        if key == "tweet_create_events":
            for tweet in f.items(value, key):
                read_item(parsed, key, tweet, _v1_tweet, for_user)
        elif key == "direct_message_events":
            users = f.obj(body.get("users"))
            for event in f.items(value, key):
                read_item(parsed, key, event, dm_event, for_user, users, False)
        elif key == "user_event":
            revoke = f.obj(f.obj(value).get("revoke"))
            revoked_by = f.obj(revoke.get("source")).get("user_id")
            parsed.brand_revoked = parsed.brand_revoked or revoked_by == account_id
            parsed.drop("revoke" if revoke else "ignored_type")
        elif key in IGNORED_TYPES:
            parsed.drop("ignored_type")
        elif key.endswith("_events"):
            parsed.drop("unknown_type")
    return parsed


def _v1_tweet(tweet: Any, account_id: str) -> SocialMessage | Echo | str:
    if not isinstance(tweet, dict):
        raise MalformedRequest("items must be objects")
    user = f.obj(tweet.get("user"))
    author_id = f.required_id(user.get("id_str"), "user.id_str")
    tweet_id = f.required_id(tweet.get("id_str"), "id_str")
    in_reply_to = f.optional_id(tweet.get("in_reply_to_status_id_str"))
    if author_id == account_id:
        return Echo(tweet_id, in_reply_to, thread_key_for(tweet_id, in_reply_to, None))
    if "retweeted_status" in tweet:
        return "retweet"
    extended = f.obj(tweet.get("extended_tweet"))
    full = tweet.get("truncated") is True and isinstance(extended.get("full_text"), str)
    body_text = f.text(extended["full_text"] if full else tweet.get("text") or tweet.get("full_text"))
    entities = f.obj(extended.get("entities")) or f.obj(tweet.get("entities"))
    mentions = [
        m.get("id_str") for m in f.optional_list(entities.get("user_mentions")) if isinstance(m, dict)
    ]
    body_text, links = xm.expand_links(body_text, entities.get("urls"), xm.v1_media_links(tweet))
    return SocialMessage(
        channel=CHANNEL,
        account_id=account_id,
        id=tweet_id,
        kind=MessageKind.REPLY if in_reply_to else MessageKind.MENTION,
        author=SocialUser(
            author_id,
            f.optional_text(user.get("screen_name")),
            f.optional_text(user.get("name")),
            f.followers(user),
        ),
        text=body_text,
        created_at=f.v1_time(tweet.get("created_at")),
        thread_key=thread_key_for(tweet_id, in_reply_to, None),
        in_reply_to=in_reply_to,
        mentions_brand=account_id in mentions or tweet.get("in_reply_to_user_id_str") == account_id,
        media=xm.v1_media(tweet),
        links=links,
    )


# -- X Activity API ---------------------------------------------------------------------------------
def _parse_activity_api(data: dict[str, Any], account_id: str) -> ParsedBody:
    event_type = str(data["event_type"])
    payload = f.obj(data.get("payload"))
    if event_type == XAA_REVOKE:
        # X sends the revocation with an empty filter: the payload names who revoked.
        parsed = ParsedBody(account_id=account_id)
        parsed.brand_revoked = payload.get("user_id") == account_id
        parsed.drop("revoke")
        return parsed
    if event_type not in XAA_POST_EVENTS.keys() | XAA_DM_EVENTS | XAA_OWN_EVENTS:
        # Keyword filters (news.new) name no user: nothing here is for a ticket anyway.
        parsed = ParsedBody(account_id=account_id)
        parsed.drop("ignored_type" if event_type in XAA_IGNORED_TYPES else "unknown_type")
        return parsed
    for_user = f.required_id(f.obj(data.get("filter")).get("user_id"), "data.filter.user_id")
    parsed = ParsedBody(account_id=for_user)
    if for_user != account_id:
        parsed.drop("other_account")
        return parsed
    if event_type in XAA_POST_EVENTS or event_type == "post.create":
        users = {
            u.get("id"): u
            for u in f.optional_list(f.obj(data.get("includes")).get("users"))
            if isinstance(u, dict) and isinstance(u.get("id"), str)
        }
        kind = XAA_POST_EVENTS.get(event_type, MessageKind.MENTION)
        includes = f.obj(data.get("includes"))
        read_item(parsed, event_type, payload, v2_post, kind, account_id, users, includes)
    else:
        dm_users = f.obj(payload.get("users"))
        for event in f.items(payload.get("direct_message_events"), "payload.direct_message_events"):
            read_item(parsed, event_type, event, dm_event, account_id, dm_users, True)
    return parsed


def v2_post(
    post: dict[str, Any],
    kind: MessageKind,
    account_id: str,
    users: Mapping[str, Any],
    includes: Mapping[str, Any] | None = None,
) -> SocialMessage | Echo | str:
    """An API v2 post (X Activity API payload, or a timeline item), its author looked up in `users` and
    its media in `includes`; the brand's own post is an `Echo`."""
    author_id = f.required_id(post.get("author_id"), "payload.author_id")
    post_id = f.required_id(post.get("id"), "payload.id")
    refs = [r for r in f.optional_list(post.get("referenced_tweets")) if isinstance(r, dict)]
    in_reply_to = f.optional_id(post.get("in_reply_to_tweet_id")) or next(
        (f.optional_id(r.get("id")) for r in refs if r.get("type") == "replied_to"), None
    )
    thread_key = thread_key_for(post_id, in_reply_to, f.optional_id(post.get("conversation_id")))
    if author_id == account_id:
        return Echo(post_id, in_reply_to, thread_key)
    if any(r.get("type") == "retweeted" for r in refs):
        return "retweet"
    mentions = [
        m.get("id")
        for m in f.optional_list(f.obj(post.get("entities")).get("mentions"))
        if isinstance(m, dict)
    ]
    user = f.obj(users.get(author_id))
    user = f.obj(user.get("data")) or user  # `includes.users` items come bare or wrapped in `data`
    note = f.obj(post.get("note_tweet"))
    long_form = isinstance(note.get("text"), str) and bool(note["text"])
    entities = f.obj(note.get("entities")) if long_form else f.obj(post.get("entities"))
    screen_name = f.optional_text(user.get("username"))
    handle = screen_name if screen_name and re.fullmatch(r"[A-Za-z0-9_]{1,15}", screen_name) else "i/web"
    post_url = f"https://x.com/{handle}/status/{post_id}"
    body_text, links = xm.expand_links(
        f.text(note["text"] if long_form else post.get("text")), entities.get("urls")
    )
    return SocialMessage(
        channel=CHANNEL,
        account_id=account_id,
        id=post_id,
        kind=MessageKind.REPLY if in_reply_to and kind is MessageKind.REPLY else kind,
        author=SocialUser(author_id, screen_name, f.optional_text(user.get("name")), f.followers(user)),
        text=body_text,
        created_at=f.v2_time(post.get("created_at")),
        thread_key=thread_key,
        in_reply_to=in_reply_to,
        mentions_brand=account_id in mentions or post.get("in_reply_to_user_id") == account_id,
        media=xm.v2_media(post, includes or {}, post_url),
        links=links,
    )


# -- shared -----------------------------------------------------------------------------------------
def dm_event(event: Any, account_id: str, users: Mapping[str, Any], v2_users: bool) -> SocialMessage | str:
    """A DM event in the Account Activity shape (`message_create`, which the X Activity API kept), with
    `users` keyed by id (`v2_users`: each wrapped in `data`); the brand's own DMs are "echo"."""
    if not isinstance(event, dict):
        raise MalformedRequest("items must be objects")
    if event.get("type") != "message_create":
        return "ignored_type"
    create = event.get("message_create")
    if not isinstance(create, dict):
        raise MalformedRequest("message_create event without message_create object")
    sender = f.required_id(create.get("sender_id"), "message_create.sender_id")
    event_id = f.required_id(event.get("id"), "direct_message_events.id")
    if sender == account_id:
        return "echo"
    raw_user = f.obj(users.get(sender))
    user = f.obj(raw_user.get("data")) if v2_users else raw_user
    message_data = f.obj(create.get("message_data"))
    message_text = message_data.get("text")
    if not isinstance(message_text, str):
        raise MalformedRequest("message_create without message_data.text")
    body_text, links = xm.expand_links(
        f.text(message_text), f.obj(message_data.get("entities")).get("urls"), xm.dm_media_links(message_data)
    )
    return SocialMessage(
        channel=CHANNEL,
        account_id=account_id,
        id=event_id,
        kind=MessageKind.DM,
        author=SocialUser(
            sender,
            f.optional_text(user.get("screen_name") or user.get("username")),
            f.optional_text(user.get("name")),
            f.followers(user),
        ),
        text=body_text,
        created_at=f.epoch_ms(event.get("created_timestamp")),
        thread_key=dm_thread_key(account_id, sender),
        mentions_brand=True,
        media=xm.dm_media(message_data),
        links=links,
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


@functools.cache
def _event_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / "event.schema.json").read_text(encoding="utf-8"))
    return schema


@functools.cache
def _event_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(_event_schema())


@functools.cache
def fits_event_schema() -> Callable[[Any], Any]:
    """The event schema compiled to Python: ~4 µs a message where jsonschema takes ~100 µs, on every
    inbound request. The keywords the schema uses (type, enum, pattern, properties, required,
    additionalProperties, items, maxItems, maxLength, minimum) mean the same in fastjsonschema's draft 7
    as in 2020-12, and both libraries match patterns with Python's `re`; a test holds them equal."""
    return fastjsonschema.compile(_event_schema())


def check_message(message: SocialMessage) -> None:
    """Refuse a message that `schemas/event.schema.json` does not describe: it would fail later, forever."""
    document = message.to_json()
    try:
        fits_event_schema()(document)
        return
    except fastjsonschema.JsonSchemaException as refused:
        named = str(getattr(refused, "name", None) or "data")  # "data.account_id"
        compiled_where = named.removeprefix("data").lstrip(".").replace(".", "/") or "message"
    # jsonschema says where, in its words; where it sees nothing wrong (its `$` lets a trailing newline
    # through a pattern, which ECMA-262 and the compiled check do not), the compiled check's word stands.
    error = jsonschema.exceptions.best_match(_event_validator().iter_errors(document))
    where = ("/".join(map(str, error.absolute_path)) or "message") if error is not None else compiled_where
    raise MalformedRequest(f"{where} does not fit the normalised event schema")
