"""One reply, one post: each write to X is announced in the store before it is sent.

    effect recorded?  ── yes ─▶ done, nothing sent
          │ no
    intent recorded?  ── yes ─▶ wait, read X back (billed) ─┬─ found ─▶ record it: done, nothing sent
          │ no                                             ├─ not found after a duplicate refusal ─▶ read
          │                                                │  again later (bounded, then the agent is told)
          │                                                └─ not found: it never happened
          ▼
    prepare (upload the reply's image, if any)
          ▼
    record intent ─▶ send ─┬─ answer ─▶ record the id, drop the intent
                           ├─ 403 duplicate content ─▶ read back ─┬─ found ─▶ record it
                           │        an earlier attempt may have posted ─┴─ not found ─▶ read again later
                           │        no earlier attempt, not found ─▶ PermanentError (a genuine duplicate)
                           ├─ refused (4xx, 429) or never sent (no connection) ─▶ drop the intent, raise
                           └─ lost (timeout, reset, 5xx, crash) ─▶ intent stays for the retry

A lost answer is thus never followed by a blind second send, and reads are made only after one.
Timing: X may apply a write up to the moment our request gives up, and shows it to readers only some
seconds later; so a lost answer stamps the intent when the attempt ENDS, and the read-back waits
`READ_BACK_AFTER` from then. (A crashed attempt has no end stamp, but its job waits out its lease,
far longer than a request's timeout, before another worker runs it.) A read that misses lets a post be
sent again: X's duplicate check stops it if the first one was live after all, and then X is read
back `DUPLICATE_READ_BACKS` more times, spaced out, before the agent is told; the intent is kept, so
the agent reads that the reply may be on X, never that it was not posted.
`prepare` (uploading the reply's image) runs only when a send follows, before the intent: it makes
nothing the customer sees, and a retry prepares again rather than reuse what may have expired. What it
says the write carries (the image's fate) is kept in the intent, then with the result, for the note.
The text is never altered to get past X's duplicate check: a genuine duplicate goes to the agent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sav_bridge.channels.x.readback import match_digest
from sav_bridge.errors import PermanentError, RetryableError
from sav_bridge.http import NotSent
from sav_bridge.lease import fence
from sav_bridge.store import Intent, Store

#: X may take a few seconds to show a new post or DM to readers; a read sooner could miss it.
READ_BACK_AFTER = 10.0
#: Margin for the difference between our clock and X's when reading back from an intent's time.
CLOCK_SKEW = 120.0
#: Read-backs after X refused a resend as a duplicate of what may be our own lost write, each three
#: times further off than the one before (10 s, 30 s, 90 s), before the agent is told.
DUPLICATE_READ_BACKS = 3
#: Statuses after which X has certainly not acted on a write.
REFUSED_STATUS = frozenset({429})
DUPLICATE_DETAIL = "duplicate content"

#: (target, match digest, since epoch) → the id of the matching write on X, or None.
Find = Callable[[str, str, float], Awaitable[str | None]]
#: What a write carries besides its text (its image's fate), as `Write.prepare` says; JSON.
Carried = dict[str, Any]


@dataclass(frozen=True)
class Write:
    """One post or DM: `key` names its result in the store, `target` is the post it answers or the
    DM's participant, `send` makes it and returns its id, `find` looks for it on X, `prepare` readies
    what it carries (its image) just before it is sent."""

    key: str
    target: str
    text: str
    send: Callable[[], Awaitable[str]]
    find: Find
    what: str = "reply"
    prepare: Callable[[], Awaitable[Carried]] | None = None


@dataclass(frozen=True)
class Written:
    """A write done on X: its id, and what the attempt that made it carried (`Write.prepare`)."""

    id: str
    carried: Carried = field(default_factory=dict)


def read_back_delay(misses: int) -> float:
    """How long after an attempt's end, or a read that missed, X is read (back) again."""
    return READ_BACK_AFTER * 3.0 ** max(misses - 1, 0)


async def write_once(store: Store, write: Write) -> Written:
    """Make `write` happen at most once, whatever failed before; return it as done on X."""
    done = await store.effect(write.key)
    if done is not None:
        return _written(done)
    earlier = await store.intent(write.key)
    if earlier is not None:
        found = await _read_back(store, write, earlier)
        if found is not None:
            return found
    carried = await write.prepare() if write.prepare is not None else {}
    digest = match_digest(write.text)
    exact = hashlib.sha256(write.text.encode()).hexdigest()
    intent = await store.record_intent(write.key, write.target, exact, digest, carried or None, fence())
    try:
        sent = await write.send()
    except PermanentError as exc:
        if exc.status != 403 or DUPLICATE_DETAIL not in exc.detail.lower():
            await store.drop_intent(write.key)
            raise
        found_id = await write.find(write.target, digest, intent.first_at - CLOCK_SKEW)
        if found_id is not None:
            return await _complete(store, earlier or intent, found_id)
        if earlier is None:  # no attempt of ours can be what X saw: a genuine duplicate
            await store.drop_intent(write.key)
            raise PermanentError(
                "x",
                f"X refused this {write.what} as a duplicate of an earlier post of the brand, and it is not "
                "among the brand's answers in this conversation; X never accepts the same text twice, "
                "so reword it",
                403,
            ) from exc
        await store.mark_intent(write.key, 1, duplicate=True)
        raise RetryableError(
            "x",
            f"X refused this {write.what} as a duplicate, perhaps of its own earlier attempt that X does "
            "not show yet; reading X back again",
            None,
            read_back_delay(1),
        ) from exc
    except RetryableError as exc:
        if exc.status in REFUSED_STATUS or isinstance(exc, NotSent):
            await store.drop_intent(write.key)  # X certainly did nothing: the retry need not read back
        else:
            await store.mark_intent(write.key)  # the read-back waits from now, when the answer was lost
        raise
    return await _complete(store, intent, sent)


async def _read_back(store: Store, write: Write, intent: Intent) -> Written | None:
    """Look on X for the write an earlier attempt may have made; None when it certainly did not."""
    wait = intent.at + read_back_delay(intent.misses) - store.clock()
    if wait > 0:
        raise RetryableError("x", f"{write.what} may have been sent; reading it back soon", None, wait)
    try:
        found = await write.find(intent.target, intent.match_sha256, intent.first_at - CLOCK_SKEW)
    except PermanentError as exc:
        raise PermanentError(
            "x", f"X's answer to this {write.what} was lost and reading X back failed ({exc.detail})"
        ) from exc
    if found is not None:
        return await _complete(store, intent, found)
    if not intent.duplicate:
        return None
    misses = intent.misses + 1
    if misses > DUPLICATE_READ_BACKS:
        # The intent stays: what X saw may be our own earlier attempt, so the agent is told to look.
        raise PermanentError(
            "x",
            f"X refused this {write.what} as a duplicate of an earlier post of the brand, and after "
            f"{misses} reads it is still not among the brand's answers in this conversation",
            403,
        )
    await store.mark_intent(write.key, misses, duplicate=True)
    raise RetryableError(
        "x",
        f"X refused this {write.what} as a duplicate and does not show it yet",
        None,
        read_back_delay(misses),
    )


async def _complete(store: Store, intent: Intent, remote_id: str) -> Written:
    """Record the write's id with what its attempt carried; an earlier record wins."""
    value: Any = {"id": remote_id, "carried": intent.carried} if intent.carried else remote_id
    return _written(await store.complete_intent(intent.key, value))


def _written(value: Any) -> Written:
    """A recorded result: an id alone (a write that carried nothing, or one recorded before
    `carried` was kept), or the id with what it carried."""
    if isinstance(value, dict):
        return Written(str(value["id"]), dict(value.get("carried") or {}))
    return Written(str(value))
